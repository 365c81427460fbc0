// The SGEMM micro-kernels for AVX2 + FMA. 6x16: 12 ymm accumulators (6 rows x
// 2 vectors of 8 columns); per k, 2 loads of B and 6 broadcasts of A feed 12
// FMAs. Zen 3 / Haswell issue 2 FMAs per cycle with 4-5 cycles latency, so 12
// independent chains keep both units busy. 6x8 is the same on the first 8
// columns of a packed panel, for a last panel of at most 8 columns (N = 49).
// A last row panel of 1 to 3 rows keeps 12 chains by splitting K instead;
// one of 4 rows runs 8 chains rather than 12 FMAs for 4 rows' worth.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/int_math.h"
#include "kernels/sgemm_internal.h"
#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

using avx2::Fused;

// How far ahead (in floats of packed A) the micro-kernel prefetches A: 4 KB,
// a few hundred k steps. When C has few columns (N = 49: ResNet's last stage)
// each A block serves only 3-4 B panels, so its first sweep reads weights
// straight from memory; the hardware prefetcher alone left it waiting.
// n49 experiment (weights from DRAM, min of 6): 512x49x4608 2.80 -> 2.72 ms,
// 2048x49x512 1.25 -> 1.20 ms; 1000x169x512, 64x3136x256 and ViT's
// 197x3072x768 unchanged.
constexpr int64_t kPrefetchAheadA = 1024;

// The tile's epilogue parameters, copied out of SgemmTileStore after the K
// loop: the stores to C may alias anything, so values read through the
// reference would be reloaded after every store. No vector lives here: one
// held across the K loop would push an accumulator out of the 16 registers.
struct TileEpilogue {
  float alpha;
  bool loadC, finish;
  SgemmBias bias;
  const float* biasValues;  // from row 0 of this panel (per row) or column 0 (per column)
  ActivationParams activation;
  int64_t rows;  // of this panel; more than MR means all MR
};

// The epilogue of the row panel `rowOffset` rows into the tile.
[[gnu::always_inline]] inline TileEpilogue tileEpilogue(const SgemmTileStore& store, int64_t rowOffset) {
  TileEpilogue e;
  e.alpha = store.alpha;
  e.loadC = store.loadC;
  e.finish = store.finish;
  e.bias = store.bias;
  e.biasValues = store.biasValues + (store.bias == SgemmBias::kPerRow ? rowOffset : 0);
  e.activation = store.activation;
  e.rows = store.rows - rowOffset;
  return e;
}

// alpha * acc (+ c), then on the last K block + bias and the activation.
template <int NV, Fused F>
[[gnu::always_inline]] inline void storeRow(const TileEpilogue& e, int64_t row, __m256 acc0, __m256 acc1, float* c) {
  __m256 v0 = acc0, v1 = acc1;
  if (e.alpha != 1.0f) {
    v0 = _mm256_mul_ps(v0, _mm256_set1_ps(e.alpha));
    if (NV == 2) v1 = _mm256_mul_ps(v1, _mm256_set1_ps(e.alpha));
  }
  if (e.loadC) {
    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
    if (NV == 2) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
  }
  if (e.finish) {
    if (e.bias == SgemmBias::kPerRow) {
      v0 = _mm256_add_ps(v0, _mm256_broadcast_ss(e.biasValues + row));
      if (NV == 2) v1 = _mm256_add_ps(v1, _mm256_broadcast_ss(e.biasValues + row));
    } else if (e.bias == SgemmBias::kPerColumn) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(e.biasValues));
      if (NV == 2) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(e.biasValues + 8));
    }
    v0 = avx2::activateAs<F>(e.activation, v0);
    if (NV == 2) v1 = avx2::activateAs<F>(e.activation, v1);
  }
  _mm256_storeu_ps(c, v0);
  if (NV == 2) _mm256_storeu_ps(c + 8, v1);
}

