// Winograd F(4x4, 3x3) convolution: weight transform, scalar reference
// transforms, blocking and the driver (see winograd.h for the method).
#include "kernels/winograd.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/int_math.h"
#include "petrel/error.h"
#include "runtime/task_runs.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

constexpr int64_t P = kWinogradPositions;

// The F(4x4, 3x3) matrices for the points 0, 1, -1, 1/2, -2 and infinity.
// Against the usual 0, 1, -1, 2, -2 (Lavin & Gray) they lose ~35% less to fp32
// rounding (relative L2 on ResNet layers: 1.2e-6 vs 1.8e-6 at 64 channels,
// 2.2e-6 vs 3.4e-6 at 256; cf. Barabasz et al., "Error analysis and improving
// the accuracy of Winograd convolution for DNNs"). B^T's entries are halves:
// exact in fp32. G (1/N_j of each finite point) is applied in double.
constexpr double kBt[6][6] = {
    {1, -1.5, -2, 1.5, 1, 0},  {0, -1, 0.5, 2.5, 1, 0},   {0, 1, -2.5, 0.5, 1, 0},
    {0, -2, -1, 2, 1, 0},      {0, 0.5, -1, -0.5, 1, 0},  {0, 1, -1.5, -2, 1.5, 1},
};
constexpr double kG[6][3] = {
    {1, 0, 0},
    {1.0 / 3, 1.0 / 3, 1.0 / 3},
    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
    {1.0 / 15, -2.0 / 15, 4.0 / 15},
    {0, 0, 1},
};
constexpr double kAt[4][6] = {
    {1, 1, 1, 1, 1, 0},
    {0, 1, -1, 0.5, -2, 0},
    {0, 1, 1, 0.25, 4, 0},
    {0, 1, -1, 0.125, -8, 1},
};

}  // namespace

bool winogradSupports(const Conv2dGeometry& g) {
  return g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 &&
         g.dilationW == 1 && g.channels >= 1 && g.inH >= 1 && g.inW >= 1 && g.outH >= 1 && g.outW >= 1;
}

bool winogradPays(const WinogradShape& s) {
  return s.tiles() >= 8 && std::min(s.inChannels, s.outChannels) >= 16;
}

WinogradShape winogradShape(const Conv2dGeometry& g, int64_t batch, int64_t outChannels) {
  if (!winogradSupports(g))
    throw Error("winograd convolution: needs a 3x3 kernel with stride 1 and dilation 1, got " +
                std::to_string(g.kernelH) + "x" + std::to_string(g.kernelW) + " stride " +
                std::to_string(g.strideH) + "," + std::to_string(g.strideW) + " dilation " +
                std::to_string(g.dilationH) + "," + std::to_string(g.dilationW));
  if (batch < 1 || outChannels < 1)
    throw Error("winograd convolution: batch and output channels must be positive");
  WinogradShape s;
  s.batch = batch;
  s.inChannels = g.channels;
  s.outChannels = outChannels;
  s.inH = g.inH;
  s.inW = g.inW;
  s.outH = g.outH;
  s.outW = g.outW;
  s.padTop = g.padTop;
  s.padLeft = g.padLeft;
  s.tilesH = ceilDiv(g.outH, kWinogradTile);
  s.tilesW = ceilDiv(g.outW, kWinogradTile);
  return s;
}

namespace {

// The tiles (down or across) whose patch lies inside an image of `size`
// pixels: [first, first + count).
struct InsideRange {
  int64_t first = 0, count = 0;
};
InsideRange insideTiles(int64_t size, int64_t pad, int64_t tiles) {
  // Patch of tile t: [4t - pad, 4t - pad + 6) within [0, size).
  InsideRange r;
  r.first = ceilDiv(pad, kWinogradTile);
  const int64_t last = size + pad - kWinogradInputTile >= 0 ? (size + pad - kWinogradInputTile) / kWinogradTile : -1;
  r.count = std::max<int64_t>(0, std::min(last, tiles - 1) - r.first + 1);
  return r;
}

}  // namespace

