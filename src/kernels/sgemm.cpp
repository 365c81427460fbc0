// SGEMM driver: packing, tiling and threads (see sgemm.h for the method).
#include "kernels/sgemm.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/int_math.h"
#include "kernels/sgemm_internal.h"
#include "kernels/sgemm_pack_im2col.h"
#include "runtime/task_runs.h"
#include "runtime/thread_pool.h"
#include "weights/decode.h"

namespace petrel {

namespace {

constexpr int64_t MR = kSgemmMR;
constexpr int64_t NR = kSgemmNR;
constexpr int64_t KC = kSgemmKC;

}  // namespace

// ---------------------------------------------------------------- packing

void sgemmPackLhs(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  for (int64_t p = 0; p < rows; p += MR, out += MR * kc) {
    const int64_t r = std::min(MR, rows - p);
    if (!a.transposed) {
      const float* src[MR];
      for (int64_t i = 0; i < MR; ++i) src[i] = a.data + (i0 + p + std::min(i, r - 1)) * a.ld + k0;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t i = 0; i < MR; ++i) out[k * MR + i] = i < r ? src[i][k] : 0.0f;
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = a.data + (k0 + k) * a.ld + i0 + p;
        for (int64_t i = 0; i < MR; ++i) out[k * MR + i] = i < r ? src[i] : 0.0f;
      }
    }
  }
}

int64_t sgemmRhsPanelStride(int64_t kc) { return kc * NR + NR; }  // one cache line of padding

void sgemmPackRhs(const SgemmMatrix& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
                  int64_t panelStride) {
  if (panelStride == 0) panelStride = kc * NR;
  const int64_t fullPanels = cols / NR;
  const int64_t tail = cols - fullPanels * NR;
  if (!b.transposed) {
    // Row by row: each source row is read sequentially (prefetch-friendly);
    // its 16-float pieces go to the panels.
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = b.data + (k0 + k) * b.ld + j0;
      // Rows are short (a tile wide) and far apart: fetch a few rows ahead.
      for (int64_t c = 0; c < cols; c += 16) __builtin_prefetch(src + 4 * b.ld + c);
      float* dst = out + k * NR;
      for (int64_t q = 0; q < fullPanels; ++q) std::memcpy(dst + q * panelStride, src + q * NR, NR * sizeof(float));
      if (tail) {
        float* last = dst + fullPanels * panelStride;
        std::memcpy(last, src + fullPanels * NR, tail * sizeof(float));
        std::fill(last + tail, last + NR, 0.0f);
      }
    }
    return;
  }
  // Column j of B is row j of the stored matrix: read it sequentially.
  for (int64_t q = 0; q < cols; q += NR, out += panelStride) {
    const int64_t c = std::min(NR, cols - q);
    for (int64_t j = 0; j < NR; ++j) {
      if (j < c) {
        const float* src = b.data + (j0 + q + j) * b.ld + k0;
        for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = src[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = 0.0f;
      }
    }
  }
}

namespace {

struct PortableRunCopy {
  static void run(float* dst, const float* src, int64_t n, int64_t stride) {
    if (stride == 1) {
      std::memcpy(dst, src, n * sizeof(float));
    } else {
      for (int64_t t = 0; t < n; ++t) dst[t] = src[t * stride];
    }
  }
  static void zero(float* dst, int64_t n) { std::fill(dst, dst + n, 0.0f); }
  static void panelRow(float* dst, const float* src) { std::memcpy(dst, src, kSgemmNR * sizeof(float)); }
};

}  // namespace

void sgemmPackRhsIm2col(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0,
                        int64_t cols, float* out, int64_t panelStride) {
  packRhsIm2colWith<PortableRunCopy>(g, image, k0, kc, j0, cols, out, panelStride);
}

// ------------------------------------------------------- packed operands

int64_t sgemmDepthBlock(int64_t k) { return k <= KC ? std::max<int64_t>(k, 1) : ceilDiv(k, ceilDiv(k, KC)); }

namespace {

// The panels of K block [k0, ...) from panel `panel` on, in a whole-matrix
// packed layout whose other dimension is padded to `padded`.
const float* panelsAt(const float* base, int64_t padded, int64_t depth, int64_t k0, int64_t panel,
                      int64_t panelWidth) {
  const int64_t kc = std::min(sgemmDepthBlock(depth), depth - k0);
  return base + k0 * padded + panel * panelWidth * kc;
}

}  // namespace

SgemmPackedLhs::SgemmPackedLhs(const SgemmMatrix& a, int64_t m, int64_t k)
    : m_(m), k_(k), data_(static_cast<size_t>(roundUp(m, MR) * k)) {
  const int64_t kb = sgemmDepthBlock(k);
  const SgemmLhsPacker pack = sgemmMicroKernels(bestIsa()).packLhs;
  for (int64_t k0 = 0; k0 < k; k0 += kb) pack(a, 0, m, k0, std::min(kb, k - k0), data_.data() + k0 * roundUp(m, MR));
}

