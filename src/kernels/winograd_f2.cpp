// Winograd F(2x2, 3x3): weight transform, scalar transforms and the driver
// (see winograd_f2.h for the method).
#include "kernels/winograd_f2.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/activation_internal.h"
#include "kernels/int_math.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

constexpr int64_t P = kWinogradF2Positions;
constexpr int64_t kTile = 2;       // output tile side
constexpr int64_t kPatch = 4;      // input patch side
constexpr int64_t kMaxTiles = 64;  // one block: V and M of 512 channels stay near L2
// The zero-padded copies of one channel of every image (2 tilesH + 2 rows of
// 2 tilesW + 2) fit in this many floats whenever there are at most kMaxTiles
// tiles: batch (tilesH + 1) (tilesW + 1) <= tiles + batch (tilesH + tilesW + 1)
// <= 64 + 128, times 4.
constexpr int64_t kMaxPaddedFloats = 1024;

// The F(2x2, 3x3) matrices for the points 0, 1, -1 and infinity (Lavin & Gray).
constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// The F(2x2, 3x3) transforms: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// A^T = [1 1 1 0; 0 1 -1 -1], written out in the transforms below.

// Tiles per group in the transforms (8: one AVX2 vector).
constexpr int kGroup = 8;

// Below this much work (channels x tiles x positions) a transform phase runs
// on the calling thread.
constexpr int64_t kParallelMinWork = 1 << 14;

template <class Fn>
void parallelChannels(ThreadPool* pool, int64_t channels, int64_t work, const Fn& fn) {
  if (!pool || pool->threads() == 1 || work < kParallelMinWork) {
    fn(0, channels);
    return;
  }
  pool->parallelFor(static_cast<size_t>(channels), [&](size_t begin, size_t end) {
    fn(static_cast<int64_t>(begin), static_cast<int64_t>(end));
  });
}

// The 16 products of the block: M[p] = U[p] * V[p].
class PositionProducts final : public SgemmBatch {
 public:
  PositionProducts(const std::vector<SgemmPackedLhs>& u, const float* v, int64_t vStride, float* m, int64_t mStride,
                   int64_t ld)
      : u_(u), v_(v), vStride_(vStride), m_(m), mStride_(mStride), ld_(ld) {}
  int64_t count() const override { return P; }
  SgemmProblem problem(int64_t p) const override {
    SgemmProblem problem;
    problem.lhs.packed = &u_[p];
    problem.rhs.matrix = SgemmMatrix{v_ + p * vStride_, ld_, false};
    problem.c = m_ + p * mStride_;
    return problem;
  }

 private:
  const std::vector<SgemmPackedLhs>& u_;
  const float* v_;
  int64_t vStride_;
  float* m_;
  int64_t mStride_, ld_;
};

}  // namespace

bool winogradF2Pays(const Conv2dGeometry& g, int64_t batch, int64_t outChannels) {
  if (!winogradSupports(g) || batch < 1) return false;
  if (winogradPays(winogradShape(g, batch, outChannels))) return false;
  const int64_t tiles = batch * ceilDiv(g.outH, kTile) * ceilDiv(g.outW, kTile);
  return tiles >= 16 && tiles <= kMaxTiles && std::min(g.channels, outChannels) >= 128;
}