// One k step of the 6 x (8 * NV) tile: NV loads of B, 6 broadcasts of A,
// 6 * NV FMAs. In assembly so that the accumulators are pinned to registers:
// GCC, left to itself, hoists or interleaves loads until it spills an
// accumulator inside the loop (seen with the ReLU and Clip epilogues, where
// the kernel fell from ~85 to ~62 GFLOP/s at K = 256). B goes in ymm14/15,
// the broadcast in ymm13, so the 12 accumulators take the other 13 registers.
template <int NV>
[[gnu::always_inline]] inline void kStep(const float* a, const float* b, __m256& c00, __m256& c01, __m256& c10,
                                         __m256& c11, __m256& c20, __m256& c21, __m256& c30, __m256& c31, __m256& c40,
                                         __m256& c41, __m256& c50, __m256& c51) {
  if constexpr (NV == 2) {
    asm("vmovups (%[b]), %%ymm14\n\t"
        "vmovups 32(%[b]), %%ymm15\n\t"
        "vbroadcastss 0(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c00]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c01]\n\t"
        "vbroadcastss 4(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c10]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c11]\n\t"
        "vbroadcastss 8(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c20]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c21]\n\t"
        "vbroadcastss 12(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c30]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c31]\n\t"
        "vbroadcastss 16(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c40]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c41]\n\t"
        "vbroadcastss 20(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c50]\n\t"
        "vfmadd231ps %%ymm15, %%ymm13, %[c51]"
        : [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21),
          [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
        : [a] "r"(a), [b] "r"(b), "m"(*reinterpret_cast<const float(*)[kSgemmMR]>(a)),
          "m"(*reinterpret_cast<const float(*)[kSgemmNR]>(b))
        : "xmm13", "xmm14", "xmm15");
  } else {
    asm("vmovups (%[b]), %%ymm14\n\t"
        "vbroadcastss 0(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c00]\n\t"
        "vbroadcastss 4(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c10]\n\t"
        "vbroadcastss 8(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c20]\n\t"
        "vbroadcastss 12(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c30]\n\t"
        "vbroadcastss 16(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c40]\n\t"
        "vbroadcastss 20(%[a]), %%ymm13\n\t"
        "vfmadd231ps %%ymm14, %%ymm13, %[c50]"
        : [c00] "+x"(c00), [c10] "+x"(c10), [c20] "+x"(c20), [c30] "+x"(c30), [c40] "+x"(c40), [c50] "+x"(c50)
        : [a] "r"(a), [b] "r"(b), "m"(*reinterpret_cast<const float(*)[kSgemmMR]>(a)),
          "m"(*reinterpret_cast<const float(*)[kSgemmNR / 2]>(b))
        : "xmm13", "xmm14");
  }
}

// Where the micro-kernel finds B's row k (16 floats): a packed panel, or
// rows read in place (sgemmKernel6x16RowsAvx2).
struct PackedPanel {
  const float* b;
  const float* row(int64_t k) const { return b + k * kSgemmNR; }
};
struct StridedRows {
  const float* b;
  int64_t ld;
  const float* row(int64_t k) const { return b + k * ld; }
};
struct RowPointers {
  const float* const* rows;
  int64_t offset;
  const float* row(int64_t k) const { return rows[k] + offset; }
};

// Software prefetch of B for the k steps [k, k + Steps) of a row panel.
//  - A packed panel streams: fetch 8 rows ahead.
//  - B read in place: its rows lie far apart, K streams at once, which the
//    hardware prefetcher does not follow, so the first row panel of the sweep
//    fetches the next column panel's line of each row (the others find this
//    panel's lines in L1). mobilenet_v2's features.1 projection (16x12544x32)
//    in the model, 6 alternating runs: 0.44-0.58 -> 0.30-0.43 ms. In every
//    row panel instead of the first: up to 10% slower (32x784x192).
template <int Steps, class B>
[[gnu::always_inline]] inline void prefetchRhs(B b, int64_t k, int64_t rowOffset) {
  if constexpr (std::is_same_v<B, PackedPanel>) {
#pragma GCC unroll 8
    for (int step = 0; step < Steps; ++step)
      _mm_prefetch(reinterpret_cast<const char*>(b.row(k + 8 + step)), _MM_HINT_T0);
  } else if constexpr (std::is_same_v<B, StridedRows>) {
    if (rowOffset == 0)
#pragma GCC unroll 8
      for (int step = 0; step < Steps; ++step)
        _mm_prefetch(reinterpret_cast<const char*>(b.row(k + step) + kSgemmNR), _MM_HINT_T0);
  }
}

// Fetches the `rows` rows of a tile of C that the epilogue will add to (a
// K block after the first). A C tile of a few hundred rows by 256 columns
// outgrows L2 between its K blocks, and 12 misses at the end of every call
// stall the kernel; issued before the K loop, they arrive during it.
// Alternating calls (ab5 harness): 1024x1024x1024 0.925-0.981, 512^3
// 0.97-1.0; K <= 256 (one block, no loads of C) unchanged. Fetching C for
// the first block too (to be written only) cost 3% on 96x12544x16.
template <int NV>
[[gnu::always_inline]] inline void prefetchTile(const float* c, int64_t ldc, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 8 * NV - 1), _MM_HINT_T0);  // a row may span 2 lines
  }
}

