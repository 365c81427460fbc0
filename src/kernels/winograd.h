#pragma once
// Winograd F(4x4, 3x3) convolution for 3x3, stride-1, dilation-1, group-1
// convolutions (fp32).
//
// Each output is cut into 4x4 tiles; tile t reads the 6x6 input patch d at
// (4*ty - padTop, 4*tx - padLeft) (zero outside the image) and
//   V = B^T d B                  (input transform, 36 values per channel and tile)
//   U = G g G^T                  (weight transform, at planning)
//   M[p] = U[p] * V[p]           (36 GEMMs: [Cout][Cin] x [Cin][tiles], the packed SGEMM)
//   Y = A^T M A  + bias, act     (output transform; partial tiles at the edges are cropped)
// Interpolation points 0, 1, -1, 1/2, -2 and infinity: ~35% less fp32
// rounding error than the usual 0, 1, -1, 2, -2 (see winograd.cpp).
//
// Tiles (of all images of the batch, numbered image by image, row by row) are
// processed in blocks of a few dozen, so the block's V and M stay near L2 and
// the scratch is small. With many blocks each thread takes whole blocks;
// with few (small images) the threads share each block: the transforms split
// by channel, the 36 GEMMs by position.
//
// Layouts of the transformed tensors of one block (j = tile - firstTile):
//   V: v[p * positionStride + c * ld + j]    c < inChannels
//   M: m[p * positionStride + o * ld + j]    o < outChannels
// The AVX2 transforms handle 8 tiles per vector (any 8 tiles: each lane reads
// its own tile through 128-bit loads and an in-lane 4x4 transpose), so ld must
// be a multiple of 8; columns past the block's tiles are scratch.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "kernels/conv_geometry.h"
#include "kernels/cpu.h"
#include "kernels/sgemm.h"

namespace petrel {

class ThreadPool;

constexpr int64_t kWinogradTile = 4;        // output tile side
constexpr int64_t kWinogradInputTile = 6;   // input tile side
constexpr int64_t kWinogradPositions = 36;  // 6 x 6 transformed values per tile

// True for what the Winograd path computes: 3x3 kernel, stride 1, dilation 1.
bool winogradSupports(const Conv2dGeometry& g);

// The sizes of one Winograd convolution.
struct WinogradShape {
  int64_t batch = 1;
  int64_t inChannels = 1, outChannels = 1;
  int64_t inH = 1, inW = 1, outH = 1, outW = 1;
  int64_t padTop = 0, padLeft = 0;
  int64_t tilesH = 1, tilesW = 1;  // tiles per image, down and across

  int64_t tilesPerImage() const { return tilesH * tilesW; }
  int64_t tiles() const { return batch * tilesPerImage(); }
};
// Error if !winogradSupports(g).
WinogradShape winogradShape(const Conv2dGeometry& g, int64_t batch, int64_t outChannels);

// Whether Winograd is expected to beat im2col + SGEMM (for the selection).
// Measured with kernels_bench (1 and 2 threads): 1.5-2.7x faster on ResNet's
// 3x3 layers with at least 8 tiles (batch x ceil(outH/4) x ceil(outW/4));
// slower with fewer (512x7x7 at batch 1 has 4: 0.65-0.75x), where streaming
// the 4x larger transformed weights costs more than the saved arithmetic.
// From 16 channels on (min of 100, 1 / 2 threads): SqueezeNet's 16->64 on
// 55x55 0.44 vs 0.67 ms / 0.26-0.29 vs 0.34-0.39; 16->16 on 56x56 0.20 vs
// 0.29 / 0.127 vs 0.142.
bool winogradPays(const WinogradShape& s);

// Where tile `tile` reads and writes. Tiles are numbered image by image;
// within an image, the tiles whose 6x6 patch lies wholly inside the image
// come first (row by row), then the others (row by row), so that groups of 8
// tiles are mostly all-inside and the SIMD transforms read them without masks.
struct WinogradTilePlace {
  int64_t image = 0;
  int64_t inY = 0, inX = 0;    // top-left of the 6x6 patch in the image (may be negative)
  int64_t outY = 0, outX = 0;  // top-left of the 4x4 output tile
};
WinogradTilePlace winogradTilePlace(const WinogradShape& s, int64_t tile);

// The weight transform of weights [outChannels][inChannels][3][3]:
// u[p * outChannels * inChannels + o * inChannels + c] = (G g G^T)[p / 6][p % 6].
// Computed in double, rounded once.
void winogradTransformWeights(const float* weights, int64_t outChannels, int64_t inChannels, float* u);

// Transformed weights u [positions][outChannels][inChannels] packed for the
// SGEMM, one SgemmPackedLhs per position (F(4x4) and F(2x2) both), and the
// bytes they hold.
std::vector<SgemmPackedLhs> winogradPackPositions(const float* u, int64_t positions, int64_t outChannels,
                                                  int64_t inChannels);
size_t winogradPackedBytes(const std::vector<SgemmPackedLhs>& positions);

// The transformed weights packed for the SGEMM: one SgemmPackedLhs
// ([outChannels][inChannels]) per position.
class WinogradWeights {
 public:
  WinogradWeights() = default;
  WinogradWeights(const float* weights, int64_t outChannels, int64_t inChannels);
  int64_t outChannels() const { return outChannels_; }
  int64_t inChannels() const { return inChannels_; }
  const SgemmPackedLhs& position(int64_t p) const { return positions_[p]; }
  size_t bytes() const;