WinogradF2Conv::WinogradF2Conv(const Conv2dGeometry& g, int64_t batch, int64_t outChannels, const float* weights)
    : g_(g), batch_(batch), outChannels_(outChannels) {
  if (!winogradSupports(g))
    throw Error("winograd F(2x2) convolution: needs a 3x3 kernel with stride 1 and dilation 1");
  if (batch < 1 || outChannels < 1) throw Error("winograd F(2x2) convolution: sizes must be positive");
  tilesH_ = ceilDiv(g.outH, kTile);
  tilesW_ = ceilDiv(g.outW, kTile);
  paddedRows_ = kTile * tilesH_ + 2;
  paddedCols_ = kTile * tilesW_ + 2;
  if (batch * paddedRows_ * paddedCols_ > kMaxPaddedFloats)
    throw Error("winograd F(2x2) convolution: " + std::to_string(tiles()) + " tiles, more than it serves (at most " +
                std::to_string(kMaxTiles) + ")");
  // Lane e of a group reads its patch at padded + tileOffsets_[j0 + e]; lanes
  // past the last tile read the first patch (their results are not used).
  tileOffsets_.assign(static_cast<size_t>(roundUp(tiles(), kGroup)), 0);
  for (int64_t j = 0; j < tiles(); ++j) {
    const int64_t image = j / (tilesH_ * tilesW_), k = j % (tilesH_ * tilesW_);
    tileOffsets_[j] = image * paddedRows_ * paddedCols_ + (k / tilesW_) * kTile * paddedCols_ + (k % tilesW_) * kTile;
  }
  ld_ = roundUp(tiles(), 16);  // whole SGEMM column panels
  // One extra cache line per position, so the 16 rows a transform writes for
  // one channel do not all fall in the same L1 set.
  vStride_ = g.channels * ld_ + 16;
  mStride_ = outChannels * ld_ + 16;

  // U[p] = (G g G^T)[p / 4][p % 4], [outChannels][channels], rounded once.
  const int64_t cin = g.channels, plane = outChannels * cin;
  std::vector<float> u(static_cast<size_t>(P * plane));  // construction only
  for (int64_t o = 0; o < outChannels; ++o)
    for (int64_t c = 0; c < cin; ++c) {
      const float* w = weights + (o * cin + c) * 9;
      double gw[4][3];  // G g
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) gw[i][k] = kG[i][0] * w[k] + kG[i][1] * w[3 + k] + kG[i][2] * w[6 + k];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          u[(i * 4 + j) * plane + o * cin + c] =
              static_cast<float>(gw[i][0] * kG[j][0] + gw[i][1] * kG[j][1] + gw[i][2] * kG[j][2]);
    }
  positions_ = winogradPackPositions(u.data(), P, outChannels, cin);
}

size_t WinogradF2Conv::weightBytes() const { return winogradPackedBytes(positions_); }

size_t WinogradF2Conv::gemmScratchBytes(int threads) const {
  return roundUp(sgemmScratchBytes(outChannels_, tiles(), g_.channels, true, false, std::max(threads, 1)), 64);
}

size_t WinogradF2Conv::transformBytes() const {
  return static_cast<size_t>(roundUp(P * (vStride_ + mStride_), 16)) * sizeof(float);
}

size_t WinogradF2Conv::scratchBytes(int threads) const { return transformBytes() + gemmScratchBytes(threads); }

// Both transforms work on groups of kGroup tiles, lane e = tile j0 + e: the
// arithmetic runs across the lanes (loops the compiler vectorises) and V and
// M are read and written kGroup contiguous floats at a time; only the patch
// gathers and the output scatters go element by element.
void WinogradF2Conv::inputTransform(const float* input, float* v, int64_t c0, int64_t c1) const {
  const int64_t planeSize = g_.inH * g_.inW, paddedPlane = paddedRows_ * paddedCols_;
  // Channel c of every image, zero-padded: each patch is then read without
  // bounds checks. The borders are zeroed once; channels rewrite the interior.
  float padded[kMaxPaddedFloats];
  std::fill(padded, padded + batch_ * paddedPlane, 0.0f);
  const int64_t rows = std::min(g_.inH, paddedRows_ - g_.padTop), cols = std::min(g_.inW, paddedCols_ - g_.padLeft);
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t image = 0; image < batch_; ++image) {
      const float* plane = input + (image * g_.channels + c) * planeSize;
      float* dst = padded + image * paddedPlane + g_.padTop * paddedCols_ + g_.padLeft;
      for (int64_t iy = 0; iy < rows; ++iy)
        std::copy(plane + iy * g_.inW, plane + iy * g_.inW + cols, dst + iy * paddedCols_);
    }
    for (int64_t j0 = 0; j0 < tiles(); j0 += kGroup) {
      float d[kPatch][kPatch][kGroup];  // the patches
      for (int e = 0; e < kGroup; ++e) {
        const float* patch = padded + tileOffsets_[j0 + e];
        for (int y = 0; y < kPatch; ++y)
          for (int x = 0; x < kPatch; ++x) d[y][x][e] = patch[y * paddedCols_ + x];
      }
      float rows[kPatch][kPatch][kGroup];  // B^T along each patch row
      for (int y = 0; y < kPatch; ++y)
        for (int e = 0; e < kGroup; ++e) {
          rows[y][0][e] = d[y][0][e] - d[y][2][e];
          rows[y][1][e] = d[y][1][e] + d[y][2][e];
          rows[y][2][e] = d[y][2][e] - d[y][1][e];
          rows[y][3][e] = d[y][1][e] - d[y][3][e];
        }
      for (int x = 0; x < kPatch; ++x) {  // B^T down each column: positions (i, x)
        float* dst = v + x * vStride_ + c * ld_ + j0;
        for (int e = 0; e < kGroup; ++e) {
          dst[0 * kPatch * vStride_ + e] = rows[0][x][e] - rows[2][x][e];
          dst[1 * kPatch * vStride_ + e] = rows[1][x][e] + rows[2][x][e];
          dst[2 * kPatch * vStride_ + e] = rows[2][x][e] - rows[1][x][e];
          dst[3 * kPatch * vStride_ + e] = rows[1][x][e] - rows[3][x][e];
        }
      }
    }
  }
}