// With B read in place, fetches the lines of the next column panel's tile of
// C (the NR floats after this tile in each of its rows) while this one
// computes, when C is only written (its first K block): there the stores to
// C stalled. mobilenet_v2's features.1 projection (16x12544x32) in the
// model, min of 4 alternating rounds: 0.388 -> 0.239 ms at 1 thread, 0.163
// -> 0.125 at 2; SqueezeNet's 16x3025x128 squeeze 0.119 -> 0.107. Two panels
// ahead was no better; doing it for a packed B as well made mobilenet_v2
// slower (sum of its nodes 8.06 -> 8.20 ms), and PREFETCHW instead of T0
// showed no difference beyond the noise.
template <class B>
[[gnu::always_inline]] inline void prefetchNextTile(const float* c, int64_t ldc, int64_t rows,
                                                    const SgemmTileStore& store) {
  if constexpr (std::is_same_v<B, StridedRows>) {
    if (!store.loadC)
      for (int64_t r = 0; r < rows; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + kSgemmNR), _MM_HINT_T0);
  }
}

// Fetches share `index` of store.nextRhsPanel's kc lines (one per k), each
// `share` lines, into L2: spread over the row panels of a sweep, the next B
// panel arrives while this one is used. Into L1 (T0) it was slower, and two
// panels ahead no better.
[[gnu::always_inline]] inline void prefetchNextPanelShare(const SgemmTileStore& store, int64_t kc, int64_t share,
                                                          int64_t index) {
  const int64_t first = index * share;
  for (int64_t line = first; line < std::min(first + share, kc); ++line)
    _mm_prefetch(reinterpret_cast<const char*>(store.nextRhsPanel + line * kSgemmNR), _MM_HINT_T1);
}

// NV vectors of 8 columns (2: the whole 16-wide panel, 1: its first 8
// columns) of one row panel. Out of line: the caller's loop over row panels
// keeps its values out of this function's registers.
template <int NV, Fused F, class B>
[[gnu::noinline]] void panel6xN(int64_t kc, const float* a, B b, float* c, int64_t ldc, const SgemmTileStore& store,
                                int64_t rowOffset) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

  const int64_t rows = std::min<int64_t>(kSgemmMR, store.rows - rowOffset);
  if (store.loadC) prefetchTile<NV>(c, ldc, rows);
  prefetchNextTile<B>(c, ldc, rows, store);
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    prefetchRhs<4>(b, k, rowOffset);
    // 4 k steps read 24 floats of A: two lines ahead cover them.
    _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchAheadA), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchAheadA + 16), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int step = 0; step < 4; ++step, a += kSgemmMR)
      kStep<NV>(a, b.row(k + step), c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
  }
  for (; k < kc; ++k, a += kSgemmMR) kStep<NV>(a, b.row(k), c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);

  const TileEpilogue e = tileEpilogue(store, rowOffset);
  const __m256 acc[kSgemmMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  storeRow<NV, F>(e, 0, acc[0][0], acc[0][1], c);
#pragma GCC unroll 6
  for (int r = 1; r < kSgemmMR; ++r)
    if (r < e.rows) storeRow<NV, F>(e, r, acc[r][0], acc[r][1], c + r * ldc);
}