WinogradTilePlace winogradTilePlace(const WinogradShape& s, int64_t tile) {
  WinogradTilePlace t;
  t.image = tile / s.tilesPerImage();
  int64_t k = tile % s.tilesPerImage();
  const InsideRange rows = insideTiles(s.inH, s.padTop, s.tilesH);
  const InsideRange cols = insideTiles(s.inW, s.padLeft, s.tilesW);
  int64_t ty = 0, tx = 0;
  if (k < rows.count * cols.count) {
    ty = rows.first + k / cols.count;
    tx = cols.first + k % cols.count;
  } else {
    // The k-th tile, row by row, outside the inside rectangle.
    k -= rows.count * cols.count;
    const int64_t above = rows.first * s.tilesW;
    const int64_t besidePerRow = s.tilesW - cols.count;
    if (k < above) {
      ty = k / s.tilesW;
      tx = k % s.tilesW;
    } else if (k - above < rows.count * besidePerRow) {
      k -= above;
      ty = rows.first + k / besidePerRow;
      const int64_t j = k % besidePerRow;
      tx = j < cols.first ? j : j + cols.count;
    } else {
      k -= above + rows.count * besidePerRow;
      ty = rows.first + rows.count + k / s.tilesW;
      tx = k % s.tilesW;
    }
  }
  t.outY = ty * kWinogradTile;
  t.outX = tx * kWinogradTile;
  t.inY = t.outY - s.padTop;
  t.inX = t.outX - s.padLeft;
  return t;
}

// ------------------------------------------------------------- weights

void winogradTransformWeights(const float* weights, int64_t outChannels, int64_t inChannels, float* u) {
  const int64_t plane = outChannels * inChannels;
  for (int64_t o = 0; o < outChannels; ++o)
    for (int64_t c = 0; c < inChannels; ++c) {
      const float* g = weights + (o * inChannels + c) * 9;
      double gg[6][3];  // G g
      for (int i = 0; i < 6; ++i)
        for (int k = 0; k < 3; ++k) {
          double sum = 0;
          for (int l = 0; l < 3; ++l) sum += kG[i][l] * g[l * 3 + k];
          gg[i][k] = sum;
        }
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          double sum = 0;  // (G g G^T)[i][j]
          for (int k = 0; k < 3; ++k) sum += gg[i][k] * kG[j][k];
          u[(i * 6 + j) * plane + o * inChannels + c] = static_cast<float>(sum);
        }
    }
}

WinogradWeights::WinogradWeights(const float* weights, int64_t outChannels, int64_t inChannels)
    : outChannels_(outChannels), inChannels_(inChannels) {
  if (outChannels < 1 || inChannels < 1) throw Error("winograd weights: channel counts must be positive");
  const int64_t plane = outChannels * inChannels;
  std::vector<float> u(static_cast<size_t>(P * plane));  // planning only
  winogradTransformWeights(weights, outChannels, inChannels, u.data());
  positions_ = winogradPackPositions(u.data(), P, outChannels, inChannels);
}

size_t WinogradWeights::bytes() const { return winogradPackedBytes(positions_); }

std::vector<SgemmPackedLhs> winogradPackPositions(const float* u, int64_t positions, int64_t outChannels,
                                                  int64_t inChannels) {
  std::vector<SgemmPackedLhs> packed;
  packed.reserve(positions);
  for (int64_t p = 0; p < positions; ++p)
    packed.emplace_back(SgemmMatrix{u + p * outChannels * inChannels, inChannels, false}, outChannels, inChannels);
  return packed;
}

size_t winogradPackedBytes(const std::vector<SgemmPackedLhs>& positions) {
  size_t total = 0;
  for (const SgemmPackedLhs& p : positions) total += p.bytes();
  return total;
}

// ---------------------------------------------------- scalar transforms

void winogradInputTransformScalar(const WinogradShape& s, const float* input, int64_t firstTile,
                                  int64_t tileCount, int64_t c0, int64_t c1, float* v, int64_t ld,
                                  int64_t positionStride) {
  for (int64_t j = 0; j < tileCount; ++j) {
    const WinogradTilePlace t = winogradTilePlace(s, firstTile + j);
    for (int64_t c = c0; c < c1; ++c) {
      const float* plane = input + (t.image * s.inChannels + c) * s.inH * s.inW;
      float d[6][6];
      for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) {
          const int64_t iy = t.inY + y, ix = t.inX + x;
          d[y][x] = iy >= 0 && iy < s.inH && ix >= 0 && ix < s.inW ? plane[iy * s.inW + ix] : 0.0f;
        }
      float bd[6][6];  // B^T d
      for (int i = 0; i < 6; ++i)
        for (int x = 0; x < 6; ++x) {
          float sum = 0;
          for (int l = 0; l < 6; ++l) sum += static_cast<float>(kBt[i][l]) * d[l][x];
          bd[i][x] = sum;
        }
      for (int i = 0; i < 6; ++i)
        for (int k = 0; k < 6; ++k) {
          float sum = 0;  // (B^T d B)[i][k]
          for (int l = 0; l < 6; ++l) sum += bd[i][l] * static_cast<float>(kBt[k][l]);
          v[(i * 6 + k) * positionStride + c * ld + j] = sum;
        }
    }
  }
}