void WinogradF2Conv::outputTransform(const float* m, const WinogradEpilogue& epilogue, float* output, int64_t o0,
                                     int64_t o1, Isa isa) const {
  const int64_t planeSize = g_.outH * g_.outW, perImage = tilesH_ * tilesW_;
  for (int64_t o = o0; o < o1; ++o) {
    const float bias = epilogue.bias ? epilogue.bias[o] : 0.0f;
    for (int64_t j0 = 0; j0 < tiles(); j0 += kGroup) {
      float cols[kTile][kPatch][kGroup];  // A^T down each column of the tiles' 4x4 values
      for (int x = 0; x < kPatch; ++x) {
        const float* src = m + x * mStride_ + o * ld_ + j0;
        for (int e = 0; e < kGroup; ++e) {
          const float m0 = src[0 * kPatch * mStride_ + e], m1 = src[1 * kPatch * mStride_ + e];
          const float m2 = src[2 * kPatch * mStride_ + e], m3 = src[3 * kPatch * mStride_ + e];
          cols[0][x][e] = m0 + m1 + m2;
          cols[1][x][e] = m1 - m2 - m3;
        }
      }
      float y[kTile][kTile][kGroup];  // A^T along each row, + bias
      for (int r = 0; r < kTile; ++r)
        for (int e = 0; e < kGroup; ++e) {
          y[r][0][e] = cols[r][0][e] + cols[r][1][e] + cols[r][2][e] + bias;
          y[r][1][e] = cols[r][1][e] - cols[r][2][e] - cols[r][3][e] + bias;
        }
      for (int e = 0; e < kGroup && j0 + e < tiles(); ++e) {
        const int64_t j = j0 + e, image = j / perImage, k = j % perImage;
        const int64_t y0 = (k / tilesW_) * kTile, x0 = (k % tilesW_) * kTile;
        const int64_t base = (image * outChannels_ + o) * planeSize;
        for (int r = 0; r < kTile && y0 + r < g_.outH; ++r)
          for (int x = 0; x < kTile && x0 + x < g_.outW; ++x) {
            const int64_t at = base + (y0 + r) * g_.outW + x0 + x;
            output[at] = epilogue.residual ? y[r][x][e] + epilogue.residual[at] : y[r][x][e];
          }
      }
    }
    // The activation over each finished plane (in L1), vectorised.
    for (int64_t image = 0; image < batch_; ++image)
      applyActivation(epilogue.activation, output + (image * outChannels_ + o) * planeSize, planeSize, isa);
  }
}

void WinogradF2Conv::run(const float* input, const WinogradEpilogue& epilogue, float* output, void* scratch,
                         size_t scratchBytes, ThreadPool* pool, Isa isa) const {
  if (scratchBytes < this->scratchBytes(1)) {
    std::fprintf(stderr, "petrel: winograd F(2x2) convolution given %zu scratch bytes, needs %zu\n", scratchBytes,
                 this->scratchBytes(1));
    std::abort();
  }
  // V and M, then the SGEMM's scratch (every byte past them).
  float* v = static_cast<float*>(scratch);
  float* m = v + P * vStride_;
  char* gemmScratch = static_cast<char*>(scratch) + transformBytes();
  const size_t gemmBytes = scratchBytes - transformBytes();

  const int64_t cin = g_.channels;
  parallelChannels(pool, cin, cin * tiles() * P, [&](int64_t c0, int64_t c1) { inputTransform(input, v, c0, c1); });
  sgemmBatched(outChannels_, tiles(), cin, PositionProducts(positions_, v, vStride_, m, mStride_, ld_), ld_,
               SgemmEpilogue{}, gemmScratch, gemmBytes, pool, isa);
  parallelChannels(pool, outChannels_, outChannels_ * tiles() * P,
                   [&](int64_t o0, int64_t o1) { outputTransform(m, epilogue, output, o0, o1, isa); });
}

}  // namespace petrel