// A row panel of only R rows (1 to 4; a linear layer at batch 1 or 2) the
// same way with R x NV accumulators per chain and 6 / R chains, each over
// every (6 / R)-th k, summed at the end: the 6-row panel would spend 6 / R
// times the FMAs (linear 1x1000x1024, weights in L3: 0.16 ms, 13 GFLOP/s).
// At R = 4 (M = 16 is 6 + 6 + 4 rows) one chain of 8 accumulators still
// fills both FMA units: kernels_bench, min of 5 alternating rounds (ms),
// 16x12544x32 0.154 -> 0.144, 16x3025x128 0.147 -> 0.138.
template <int R, int NV, Fused F, class B>
[[gnu::noinline]] void panelFewRows(int64_t kc, const float* a, B b, float* c, int64_t ldc,
                                    const SgemmTileStore& store, int64_t rowOffset) {
  constexpr int kChains = kSgemmMR / R;
  constexpr int kSteps = kSgemmMR;  // per iteration: a multiple of every chain count
  __m256 acc[kChains][R][NV];
#pragma GCC unroll 6
  for (int h = 0; h < kChains; ++h)
#pragma GCC unroll 3
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[h][r][v] = _mm256_setzero_ps();

  auto step = [&](int h, int64_t k) {
    const float* bk = b.row(k);
    const float* ak = a + k * kSgemmMR;
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(bk + 8 * v);
#pragma GCC unroll 3
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(ak + r);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[h][r][v] = _mm256_fmadd_ps(av, bv[v], acc[h][r][v]);
    }
  };
  prefetchNextTile<B>(c, ldc, R, store);
  int64_t k = 0;
  for (; k + kSteps <= kc; k += kSteps) {
    prefetchRhs<kSteps>(b, k, rowOffset);
#pragma GCC unroll 6
    for (int s = 0; s < kSteps; ++s) step(s % kChains, k + s);
  }
  for (; k < kc; ++k) step(0, k);

  const TileEpilogue e = tileEpilogue(store, rowOffset);
#pragma GCC unroll 3
  for (int r = 0; r < R; ++r) {
    __m256 sum[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      sum[v] = acc[0][r][v];
#pragma GCC unroll 6
      for (int h = 1; h < kChains; ++h) sum[v] = _mm256_add_ps(sum[v], acc[h][r][v]);
    }
    storeRow<NV, F>(e, r, sum[0], sum[NV - 1], c + r * ldc);
  }
}

// Every row panel of the tile against one B panel; the activation is chosen
// once per call.
template <int NV, class B>
inline void kernel6xN(int64_t kc, const float* a, B b, float* c, int64_t ldc, const SgemmTileStore& store) {
  const int64_t rows = store.rows;
  avx2::withFused(store.finish ? store.activation.kind : Activation::kNone, [&](auto fused) {
    constexpr Fused F = decltype(fused)::value;
    const int64_t share = store.nextRhsPanel ? ceilDiv(kc, ceilDiv(rows, kSgemmMR)) : 0;  // lines per row panel
    for (int64_t row = 0; row < rows; row += kSgemmMR) {
      if (share > 0) prefetchNextPanelShare(store, kc, share, row / kSgemmMR);
      const float* panelA = a + row * kc;
      float* panelC = c + row * ldc;
      switch (rows - row) {
        case 1: panelFewRows<1, NV, F>(kc, panelA, b, panelC, ldc, store, row); break;
        case 2: panelFewRows<2, NV, F>(kc, panelA, b, panelC, ldc, store, row); break;
        case 3: panelFewRows<3, NV, F>(kc, panelA, b, panelC, ldc, store, row); break;
        case 4: panelFewRows<4, NV, F>(kc, panelA, b, panelC, ldc, store, row); break;
        default: panel6xN<NV, F>(kc, panelA, b, panelC, ldc, store, row); break;
      }
    }
  });
}

