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

__attribute__((always_inline)) inline __m256 finishValue(const SgemmTileStore& s, __m256 v, __m256 bias) {
  return avx2::activate(s.activation, _mm256_add_ps(v, bias));
}

// alpha * acc (+ c), then on the last K block + bias and the activation.
template <int NV>
__attribute__((always_inline)) inline void storeRow(const SgemmTileStore& s, int64_t row, __m256 acc0, __m256 acc1,
                                                    float* c, __m256 alpha, __m256 colBias0, __m256 colBias1) {
  __m256 v0 = _mm256_mul_ps(acc0, alpha);
  __m256 v1 = _mm256_mul_ps(acc1, alpha);
  if (s.loadC) {
    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
    if (NV == 2) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
  }
  if (s.finish) {
    __m256 bias0 = colBias0, bias1 = colBias1;
    if (s.bias == SgemmBias::kPerRow) bias0 = bias1 = _mm256_broadcast_ss(s.biasValues + row);
    v0 = finishValue(s, v0, bias0);
    if (NV == 2) v1 = finishValue(s, v1, bias1);
  }
  _mm256_storeu_ps(c, v0);
  if (NV == 2) _mm256_storeu_ps(c + 8, v1);
}

// NV vectors of 8 columns (2: the whole 16-wide panel, 1: its first 8 columns).
template <int NV>
__attribute__((always_inline)) inline void kernel6xN(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc, const SgemmTileStore& store) {
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
    const __m256 b0 = _mm256_loadu_ps(b);                      \
    const __m256 b1 = NV == 2 ? _mm256_loadu_ps(b + 8) : b0;   \
    PETREL_SGEMM_ROW(0, c00, c01)                              \
    PETREL_SGEMM_ROW(1, c10, c11)                              \
    PETREL_SGEMM_ROW(2, c20, c21)                              \
    PETREL_SGEMM_ROW(3, c30, c31)                              \
    PETREL_SGEMM_ROW(4, c40, c41)                              \
    PETREL_SGEMM_ROW(5, c50, c51)                              \
    a += kSgemmMR;                                             \
    b += kSgemmNR;                                             \
  }

  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kSgemmNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 9 * kSgemmNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 10 * kSgemmNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 11 * kSgemmNR), _MM_HINT_T0);
    PETREL_SGEMM_STEP
    PETREL_SGEMM_STEP
    PETREL_SGEMM_STEP
    PETREL_SGEMM_STEP
  }
  for (; k < kc; ++k) PETREL_SGEMM_STEP
#undef PETREL_SGEMM_STEP
#undef PETREL_SGEMM_ROW

  const __m256 alpha = _mm256_set1_ps(store.alpha);
  __m256 colBias0 = _mm256_setzero_ps(), colBias1 = _mm256_setzero_ps();
  if (store.finish && store.bias == SgemmBias::kPerColumn) {
    colBias0 = _mm256_loadu_ps(store.biasValues);
    if (NV == 2) colBias1 = _mm256_loadu_ps(store.biasValues + 8);
  }
  storeRow<NV>(store, 0, c00, c01, c + 0 * ldc, alpha, colBias0, colBias1);
  if (store.rows == kSgemmMR) {
    storeRow<NV>(store, 1, c10, c11, c + 1 * ldc, alpha, colBias0, colBias1);
    storeRow<NV>(store, 2, c20, c21, c + 2 * ldc, alpha, colBias0, colBias1);
    storeRow<NV>(store, 3, c30, c31, c + 3 * ldc, alpha, colBias0, colBias1);
    storeRow<NV>(store, 4, c40, c41, c + 4 * ldc, alpha, colBias0, colBias1);
    storeRow<NV>(store, 5, c50, c51, c + 5 * ldc, alpha, colBias0, colBias1);
    return;
  }
  // A short last row panel: only its rows exist in C.
  if (store.rows > 1) storeRow<NV>(store, 1, c10, c11, c + 1 * ldc, alpha, colBias0, colBias1);
  if (store.rows > 2) storeRow<NV>(store, 2, c20, c21, c + 2 * ldc, alpha, colBias0, colBias1);
  if (store.rows > 3) storeRow<NV>(store, 3, c30, c31, c + 3 * ldc, alpha, colBias0, colBias1);
  if (store.rows > 4) storeRow<NV>(store, 4, c40, c41, c + 4 * ldc, alpha, colBias0, colBias1);
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