void winogradOutputTransformScalar(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                                   int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                                   const WinogradEpilogue& epilogue, float* output) {
  for (int64_t j = 0; j < tileCount; ++j) {
    const WinogradTilePlace t = winogradTilePlace(s, firstTile + j);
    const int64_t rows = std::min(kWinogradTile, s.outH - t.outY);
    const int64_t cols = std::min(kWinogradTile, s.outW - t.outX);
    for (int64_t o = o0; o < o1; ++o) {
      float am[4][6];  // A^T m
      for (int i = 0; i < 4; ++i)
        for (int x = 0; x < 6; ++x) {
          float sum = 0;
          for (int l = 0; l < 6; ++l)
            sum += static_cast<float>(kAt[i][l]) * m[(l * 6 + x) * positionStride + o * ld + j];
          am[i][x] = sum;
        }
      const float b = epilogue.bias ? epilogue.bias[o] : 0.0f;
      const int64_t offset = ((t.image * s.outChannels + o) * s.outH + t.outY) * s.outW + t.outX;
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t k = 0; k < cols; ++k) {
          float sum = 0;  // (A^T m A)[i][k]
          for (int l = 0; l < 6; ++l) sum += am[i][l] * static_cast<float>(kAt[k][l]);
          float value = sum + b;
          if (epilogue.residual) value += epilogue.residual[offset + i * s.outW + k];
          output[offset + i * s.outW + k] = applyActivation(epilogue.activation, value);
        }
    }
  }
}

void winogradInputTransform(const WinogradShape& s, const float* input, int64_t firstTile, int64_t tileCount,
                            int64_t c0, int64_t c1, float* v, int64_t ld, int64_t positionStride, Isa isa) {
  if (isa == Isa::kAvx2)
    winogradInputTransformAvx2(s, input, firstTile, tileCount, c0, c1, v, ld, positionStride);
  else
    winogradInputTransformScalar(s, input, firstTile, tileCount, c0, c1, v, ld, positionStride);
}

void winogradOutputTransform(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                             int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                             const WinogradEpilogue& epilogue, float* output, Isa isa) {
  if (isa == Isa::kAvx2)
    winogradOutputTransformAvx2(s, m, ld, positionStride, firstTile, tileCount, o0, o1, epilogue, output);
  else
    winogradOutputTransformScalar(s, m, ld, positionStride, firstTile, tileCount, o0, o1, epilogue, output);
}

// ------------------------------------------------------------- blocking

namespace {

// V and M of a block together should stay near one core's L2 (512 KiB on the
// machines we tune for). Measured on ResNet's layers (kernels_bench
// Conv3x3WinogradTuning), 16 to 256 tiles per block perform within noise of
// each other on one thread; fewer than 16 makes narrow GEMMs.
constexpr int64_t kBlockBytes = 640 << 10;
constexpr int64_t kMinTilesPerBlock = 16;
constexpr int64_t kMaxTilesPerBlock = 128;

// Blocks of `tiles` tiles covering `extent` tiles, and their V/M layout.
WinogradBlocks blocksOf(const WinogradShape& s, int64_t tiles, int64_t extent) {
  WinogradBlocks b;
  if (tiles <= 0 || extent <= 0) return b;
  b.tiles = std::min(tiles, extent);
  b.count = ceilDiv(extent, b.tiles);
  b.ld = roundUp(b.tiles, 8);
  // One extra cache line per position, so the 36 rows the transforms write
  // for one channel do not all fall in the same L1 set.
  b.vPositionStride = roundUp(s.inChannels * b.ld, 16) + 16;
  b.mPositionStride = roundUp(s.outChannels * b.ld, 16) + 16;
  return b;
}

}  // namespace

size_t WinogradBlocks::vmBytes() const {
  return static_cast<size_t>(P * (vPositionStride + mPositionStride)) * sizeof(float);
}

size_t WinogradBlocking::vmAreaBytes() const { return std::max(wholeSlots * whole.vmBytes(), shared.vmBytes()); }

size_t WinogradBlocking::scratchBytes() const { return vmAreaBytes() + gemmSlots * gemmScratchBytes; }