// The first W columns of B times P row panels (their packed A panels
// panelStride floats apart): the 6 A values of one k are one vector (lanes
// 6, 7 unused), times B broadcast per column, into kChains accumulators per
// panel and column so that FMAs do not wait on each other; sum[p][j] is
// their total.
template <int W, int P>
[[gnu::always_inline]] inline void columnSums(int64_t kc, const float* a, int64_t panelStride, const float* b,
                                              int64_t ldb, __m256 (&sum)[P][W]) {
  constexpr int kChains = W * P <= 2 ? 4 : 2;
  __m256 acc[P][W][kChains];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j)
#pragma GCC unroll 4
      for (int h = 0; h < kChains; ++h) acc[p][j][h] = _mm256_setzero_ps();
  // A whole-vector load of k's values reads 2 floats of k + 1: all but the
  // last k.
  int64_t k = 0;
  for (; k + kChains < kc; k += kChains)
#pragma GCC unroll 4
    for (int h = 0; h < kChains; ++h) {
      __m256 av[P];
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) av[p] = _mm256_loadu_ps(a + p * panelStride + (k + h) * kSgemmMR);
#pragma GCC unroll 4
      for (int j = 0; j < W; ++j) {
        const __m256 bv = _mm256_broadcast_ss(b + (k + h) * ldb + j);
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) acc[p][j][h] = _mm256_fmadd_ps(av[p], bv, acc[p][j][h]);
      }
    }
  const __m256i panelRows = avx2::firstLanes(kSgemmMR);
  for (; k < kc; ++k) {
    __m256 av[P];
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const float* ak = a + p * panelStride + k * kSgemmMR;
      av[p] = k + 1 < kc ? _mm256_loadu_ps(ak) : _mm256_maskload_ps(ak, panelRows);
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
      const __m256 bv = _mm256_broadcast_ss(b + k * ldb + j);
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) acc[p][j][0] = _mm256_fmadd_ps(av[p], bv, acc[p][j][0]);
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
      sum[p][j] = acc[p][j][0];
#pragma GCC unroll 4
      for (int h = 1; h < kChains; ++h) sum[p][j] = _mm256_add_ps(sum[p][j], acc[p][j][h]);
    }
}

// Writes the W column sums of the row panel at `row` (lane r of column j's
// vector is C(row + r, j)) through the epilogue, via a small array to and
// from C.
template <int W, Fused F>
[[gnu::always_inline]] inline void storeColumns(const __m256 (&sum)[W], float* c, int64_t ldc,
                                                const SgemmTileStore& store, int64_t row) {
  const int64_t rows = std::min<int64_t>(kSgemmMR, store.rows - row);
  const __m256i rowLanes = avx2::firstLanes(rows);
#pragma GCC unroll 4
  for (int j = 0; j < W; ++j) {
    __m256 v = sum[j];
    if (store.alpha != 1.0f) v = _mm256_mul_ps(v, _mm256_set1_ps(store.alpha));
    alignas(32) float lanes[8] = {};
    if (store.loadC) {
      for (int64_t r = 0; r < rows; ++r) lanes[r] = c[r * ldc + j];
      v = _mm256_add_ps(v, _mm256_load_ps(lanes));
    }
    if (store.finish) {
      if (store.bias == SgemmBias::kPerRow) v = _mm256_add_ps(v, _mm256_maskload_ps(store.biasValues + row, rowLanes));
      if (store.bias == SgemmBias::kPerColumn) v = _mm256_add_ps(v, _mm256_broadcast_ss(store.biasValues + j));
      v = avx2::activateAs<F>(store.activation, v);
    }
    _mm256_store_ps(lanes, v);
    for (int64_t r = 0; r < rows; ++r) c[r * ldc + j] = lanes[r];
  }
}