SgemmPackedLhs::SgemmPackedLhs(const EncodedMatrixView& w)
    : m_(w.layout.rows), k_(w.layout.depth), data_(static_cast<size_t>(roundUp(m_, MR) * k_)) {
  const int64_t kb = sgemmDepthBlock(k_);
  for (int64_t k0 = 0; k0 < k_; k0 += kb)
    decodePackLhs(w, 0, m_, k0, std::min(kb, k_ - k0), data_.data() + k0 * roundUp(m_, MR));
}

const float* SgemmPackedLhs::panels(int64_t k0, int64_t panel) const {
  return panelsAt(data_.data(), roundUp(m_, MR), k_, k0, panel, MR);
}

SgemmPackedRhs::SgemmPackedRhs(const SgemmMatrix& b, int64_t k, int64_t n)
    : k_(k), n_(n), data_(static_cast<size_t>(roundUp(n, NR) * k)) {
  const int64_t kb = sgemmDepthBlock(k);
  for (int64_t k0 = 0; k0 < k; k0 += kb)
    sgemmPackRhs(b, k0, std::min(kb, k - k0), 0, n, data_.data() + k0 * roundUp(n, NR));
}

SgemmPackedRhs::SgemmPackedRhs(const EncodedMatrixView& w)
    : k_(w.layout.depth), n_(w.layout.rows), data_(static_cast<size_t>(roundUp(n_, NR) * k_)) {
  const int64_t kb = sgemmDepthBlock(k_);
  for (int64_t k0 = 0; k0 < k_; k0 += kb)
    decodePackRhs(w, 0, n_, k0, std::min(kb, k_ - k0), data_.data() + k0 * roundUp(n_, NR));
}

const float* SgemmPackedRhs::panels(int64_t k0, int64_t panel) const {
  return panelsAt(data_.data(), roundUp(n_, NR), k_, k0, panel, NR);
}

SgemmMicroKernels sgemmMicroKernels(Isa isa) {
  if (isa == Isa::kAvx2)
    return {sgemmKernel6x16Avx2,        sgemmKernel6x8Avx2,     sgemmKernelColumnsAvx2,
            sgemmKernel6x16StridedAvx2, sgemmPackRhsIm2colAvx2, sgemmPackLhsAvx2,
            sgemmPackRhsAvx2};
  return {sgemmKernel6x16Scalar, sgemmKernel6x8Scalar, sgemmKernelColumnsScalar, nullptr, sgemmPackRhsIm2col,
          sgemmPackLhs,          sgemmPackRhs};
}

// ---------------------------------------------------------------- driver
//
// A tile of C (up to kTileRows x a few hundred columns) is one task. For each
// K block, the tile's B block is packed (unless B was packed ahead), then the
// tile's rows are walked in A blocks of kLhsBlockRows (packed if A is a
// run-time matrix) that stay in L2; for each B panel (kept in L1) the
// micro-kernel sweeps the A panels of the block (GotoBLAS loop order).

