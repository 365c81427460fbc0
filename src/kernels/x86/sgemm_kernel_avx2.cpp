// The SGEMM micro-kernels for AVX2 + FMA. 6x16: 12 ymm accumulators (6 rows x
// 2 vectors of 8 columns); per k, 2 loads of B and 6 broadcasts of A feed 12
// FMAs. Zen 3 / Haswell issue 2 FMAs per cycle with 4-5 cycles latency, so 12
// independent chains keep both units busy. 6x8 is the same on the first 8
// columns of a packed panel, for a last panel of at most 8 columns (N = 49).
#include <immintrin.h>

#include "kernels/sgemm_internal.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

using avx2::Fused;

// The tile's epilogue parameters, copied out of SgemmTileStore: the stores to
// C may alias anything, so values read through the reference would be
// reloaded after every store.
struct TileEpilogue {
  __m256 alpha;
  bool scale, loadC, finish;
  SgemmBias bias;
  const float* biasValues;
  ActivationParams activation;
  int64_t rows;
  __m256 colBias0, colBias1;
};

// alpha * acc (+ c), then on the last K block + bias and the activation.
template <int NV, Fused F>
[[gnu::always_inline]] inline void storeRow(const TileEpilogue& e, int64_t row, __m256 acc0, __m256 acc1, float* c) {
  __m256 v0 = acc0, v1 = acc1;
  if (e.scale) {
    v0 = _mm256_mul_ps(v0, e.alpha);
    if (NV == 2) v1 = _mm256_mul_ps(v1, e.alpha);
  }
  if (e.loadC) {
    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
    if (NV == 2) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
  }
  if (e.finish) {
    __m256 bias0 = e.colBias0, bias1 = e.colBias1;
    if (e.bias == SgemmBias::kPerRow) bias0 = bias1 = _mm256_broadcast_ss(e.biasValues + row);
    v0 = avx2::activateAs<F>(e.activation, _mm256_add_ps(v0, bias0));
    if (NV == 2) v1 = avx2::activateAs<F>(e.activation, _mm256_add_ps(v1, bias1));
  }
  _mm256_storeu_ps(c, v0);
  if (NV == 2) _mm256_storeu_ps(c + 8, v1);
}

// The first min(e.rows, MR) rows of the tile (a short last row panel has fewer).
template <int NV, Fused F>
[[gnu::always_inline]] inline void storeTile(const TileEpilogue& e, const __m256 (&acc)[kSgemmMR][2], float* c,
                                             int64_t ldc) {
  storeRow<NV, F>(e, 0, acc[0][0], acc[0][1], c);
#pragma GCC unroll 6
  for (int r = 1; r < kSgemmMR; ++r)
    if (r < e.rows) storeRow<NV, F>(e, r, acc[r][0], acc[r][1], c + r * ldc);
}

// NV vectors of 8 columns (2: the whole 16-wide panel, 1: its first 8
// columns), for every row panel of the tile against one B panel: the setup
// and the choice of activation are paid once per call, not once per panel.
template <int NV, Fused F>
[[gnu::always_inline]] inline void panels6xN(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                             TileEpilogue e, int64_t rows) {
  for (int64_t row = 0; row < rows; row += kSgemmMR, c += kSgemmMR * ldc) {
    const float* bk = b;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#define PETREL_SGEMM_ROW(r, acc0, acc1)                        \
  {                                                            \
    const __m256 av = _mm256_broadcast_ss(a + (r));            \
    acc0 = _mm256_fmadd_ps(av, b0, acc0);                      \
    if (NV == 2) acc1 = _mm256_fmadd_ps(av, b1, acc1);         \
  }
#define PETREL_SGEMM_STEP                                      \
  {                                                            \
    const __m256 b0 = _mm256_loadu_ps(bk);                     \
    const __m256 b1 = NV == 2 ? _mm256_loadu_ps(bk + 8) : b0;  \
    PETREL_SGEMM_ROW(0, c00, c01)                              \
    PETREL_SGEMM_ROW(1, c10, c11)                              \
    PETREL_SGEMM_ROW(2, c20, c21)                              \
    PETREL_SGEMM_ROW(3, c30, c31)                              \
    PETREL_SGEMM_ROW(4, c40, c41)                              \
    PETREL_SGEMM_ROW(5, c50, c51)                              \
    a += kSgemmMR;                                             \
    bk += kSgemmNR;                                            \
  }

    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      _mm_prefetch(reinterpret_cast<const char*>(bk + 8 * kSgemmNR), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bk + 9 * kSgemmNR), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bk + 10 * kSgemmNR), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bk + 11 * kSgemmNR), _MM_HINT_T0);
      PETREL_SGEMM_STEP
      PETREL_SGEMM_STEP
      PETREL_SGEMM_STEP
      PETREL_SGEMM_STEP
    }
    for (; k < kc; ++k) PETREL_SGEMM_STEP
#undef PETREL_SGEMM_STEP
#undef PETREL_SGEMM_ROW

    // a now points at the next row panel (panels are back to back).
    e.rows = rows - row;
    const __m256 acc[kSgemmMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    storeTile<NV, F>(e, acc, c, ldc);
    if (e.bias == SgemmBias::kPerRow) e.biasValues += kSgemmMR;
  }
}

template <int NV>
inline void kernel6xN(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                      const SgemmTileStore& store) {
  TileEpilogue e;
  e.alpha = _mm256_set1_ps(store.alpha);
  e.scale = store.alpha != 1.0f;
  e.loadC = store.loadC;
  e.finish = store.finish;
  e.bias = store.bias;
  e.biasValues = store.biasValues;
  e.activation = store.activation;
  e.rows = store.rows;
  e.colBias0 = e.colBias1 = _mm256_setzero_ps();
  if (store.finish && store.bias == SgemmBias::kPerColumn) {
    e.colBias0 = _mm256_loadu_ps(store.biasValues);
    if (NV == 2) e.colBias1 = _mm256_loadu_ps(store.biasValues + 8);
  }
  avx2::withFused(e.finish ? e.activation.kind : Activation::kNone, [&](auto fused) {
    panels6xN<NV, decltype(fused)::value>(kc, a, b, c, ldc, e, store.rows);
  });
}

}  // namespace

void sgemmKernel6x16Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                         const SgemmTileStore& store) {
  kernel6xN<2>(kc, a, b, c, ldc, store);
}

void sgemmKernel6x8Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                        const SgemmTileStore& store) {
  kernel6xN<1>(kc, a, b, c, ldc, store);
}

}  // namespace petrel