// The first W columns of B against every row panel. One column takes four
// row panels at a time, one from each quarter of C's panels: four streams of
// A far apart keep more of it in flight from L3 or memory than neighbouring
// panels, whose reads the prefetcher sees as one short stream (squeeze-
// excitation layers, 331 KB of weights: 0.012 -> 0.007 ms in the model). The
// rest two at a time: with one, its 4 accumulator chains kept only one FMA
// unit busy.
template <int W, Fused F>
void columns(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
             const SgemmTileStore& store) {
  const int64_t panelFloats = kSgemmMR * kc;
  int64_t row = 0;
  if constexpr (W == 1) {
    const int64_t quarter = store.rows / kSgemmMR / 4;  // whole panels per quarter
    for (int64_t i = 0; i < quarter; ++i) {
      __m256 sum[4][1];
      columnSums<1, 4>(kc, a + i * panelFloats, quarter * panelFloats, b, ldb, sum);
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        const int64_t r = (p * quarter + i) * kSgemmMR;
        storeColumns<1, F>(sum[p], c + r * ldc, ldc, store, r);
      }
    }
    row = 4 * quarter * kSgemmMR, a += 4 * quarter * panelFloats, c += row * ldc;
    for (; row + kSgemmMR < store.rows; row += 2 * kSgemmMR, a += 2 * panelFloats, c += 2 * kSgemmMR * ldc) {
      __m256 sum[2][1];
      columnSums<1, 2>(kc, a, panelFloats, b, ldb, sum);
      storeColumns<1, F>(sum[0], c, ldc, store, row);
      storeColumns<1, F>(sum[1], c + kSgemmMR * ldc, ldc, store, row + kSgemmMR);
    }
  }
  for (; row < store.rows; row += kSgemmMR, a += panelFloats, c += kSgemmMR * ldc) {
    __m256 sum[1][W];
    columnSums<W, 1>(kc, a, panelFloats, b, ldb, sum);
    storeColumns<W, F>(sum[0], c, ldc, store, row);
  }
}

template <int W>
void columnsAnyActivation(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                          const SgemmTileStore& store) {
  avx2::withFused(store.finish ? store.activation.kind : Activation::kNone,
                  [&](auto fused) { columns<W, decltype(fused)::value>(kc, a, b, ldb, c, ldc, store); });
}

}  // namespace

void sgemmKernelColumnsAvx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                            const SgemmTileStore& store, int64_t cols) {
  static_assert(kSgemmFewColumns == 4, "one case per width");
  switch (cols) {
    case 1:
      columnsAnyActivation<1>(kc, a, b, ldb, c, ldc, store);
      break;
    case 2:
      columnsAnyActivation<2>(kc, a, b, ldb, c, ldc, store);
      break;
    case 3:
      columnsAnyActivation<3>(kc, a, b, ldb, c, ldc, store);
      break;
    default:
      columnsAnyActivation<4>(kc, a, b, ldb, c, ldc, store);
      break;
  }
}

void sgemmKernel6x16Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                         const SgemmTileStore& store) {
  kernel6xN<2>(kc, a, PackedPanel{b}, c, ldc, store);
}

void sgemmKernel6x8Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                        const SgemmTileStore& store) {
  kernel6xN<1>(kc, a, PackedPanel{b}, c, ldc, store);
}

void sgemmKernel6x16StridedAvx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                const SgemmTileStore& store) {
  kernel6xN<2>(kc, a, StridedRows{b, ldb}, c, ldc, store);
}

void sgemmKernel6x16RowsAvx2(int64_t kc, const float* a, const float* const* bRows, int64_t bOffset, float* c,
                             int64_t ldc, const SgemmTileStore& store) {
  kernel6xN<2>(kc, a, RowPointers{bRows, bOffset}, c, ldc, store);
}

}  // namespace petrel