namespace {

constexpr int64_t kTileRows = 1020;        // a tile usually spans all of M: B is packed once
constexpr int64_t kLhsBlockRows = 144;     // A block: 144 x KC floats = 144 KB, stays in L2
// An A packed ahead (weights, or a linear layer's shared activations) costs
// no per-thread scratch, so its blocks may fill more of L2: ViT's 197 tokens
// are one block, and each weight panel streams from memory once per tile, not
// twice. ViT, alternating runs: 1 thread 0.98-1.01, 2 threads 0.92-0.98;
// ResNet-50, MobileNetV2, SqueezeNet 0.97-1.01.
constexpr int64_t kPackedLhsBlockRows = 204;
constexpr int64_t kRunTimeRhsCols = 256;   // B block packed per tile: KC x 256 floats per thread
constexpr int64_t kPackedRhsCols = 512;
// Smallest tiles made when splitting work for threads.
constexpr int64_t kMinTileRows = 24;
constexpr int64_t kMinTileCols = 32;
// An im2col B whose tiles would have to be split by rows to feed the threads
// (small N: late ResNet layers, N = 49), or a run-time A times packed weights
// (a linear layer: ViT's 197 tokens), is packed once per product, in
// parallel, and shared - if it is at most this big.
constexpr int64_t kSharedOperandMaxBytes = 8 << 20;
// Each extra thread must get at least this many multiply-adds: below it
// (e.g. a small 1x1 convolution at 7x7) waking a thread costs more than it
// saves.
constexpr int64_t kMinMultiplyAddsPerThread = 128 * 1024;
// A product of at most kSgemmFewColumns columns (a squeeze-excitation block's
// 1x1 convolutions on one pixel: N = 1) does one multiply-add per weight it
// reads, cold from memory: it waits on loads, not on the FMA units, and a
// second thread doubles the loads in flight. mobilenet_v3_small at 2 threads,
// alternating runs in one process: its 576 <-> 144 layers (83K multiply-adds)
// 0.042 -> 0.030 ms each, pointwise total 0.954-0.983.
constexpr int64_t kMinFewColumnMultiplyAddsPerThread = 16 * 1024;

// The tile size (a multiple of `unit`, at most `limit`) that cuts `size`
// into the fewest, equal tiles: 512 rows are 2 x 258, not 480 + 32.
int64_t evenTile(int64_t size, int64_t limit, int64_t unit) {
  const int64_t tiles = ceilDiv(std::max<int64_t>(size, 1), limit);
  return roundUp(ceilDiv(std::max<int64_t>(size, 1), tiles), unit);
}

// Tile `index` of `tiles` along a dimension of `extent`, in whole units (MR
// rows, NR columns): the sizes differ by at most one unit, larger ones first,
// so that threads taking tiles in order end together. N = 196 in 4 tiles is
// 64 + 48 + 48 + 36 columns, not 64 + 64 + 64 + 4 (one thread doing 8 of the
// 13 panels).
struct TileSpan {
  int64_t begin, size;
};
TileSpan tileSpan(int64_t index, int64_t tiles, int64_t extent, int64_t unit) {
  const int64_t units = ceilDiv(extent, unit), base = units / tiles, larger = units % tiles;
  const int64_t begin = (index * base + std::min(index, larger)) * unit;
  const int64_t size = (base + (index < larger ? 1 : 0)) * unit;
  return {begin, std::min(size, extent - begin)};
}

struct Tiling {
  int64_t mTiles = 1, nTiles = 1;  // per product (see tileSpan)
  int64_t mc = 0, nc = 0;    // the largest tile (multiples of MR, NR)
  int64_t lhsBlockRows = 0;  // rows of an A block (multiple of MR)
  int64_t kBlock = 0;        // K block
  bool shareRhs = false;     // pack B whole, once per product, shared by the threads
  bool shareLhs = false;     // pack A whole, once, shared by the column tiles (and threads)
  int64_t lhsFloats = 0;     // per-thread scratch for a run-time A block
  int64_t rhsFloats = 0;     // per-thread scratch for a run-time B block
  int64_t sharedRhsFloats = 0;  // scratch for a shared packed B
  int64_t sharedLhsFloats = 0;  // scratch for a shared packed A
  int64_t slotFloats() const { return lhsFloats + rhsFloats; }
  int64_t sharedFloats() const { return sharedRhsFloats + sharedLhsFloats; }
};

// Tiles for `count` products on `threads` threads; count 0 gives the largest
// tiles (the scratch bound). `mayShareRhs`: a narrow im2col B may be packed
// once per product and shared - not when the products themselves feed the
// threads (12 attention heads), as the products are then run one at a time.
// `mayShareLhs`: a run-time A times packed weights (a linear layer) may be
// packed once and shared by all column tiles instead of once per tile - for a
// single product.
Tiling planTiling(int64_t m, int64_t n, int64_t k, int64_t count, bool lhsPacked, bool rhsPacked, bool rhsEncoded,
                  int threads, bool mayShareRhs, bool mayShareLhs) {
  Tiling t;
  t.kBlock = sgemmDepthBlock(k);
  t.shareRhs = mayShareRhs && !rhsPacked && !rhsEncoded && threads > 1 && ceilDiv(n, kRunTimeRhsCols) < threads &&
               m >= 2 * kMinTileRows &&
               roundUp(n, NR) * k * static_cast<int64_t>(sizeof(float)) <= kSharedOperandMaxBytes;
  const bool rhsAhead = rhsPacked || t.shareRhs;
  const int64_t rowUnits = ceilDiv(std::max<int64_t>(m, 1), MR), colUnits = ceilDiv(std::max<int64_t>(n, 1), NR);
  t.mTiles = ceilDiv(std::max<int64_t>(m, 1), kTileRows);
  t.nTiles = ceilDiv(std::max<int64_t>(n, 1), rhsAhead ? kPackedRhsCols : kRunTimeRhsCols);
  // The smallest and the largest tile (rows or columns) with `tiles` tiles (tileSpan).
  auto smallestRows = [&](int64_t tiles) { return rowUnits / tiles * MR; };
  auto smallestCols = [&](int64_t tiles) { return colUnits / tiles * NR; };
  auto largestRows = [&](int64_t tiles) { return ceilDiv(rowUnits, tiles) * MR; };
  auto largestCols = [&](int64_t tiles) { return ceilDiv(colUnits, tiles) * NR; };
  // More tiles until every thread has two to take (dynamic hand-out then
  // balances them); splits the longer side first.
  if (threads > 1 && count > 0) {
    const int64_t wanted = 2 * static_cast<int64_t>(threads);
    while (count * t.mTiles * t.nTiles < wanted) {
      const bool canSplitRows = smallestRows(2 * t.mTiles) >= kMinTileRows;
      const bool canSplitCols = smallestCols(2 * t.nTiles) >= kMinTileCols;
      if (canSplitCols && (!canSplitRows || largestCols(t.nTiles) >= largestRows(t.mTiles)))
        t.nTiles *= 2;
      else if (canSplitRows)
        t.mTiles *= 2;
      else
        break;
    }
    // With few tiles, a count the threads do not divide leaves one idle at
    // the end (5 tiles on 2 threads: 3 + 2). Cut the columns a little finer
    // when that makes the count divide.
    const int64_t rowTiles = count * t.mTiles;
    if ((rowTiles * t.nTiles) % threads != 0 && rowTiles * t.nTiles < 8 * threads) {
      for (int64_t colTiles = t.nTiles + 1; colTiles <= t.nTiles + threads; ++colTiles) {
        if (smallestCols(colTiles) < kMinTileCols) break;
        if ((rowTiles * colTiles) % threads == 0) {
          t.nTiles = colTiles;
          break;
        }
      }
    }
  }
  t.mc = largestRows(t.mTiles);
  t.nc = largestCols(t.nTiles);
  // For the bound (count 0) A may be shared whatever the tiles: splitting
  // for threads can make one column tile several.
  t.shareLhs = mayShareLhs && count <= 1 && !lhsPacked && rhsPacked && (count == 0 || t.nTiles > 1) &&
               roundUp(m, MR) * k * static_cast<int64_t>(sizeof(float)) <= kSharedOperandMaxBytes;
  t.lhsBlockRows =
      std::min(t.mc, evenTile(t.mc, lhsPacked || t.shareLhs ? kPackedLhsBlockRows : kLhsBlockRows, MR));
  const int64_t kc = std::min(k, t.kBlock);
  t.lhsFloats = lhsPacked || t.shareLhs ? 0 : roundUp(t.lhsBlockRows * kc, 16);
  t.rhsFloats = rhsAhead ? 0 : roundUp(sgemmRhsPanelStride(kc) * ceilDiv(t.nc, NR), 16);
  t.sharedRhsFloats = t.shareRhs ? roundUp(roundUp(n, NR) * k, 16) : 0;
  t.sharedLhsFloats = t.shareLhs ? roundUp(roundUp(m, MR) * k, 16) : 0;
  return t;
}

struct Job {
  int64_t m, n, k, ldc;
  const SgemmBatch* batch;
  SgemmEpilogue epilogue;
  SgemmMicroKernels kernels;
  Isa isa;
  Tiling tiling;
  int64_t tilesPerProblem;
  float* slots;         // per-thread scratch
  float* sharedRhs;     // the shared packed B (shareRhs)
  float* sharedLhs;     // the shared packed A (shareLhs)
  int64_t firstProblem, lastProblem;  // the products of the current parallel phase
  bool runPerWorker = false;  // hand the phase's tiles out in a run per worker, or in one run
  TaskRuns tiles;
};

// `store` for rows [i, i + rows) of C from column j: their count and bias values.
SgemmTileStore storeAt(SgemmTileStore store, const SgemmProblem& p, int64_t i, int64_t j, int64_t rows) {
  store.rows = rows;
  if (store.bias == SgemmBias::kPerRow) store.biasValues = p.bias + i;
  if (store.bias == SgemmBias::kPerColumn) store.biasValues = p.bias + j;
  return store;
}

// Rows [i, i + rows) of C against the B panel of columns [j, j + NR): one
// micro-kernel call walks all their row panels (a short last one included).
// A panel cut by the right edge of C to a few columns has its own kernel
// (after the 8-wide one, for 9 to 12); a wider one goes through a local
// buffer, one row panel at a time, so the micro-kernel always writes whole
// vectors.
void microTiles(const Job& job, const SgemmProblem& p, const SgemmTileStore& tileStore, int64_t kc, const float* a,
                const float* b, int64_t i, int64_t j, int64_t rows) {
  const int64_t cols = std::min(NR, job.n - j);
  float* c = p.c + i * job.ldc + j;
  SgemmTileStore store = storeAt(tileStore, p, i, j, rows);
  if (cols == NR) {
    job.kernels.full(kc, a, b, c, job.ldc, store);
    return;
  }
  if (cols <= kSgemmFewColumns) {
    job.kernels.columns(kc, a, b, NR, c, job.ldc, store, cols);
    return;
  }
  if (cols > NR / 2 && cols - NR / 2 <= kSgemmFewColumns) {
    // 9 to 12 columns (N = 169: SqueezeNet's 13x13 layers): the 8-wide kernel
    // writes the first 8 in place and the few-columns kernel the rest, instead
    // of a whole 16-wide panel through the buffer below.
    job.kernels.narrow(kc, a, b, c, job.ldc, store);
    SgemmTileStore rest = store;
    if (rest.bias == SgemmBias::kPerColumn) rest.biasValues += NR / 2;
    job.kernels.columns(kc, a, b + NR / 2, NR, c + NR / 2, job.ldc, rest, cols - NR / 2);
    return;
  }
  const SgemmMicroKernel kernel = cols <= NR / 2 ? job.kernels.narrow : job.kernels.full;
  const float* panelBias = store.biasValues;
  for (int64_t i0 = 0; i0 < rows; i0 += MR, a += MR * kc, c += MR * job.ldc) {
    store.rows = std::min(MR, rows - i0);
    alignas(64) float tile[MR * NR] = {};
    alignas(64) float bias[NR] = {};
    if (store.loadC)
      for (int64_t r = 0; r < store.rows; ++r) std::memcpy(tile + r * NR, c + r * job.ldc, cols * sizeof(float));
    if (store.bias != SgemmBias::kNone) {
      const bool perRow = store.bias == SgemmBias::kPerRow;
      std::memcpy(bias, perRow ? panelBias + i0 : panelBias, (perRow ? store.rows : cols) * sizeof(float));
      store.biasValues = bias;
    }
    kernel(kc, a, b, tile, NR, store);
    for (int64_t r = 0; r < store.rows; ++r) std::memcpy(c + r * job.ldc, tile + r * NR, cols * sizeof(float));
  }
}

// A plain B is read in place instead of packed when C has at most 48 rows
// (each B panel then serves at most 8 row panels, and packing it cost about
// as much as they do) or K is at most 32 (a panel is then only K cache lines,
// which stay in L1 across the row panels). kernels_bench, alternating rounds:
// 24x3136x144 0.30-0.37 -> 0.28-0.29 ms, 16x12544x32 0.26 -> 0.22-0.24,
// 96x12544x16 0.91-1.02 -> 0.63-0.93 in 3 rounds of 4, 144x3136x24
// 0.35-0.42 -> 0.28-0.35 in 3 of 4; other shapes showed no clear gain.
// Also when B has at most kSgemmFewColumns columns (a squeeze-excitation
// block's 1x1 convolutions on one pixel): packing spread each k's few floats
// over a 16-wide panel, 40% of the time of 144x1x576. kernels_bench
// 144x1x576 0.011 -> 0.006 ms, 576x1x144 0.007 -> 0.005; in
// mobilenet_v3_small (min of 5 alternating rounds) its 576 -> 144 layers
// 0.018 -> 0.008-0.009 ms.
constexpr int64_t kInPlaceRhsMaxRows = 48;
constexpr int64_t kInPlaceRhsMaxDepth = 32;

bool readsRhsInPlace(const Job& job, const SgemmProblem& p) {
  return job.kernels.strided &&
         (job.m <= kInPlaceRhsMaxRows || job.k <= kInPlaceRhsMaxDepth || job.n <= kSgemmFewColumns) &&
         !p.rhs.packed && !p.rhs.encoded && !p.rhs.im2col && !job.sharedRhs && !p.rhs.matrix.transposed;
}

// Rows [i, i + rows) of C against the 16 columns of B from column j, B's
// rows [k0, k0 + kc) read in place.
void inPlacePanel(const Job& job, const SgemmProblem& p, const SgemmTileStore& store, int64_t k0, int64_t kc,
                  const float* a, int64_t i, int64_t j, int64_t rows) {
  const SgemmMatrix& b = p.rhs.matrix;
  job.kernels.strided(kc, a, b.data + k0 * b.ld + j, b.ld, p.c + i * job.ldc + j, job.ldc,
                      storeAt(store, p, i, j, rows));
}

// The same for the last `cols` (1 to kSgemmFewColumns) columns of B from column j.
void inPlaceLastColumns(const Job& job, const SgemmProblem& p, const SgemmTileStore& store, int64_t k0, int64_t kc,
                        const float* a, int64_t i, int64_t j, int64_t rows, int64_t cols) {
  const SgemmMatrix& b = p.rhs.matrix;
  job.kernels.columns(kc, a, b.data + k0 * b.ld + j, b.ld, p.c + i * job.ldc + j, job.ldc,
                      storeAt(store, p, i, j, rows), cols);
}

// Weights packed ahead as B come from memory when the model outgrows L3
// (ViT-B/16's 330 MB): the sweep of one B panel over at least this many rows
// of C fetches the next panel (SgemmTileStore::nextRhsPanel). ViT, min per
// node of 3 alternating rounds, sum: 1 thread 322 -> 312-315 ms, 2 threads
// 163 -> 159. A single row panel reads B as one stream, which the kernel's
// own prefetch covers: fetching the next panel too made mobilenet_v2's
// classifier (1 x 1280 -> 1000) 0.204 -> 0.261 ms.
constexpr int64_t kMinRowsToFetchNextPanel = 4 * MR;

void computeTile(const Job& job, const SgemmProblem& p, int64_t tile, float* lhsBlock, float* rhsBlock) {
  const Tiling& t = job.tiling;
  const TileSpan rowSpan = tileSpan(tile / t.nTiles, t.mTiles, job.m, MR);
  const TileSpan colSpan = tileSpan(tile % t.nTiles, t.nTiles, job.n, NR);
  const int64_t m0 = rowSpan.begin, rows = rowSpan.size;
  const int64_t n0 = colSpan.begin, cols = colSpan.size;
  const int64_t colPanels = ceilDiv(cols, NR);
  const int64_t kBlocks = std::max<int64_t>(1, ceilDiv(job.k, t.kBlock));

  SgemmTileStore store;
  store.alpha = job.epilogue.alpha;
  store.bias = job.epilogue.bias;
  store.activation = job.epilogue.activation;
  for (int64_t kb = 0; kb < kBlocks; ++kb) {
    const int64_t k0 = kb * t.kBlock;
    const int64_t kc = std::min(t.kBlock, job.k - k0);
    const float* b = rhsBlock;
    int64_t panelStride = kc * NR;  // packed ahead or decoded: back to back
    // A plain B read in place: its whole panels, and a last one of a few
    // columns; a wider last one is packed (at rhsBlock).
    int64_t inPlacePanels = 0, inPlaceColumns = 0;
    if (readsRhsInPlace(job, p)) {
      inPlacePanels = cols / NR;
      const int64_t rest = cols - inPlacePanels * NR;
      if (rest <= kSgemmFewColumns)
        inPlaceColumns = rest;
      else
        job.kernels.packRhs(p.rhs.matrix, k0, kc, n0 + inPlacePanels * NR, rest, rhsBlock, 0);
    } else if (p.rhs.packed) {
      b = p.rhs.packed->panels(k0, n0 / NR);
    } else if (p.rhs.encoded) {
      decodePackRhs(*p.rhs.encoded, n0, cols, k0, kc, rhsBlock, job.isa);
    } else if (job.sharedRhs) {
      b = panelsAt(job.sharedRhs, roundUp(job.n, NR), job.k, k0, n0 / NR, NR);
    } else {
      panelStride = sgemmRhsPanelStride(kc);
      if (p.rhs.im2col)
        job.kernels.packIm2col(*p.rhs.im2col, p.rhs.image, k0, kc, n0, cols, rhsBlock, panelStride);
      else
        job.kernels.packRhs(p.rhs.matrix, k0, kc, n0, cols, rhsBlock, panelStride);
    }
    store.loadC = job.epilogue.accumulate || kb > 0;
    store.finish = kb == kBlocks - 1;

    for (int64_t mb = 0; mb < rows; mb += t.lhsBlockRows) {
      const int64_t blockRows = std::min(t.lhsBlockRows, rows - mb);
      const float* a = lhsBlock;
      if (p.lhs.packed)
        a = p.lhs.packed->panels(k0, (m0 + mb) / MR);
      else if (job.sharedLhs)
        a = panelsAt(job.sharedLhs, roundUp(job.m, MR), job.k, k0, (m0 + mb) / MR, MR);
      else if (p.lhs.encoded)
        decodePackLhs(*p.lhs.encoded, m0 + mb, blockRows, k0, kc, lhsBlock, job.isa);
      else
        job.kernels.packLhs(p.lhs.matrix, m0 + mb, blockRows, k0, kc, lhsBlock);
      for (int64_t jp = 0; jp < inPlacePanels; ++jp)
        inPlacePanel(job, p, store, k0, kc, a, m0 + mb, n0 + jp * NR, blockRows);
      const bool fetchNextPanel = p.rhs.packed && blockRows >= kMinRowsToFetchNextPanel;
      if (inPlaceColumns > 0)
        inPlaceLastColumns(job, p, store, k0, kc, a, m0 + mb, n0 + inPlacePanels * NR, blockRows, inPlaceColumns);
      else
        for (int64_t jp = inPlacePanels; jp < colPanels; ++jp) {
          const float* panel = b + (jp - inPlacePanels) * panelStride;
          store.nextRhsPanel = fetchNextPanel && jp + 1 < colPanels ? panel + panelStride : nullptr;
          microTiles(job, p, store, kc, a, panel, m0 + mb, n0 + jp * NR, blockRows);
        }
    }
  }
}

// A worker takes tiles (of the products of this phase) until none is left.
void runWorker(Job& job, int64_t slot, int thread) {
  float* lhsBlock = job.slots + slot * job.tiling.slotFloats();
  float* rhsBlock = lhsBlock + job.tiling.lhsFloats;
  int64_t current = -1;
  SgemmProblem problem;
  job.tiles.take(thread, [&](int64_t task) {
    const int64_t index = job.firstProblem + task / job.tilesPerProblem;
    if (index != current) {
      problem = job.batch->problem(index);
      current = index;
    }
    computeTile(job, problem, task % job.tilesPerProblem, lhsBlock, rhsBlock);
  });
}

// Calls pack(k0, kc, first, count) for every K block and every group of
// `perTask` panels of `width` along a dimension of `extent`: the tasks of
// packing a whole operand into its shared layout, in parallel on `workers`.
template <class Pack>
void packSharedPanels(const Job& job, int64_t extent, int64_t width, int64_t perTask, ThreadPool* pool,
                      int64_t workers, const Pack& pack) {
  struct Tasks {
    const Job* job;
    const Pack* pack;
    int64_t extent, groupWidth, groups;
  } tasks{&job, &pack, extent, perTask * width, ceilDiv(ceilDiv(extent, width), perTask)};
  const Tasks* shared = &tasks;  // one pointer: the std::function below stays allocation-free
  auto task = [shared](size_t index, int) {
    const int64_t kb = shared->job->tiling.kBlock;
    const int64_t k0 = static_cast<int64_t>(index) / shared->groups * kb;
    const int64_t first = static_cast<int64_t>(index) % shared->groups * shared->groupWidth;
    (*shared->pack)(k0, std::min(kb, shared->job->k - k0), first, std::min(shared->groupWidth, shared->extent - first));
  };
  const size_t count = static_cast<size_t>(ceilDiv(job.k, job.tiling.kBlock) * tasks.groups);
  if (workers > 1 && count > 1)
    pool->parallelTasks(count, task);
  else
    for (size_t i = 0; i < count; ++i) task(i, 0);
}

// Packs the whole B of one product into the shared layout.
void packSharedRhs(const Job& job, const SgemmRhs& rhs, ThreadPool* pool, int64_t workers) {
  packSharedPanels(job, job.n, NR, 4, pool, workers, [&](int64_t k0, int64_t kc, int64_t j0, int64_t cols) {
    float* out = const_cast<float*>(panelsAt(job.sharedRhs, roundUp(job.n, NR), job.k, k0, j0 / NR, NR));
    if (rhs.im2col)
      job.kernels.packIm2col(*rhs.im2col, rhs.image, k0, kc, j0, cols, out, kc * NR);
    else
      job.kernels.packRhs(rhs.matrix, k0, kc, j0, cols, out, 0);
  });
}

// Packs the whole A of the single product into the shared layout.
void packSharedLhs(const Job& job, const SgemmMatrix& a, ThreadPool* pool, int64_t workers) {
  packSharedPanels(job, job.m, MR, 8, pool, workers, [&](int64_t k0, int64_t kc, int64_t i0, int64_t rows) {
    float* out = const_cast<float*>(panelsAt(job.sharedLhs, roundUp(job.m, MR), job.k, k0, i0 / MR, MR));
    job.kernels.packLhs(a, i0, rows, k0, kc, out);
  });
}

void runPhase(Job& job, ThreadPool* pool, int64_t threads) {
  const int64_t tasks = (job.lastProblem - job.firstProblem) * job.tilesPerProblem;
  const int64_t workers = std::min(threads, tasks);
  job.tiles.reset(tasks, job.runPerWorker ? workers : 1);
  if (workers <= 1) {
    runWorker(job, 0, 0);
    return;
  }
  Job* shared = &job;  // one pointer: the std::function below stays allocation-free
  pool->parallelTasks(static_cast<size_t>(workers), [shared](size_t worker, int thread) {
    runWorker(*shared, static_cast<int64_t>(worker), thread);
  });
}

class SingleProblem final : public SgemmBatch {
 public:
  explicit SingleProblem(const SgemmProblem& p) : p_(p) {}
  int64_t count() const override { return 1; }
  SgemmProblem problem(int64_t) const override { return p_; }