WinogradBlocking planWinograd(const WinogradShape& s, int threads, int64_t tilesPerBlock, int split) {
  threads = std::max(threads, 1);
  WinogradBlocking b;
  b.tiles = s.tiles();
  // Blocks of a multiple of 16 tiles: whole column panels of the SGEMM's 6x16
  // micro-kernel (a narrower last panel goes through a slower edge path).
  const int64_t bytesPerTile = P * (s.inChannels + s.outChannels) * static_cast<int64_t>(sizeof(float));
  const int64_t largest = tilesPerBlock > 0 ? tilesPerBlock
                                            : std::clamp(kBlockBytes / bytesPerTile / 16 * 16, kMinTilesPerBlock,
                                                         kMaxTilesPerBlock);
  // A shared block spreads a whole block's worth (about one L2) over each thread.
  const int64_t round = largest * threads;
  // The tiles after the whole rounds go out as whole blocks too, unless the
  // thread that takes the first of them would end over a quarter of a block
  // after the others' average: then they make shared blocks (which cost three
  // synchronisations and 36 GEMM calls each). 196 tiles in blocks of 32 on 2
  // threads end with a block of 4; 49 tiles in blocks of 16 with a shared 17.
  const int64_t rest = b.tiles % round;
  const bool shareRest = 4 * (std::min(rest, largest) - rest / threads) > largest;
  const bool wholeOnly = threads == 1 || split == 1 || (split == 0 && !shareRest);
  const int64_t wholeExtent = wholeOnly ? b.tiles : split == 2 ? 0 : b.tiles - rest;
  b.whole = blocksOf(s, largest, wholeExtent);
  b.shared = blocksOf(s, round, b.tiles - wholeExtent);
  b.wholeSlots = b.whole.count > 0 ? threads : 0;
  b.gemmSlots = threads;
  const int64_t widest = std::max(b.whole.tiles, b.shared.tiles);
  b.gemmScratchBytes = static_cast<size_t>(
      roundUp(static_cast<int64_t>(sgemmScratchBytes(s.outChannels, widest, s.inChannels, true, false, 1)), 64));
  return b;
}

size_t winogradScratchBytes(const WinogradShape& s, int threads) { return planWinograd(s, threads).scratchBytes(); }

// --------------------------------------------------------------- driver

namespace {

// The 36 products of one block: M[p] = U[p] * V[p].
class PositionProducts final : public SgemmBatch {
 public:
  PositionProducts(const WinogradWeights& w, const float* v, float* m, const WinogradBlocks& b)
      : w_(w), v_(v), m_(m), b_(b) {}
  int64_t count() const override { return P; }
  SgemmProblem problem(int64_t p) const override {
    SgemmProblem problem;
    problem.lhs.packed = &w_.position(p);
    problem.rhs.matrix = SgemmMatrix{v_ + p * b_.vPositionStride, b_.ld, false};
    problem.c = m_ + p * b_.mPositionStride;
    return problem;
  }

 private:
  const WinogradWeights& w_;
  const float* v_;
  float* m_;
  const WinogradBlocks& b_;
};

// Shared by the workers of one call.
struct Conv {
  const WinogradShape* s;
  const WinogradBlocking* b;
  const float* input;
  const WinogradWeights* weights;
  WinogradEpilogue epilogue;
  float* output;
  char* scratch;
  Isa isa;
  TaskRuns tasks;  // whole blocks, then each shared block's channel groups or positions

  // V and M of a whole block in slot `slot`, or (slot 0) of a shared block.
  float* v(const WinogradBlocks& blocks, int slot) const {
    return reinterpret_cast<float*>(scratch + slot * blocks.vmBytes());
  }
  float* m(const WinogradBlocks& blocks, int slot) const { return v(blocks, slot) + P * blocks.vPositionStride; }
  void* gemmScratch(int slot) const {
    return scratch + b->vmAreaBytes() + slot * b->gemmScratchBytes;
  }