 private:
  int64_t outChannels_ = 0, inChannels_ = 0;
  std::vector<SgemmPackedLhs> positions_;
};

// The transforms of one block of tiles [firstTile, firstTile + tileCount),
// channels [c0, c1) / output channels [o0, o1). Exposed for the tests; the
// Isa must be supported.
void winogradInputTransform(const WinogradShape& s, const float* input, int64_t firstTile, int64_t tileCount,
                            int64_t c0, int64_t c1, float* v, int64_t ld, int64_t positionStride, Isa isa);
// What the output transform adds and applies as it stores a tile:
// output = activation(convolution + bias + residual).
struct WinogradEpilogue {
  const float* bias = nullptr;      // [outChannels], or nullptr
  const float* residual = nullptr;  // laid out as the output, or nullptr (ResNet's skip connection)
  ActivationParams activation;
};

void winogradOutputTransform(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                             int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                             const WinogradEpilogue& epilogue, float* output, Isa isa);

// Blocks of tiles of one kind and the layout of their V and M.
struct WinogradBlocks {
  int64_t tiles = 0;  // per block (the last one may be shorter)
  int64_t count = 0;
  int64_t ld = 0;     // tile columns per row of V and M: tiles rounded up to 8
  int64_t vPositionStride = 0, mPositionStride = 0;  // floats
  size_t vmBytes() const;                             // V and M of one block
};

// How the tiles are split into blocks and the blocks among threads: first
// blocks that a thread takes whole (one synchronisation in all), then blocks
// that the threads share (transforms split by channel, GEMMs by position:
// three synchronisations per block).
struct WinogradBlocking {
  WinogradBlocks whole;   // tiles [0, wholeEnd())
  WinogradBlocks shared;  // the tiles after them
  int wholeSlots = 0;     // V/M buffers for whole blocks, one per thread; shared blocks reuse their memory
  int gemmSlots = 1;      // single-thread SGEMM scratches
  size_t gemmScratchBytes = 0;  // per gemm slot, a multiple of 64
  int64_t tiles = 0;
  int64_t wholeEnd() const { return std::min(tiles, whole.count * whole.tiles); }
  size_t vmAreaBytes() const;  // the V/M buffers at the start of the scratch; the gemm slots follow
  size_t scratchBytes() const;
};

// A whole block's size comes from the cache size (or tilesPerBlock > 0); a
// shared block has `threads` times as many tiles. One thread takes whole
// blocks. Several take whole blocks in rounds, one block each per round; the
// tiles left (fewer than a round) make shared blocks when handing them out
// whole would leave one thread far behind: 49 tiles of 16-tile blocks on 2
// threads are a block each, then a shared block of 17 (not 16 + 16 + 16 + 1).
// split 1 forces whole blocks, 2 shared ones (tuning).
WinogradBlocking planWinograd(const WinogradShape& s, int threads, int64_t tilesPerBlock = 0, int split = 0);

// Scratch for winogradConv2d on up to `threads` threads (a multiple of 64 bytes).
size_t winogradScratchBytes(const WinogradShape& s, int threads);

// The whole convolution: input [batch][inChannels][inH][inW] ->
// output [batch][outChannels][outH][outW], through `epilogue`. The output
// must not overlap the input (the residual may be the output itself).
// `scratch` (64-byte aligned) from winogradScratchBytes(s, threads) or
// planWinograd(s, threads, ...).scratchBytes() with the same `blocking`; with a
// pool of more threads than planned, the planned number works. Does not allocate.
void winogradConv2d(const WinogradShape& s, const WinogradBlocking& blocking, const float* input,
                    const WinogradWeights& weights, const WinogradEpilogue& epilogue, float* output, void* scratch,
                    size_t scratchBytes, ThreadPool* pool, Isa isa = bestIsa());

// Per-Isa transforms (internal; the AVX2 ones need Isa::kAvx2).
void winogradInputTransformScalar(const WinogradShape& s, const float* input, int64_t firstTile,
                                  int64_t tileCount, int64_t c0, int64_t c1, float* v, int64_t ld,
                                  int64_t positionStride);
void winogradInputTransformAvx2(const WinogradShape& s, const float* input, int64_t firstTile, int64_t tileCount,
                                int64_t c0, int64_t c1, float* v, int64_t ld, int64_t positionStride);
void winogradOutputTransformScalar(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                                   int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                                   const WinogradEpilogue& epilogue, float* output);
void winogradOutputTransformAvx2(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                                 int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                                 const WinogradEpilogue& epilogue, float* output);

}  // namespace petrel