 private:
  const SgemmProblem& p_;
};

}  // namespace

size_t sgemmScratchBytes(int64_t m, int64_t n, int64_t k, bool lhsPacked, bool rhsPacked, int threads,
                         bool rhsEncoded) {
  // Splitting for threads only shrinks tiles: the unsplit tiling is the bound.
  // The driver may use fewer threads than asked (small products), and with
  // one thread B is not shared, so the bound covers every thread count.
  size_t bound = 0;
  for (int th = 1; th <= std::max(threads, 1); ++th)
    for (bool share : {false, true}) {
      const Tiling t = planTiling(m, n, k, 0, lhsPacked, rhsPacked, rhsEncoded, th, share, share);
      bound = std::max(bound, static_cast<size_t>(t.sharedFloats() + t.slotFloats() * th) * sizeof(float));
    }
  return bound;
}

void sgemmBatched(int64_t m, int64_t n, int64_t k, const SgemmBatch& batch, int64_t ldc,
                  const SgemmEpilogue& epilogue, void* scratch, size_t scratchBytes, ThreadPool* pool,
                  Isa isa) {
  const int64_t count = batch.count();
  if (m <= 0 || n <= 0 || count <= 0) return;
  const SgemmProblem first = batch.problem(0);
  const bool lhsPacked = first.lhs.packed != nullptr, rhsPacked = first.rhs.packed != nullptr;
  const bool rhsEncoded = first.rhs.encoded != nullptr;

  // The threads are limited by the work and by the scratch the caller provided.
  int threads = pool ? pool->threads() : 1;
  const int64_t multiplyAdds = m * n * std::max<int64_t>(k, 1) * count;
  const int64_t minPerThread = n <= kSgemmFewColumns ? kMinFewColumnMultiplyAddsPerThread : kMinMultiplyAddsPerThread;
  threads = static_cast<int>(std::clamp<int64_t>(multiplyAdds / minPerThread, 1, threads));
  const bool lhsEncoded = first.lhs.encoded != nullptr;
  // Only an im2col B is worth sharing: packing it gathers K = Cin*kH*kW rows
  // from the image, too costly to do twice. A plain B (a pointwise
  // convolution's input) is cheaper to pack per tile than to pack together
  // and hand between cores: kernels_bench, 2 threads, min of 5 alternating
  // rounds, shared -> per tile (ms): 96/49/576 0.046 -> 0.037, 96/196/576
  // 0.124 -> 0.112, 48/196/288 0.036 -> 0.029, 2048/49/512 0.503 -> 0.501.
  const bool mayShareRhs = first.rhs.im2col != nullptr;
  auto plan = [&](int th) {
    return planTiling(m, n, k, count, lhsPacked, rhsPacked, rhsEncoded, th, mayShareRhs && count < th, !lhsEncoded);
  };
  Tiling tiling = plan(threads);
  auto needed = [&](const Tiling& t, int th) {
    return static_cast<size_t>(t.sharedFloats() + t.slotFloats() * th) * sizeof(float);
  };
  while (threads > 1 && needed(tiling, threads) > scratchBytes) {
    --threads;
    tiling = plan(threads);
  }
  if (needed(tiling, threads) > scratchBytes) {
    std::fprintf(stderr, "petrel: sgemm given %zu scratch bytes, needs %zu\n", scratchBytes,
                 needed(tiling, threads));
    std::abort();
  }

  Job job;
  job.m = m;
  job.n = n;
  job.k = k;
  job.ldc = ldc;
  job.batch = &batch;
  job.epilogue = epilogue;
  job.kernels = sgemmMicroKernels(isa);
  job.isa = isa;
  job.tiling = tiling;
  job.tilesPerProblem = tiling.mTiles * tiling.nTiles;
  job.sharedRhs = tiling.shareRhs ? static_cast<float*>(scratch) : nullptr;
  job.sharedLhs = tiling.shareLhs ? static_cast<float*>(scratch) + tiling.sharedRhsFloats : nullptr;
  job.slots = static_cast<float*>(scratch) + tiling.sharedFloats();
  // A single product with a run-time B (a convolution's activations): one
  // run of tiles per thread (runtime/task_runs.h). Min per node of 6
  // alternating rounds at 2 threads: squeezenet1_1's expand1x1 layers 0.062 /
  // 0.049 / 0.038 -> 0.042 / 0.039 / 0.033 ms, sum of nodes 3.097 -> 3.060;
  // mobilenet_v2 3.976 -> 3.975. Weights as B (a linear layer) keep one run:
  // vit_b_16 was 0.5% slower with runs.
  job.runPerWorker = count == 1 && !rhsPacked && !rhsEncoded;

  if (!tiling.shareRhs) {  // one phase: the tiles of every product
    if (tiling.shareLhs) packSharedLhs(job, first.lhs.matrix, pool, threads);  // a single product
    job.firstProblem = 0;
    job.lastProblem = count;
    runPhase(job, pool, threads);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {  // per product: pack B together, then its tiles
    const SgemmProblem p = batch.problem(i);
    packSharedRhs(job, p.rhs, pool, threads);
    job.firstProblem = i;
    job.lastProblem = i + 1;
    runPhase(job, pool, threads);
  }
}

void sgemm(int64_t m, int64_t n, int64_t k, const SgemmProblem& problem, int64_t ldc,
           const SgemmEpilogue& epilogue, void* scratch, size_t scratchBytes, ThreadPool* pool, Isa isa) {
  sgemmBatched(m, n, k, SingleProblem(problem), ldc, epilogue, scratch, scratchBytes, pool, isa);
}

}  // namespace petrel