  // Whole block `block`, start to end, on one thread.
  void wholeBlock(int64_t block, int slot) {
    const WinogradBlocks& w = b->whole;
    const int64_t first = block * w.tiles, count = std::min(w.tiles, b->wholeEnd() - first);
    float *vs = v(w, slot), *ms = m(w, slot);
    winogradInputTransform(*s, input, first, count, 0, s->inChannels, vs, w.ld, w.vPositionStride, isa);
    sgemmBatched(s->outChannels, count, s->inChannels, PositionProducts(*weights, vs, ms, w), w.ld, SgemmEpilogue{},
                 gemmScratch(slot), b->gemmScratchBytes, nullptr, isa);
    winogradOutputTransform(*s, ms, w.ld, w.mPositionStride, first, count, 0, s->outChannels, epilogue, output, isa);
  }
};

// Runs fn(slot, thread) on `workers` threads: slot in [0, workers), thread
// the pool's index of the thread running it.
template <typename Fn>
void runWorkers(ThreadPool* pool, int workers, Fn& fn) {
  if (workers <= 1 || !pool) {
    fn(0, 0);
    return;
  }
  Fn* shared = &fn;  // one pointer: the std::function stays allocation-free
  pool->parallelTasks(static_cast<size_t>(workers),
                      [shared](size_t worker, int thread) { (*shared)(static_cast<int>(worker), thread); });
}

// Channel ranges handed out to threads sharing a block.
constexpr int64_t kChannelsPerTask = 8;

}  // namespace

void winogradConv2d(const WinogradShape& s, const WinogradBlocking& b, const float* input,
                    const WinogradWeights& weights, const WinogradEpilogue& epilogue, float* output, void* scratch,
                    size_t scratchBytes, ThreadPool* pool, Isa isa) {
  if (scratchBytes < b.scratchBytes() || weights.inChannels() != s.inChannels ||
      weights.outChannels() != s.outChannels || b.tiles != s.tiles()) {
    std::fprintf(stderr,
                 "petrel: winograd convolution given %zu scratch bytes (needs %zu), mismatched weights or blocking\n",
                 scratchBytes, b.scratchBytes());
    std::abort();
  }
  Conv conv;
  conv.s = &s;
  conv.b = &b;
  conv.input = input;
  conv.weights = &weights;
  conv.epilogue = epilogue;
  conv.output = output;
  conv.scratch = static_cast<char*>(scratch);
  conv.isa = isa;
  const int available = pool ? pool->threads() : 1;

  if (b.whole.count > 0) {
    const int workers = static_cast<int>(std::min<int64_t>({available, b.wholeSlots, b.whole.count}));
    // Blocks are rows of tiles: in a run per thread, each thread reads the
    // pixels it wrote in a 1x1 convolution before (runtime/task_runs.h).
    conv.tasks.reset(b.whole.count, workers);
    auto worker = [&conv](int slot, int thread) {
      conv.tasks.take(thread, [&](int64_t block) { conv.wholeBlock(block, slot); });
    };
    runWorkers(pool, workers, worker);
  }

  // Threads share each block: transforms split by channel, GEMMs by position.
  const WinogradBlocks& sb = b.shared;
  const int workers = std::min(available, b.gemmSlots);
  float* v = conv.v(sb, 0);
  float* m = conv.m(sb, 0);
  for (int64_t block = 0; block < sb.count; ++block) {
    const int64_t first = b.wholeEnd() + block * sb.tiles, count = std::min(sb.tiles, b.tiles - first);
    // Each phase hands its tasks out in one run, from the first.
    conv.tasks.reset(ceilDiv(s.inChannels, kChannelsPerTask), 1);
    auto inputPhase = [&](int, int thread) {
      conv.tasks.take(thread, [&](int64_t group) {
        const int64_t c0 = group * kChannelsPerTask;
        winogradInputTransform(s, input, first, count, c0, std::min(c0 + kChannelsPerTask, s.inChannels), v, sb.ld,
                               sb.vPositionStride, isa);
      });
    };
    runWorkers(pool, workers, inputPhase);

    conv.tasks.reset(P, 1);
    const PositionProducts products(weights, v, m, sb);
    auto gemmPhase = [&](int slot, int thread) {
      conv.tasks.take(thread, [&](int64_t p) {
        sgemm(s.outChannels, count, s.inChannels, products.problem(p), sb.ld, SgemmEpilogue{},
              conv.gemmScratch(slot), b.gemmScratchBytes, nullptr, isa);
      });
    };
    runWorkers(pool, workers, gemmPhase);

    conv.tasks.reset(ceilDiv(s.outChannels, kChannelsPerTask), 1);
    auto outputPhase = [&](int, int thread) {
      conv.tasks.take(thread, [&](int64_t group) {
        const int64_t o0 = group * kChannelsPerTask;
        winogradOutputTransform(s, m, sb.ld, sb.mPositionStride, first, count, o0,
                                std::min(o0 + kChannelsPerTask, s.outChannels), epilogue, output, isa);
      });
    };
    runWorkers(pool, workers, outputPhase);
  }
}

}  // namespace petrel
