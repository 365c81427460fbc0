#pragma once
// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions on small planes, where
// F(4x4, 3x3) (winograd.h) has too few tiles: ResNet's last stage (512
// channels, 7x7) is 4 tiles of 4x4 but 16 tiles of 2x2.
//
// Each output is cut into 2x2 tiles; tile t reads the 4x4 input patch d at
// (2*ty - padTop, 2*tx - padLeft) (zero outside the image) and
//   V = B^T d B                  (16 values per channel and tile)
//   U = G g G^T                  (at construction, in double)
//   M[p] = U[p] * V[p]           (16 GEMMs: [Cout][Cin] x [Cin][tiles], one batch)
//   Y = A^T M A, epilogue        (bias, residual, activation; edge tiles cropped)
// 16 multiplies per 4 outputs instead of 36: 2.25x fewer (1.7x on a 7x7
// plane, whose 4x4 tiles cover 8x8). The transformed weights are 16/9 of the
// fp32 weights (F(4x4): 4x), which matters when every product streams its
// weights from memory, as on a 7x7 plane. The points 0, 1, -1 and infinity
// are exact in fp32: rounding is close to a direct sum's.
//
// All tiles of the batch form one block (the selection keeps it small), so V
// and M are v[p * vStride + c * ld + j] and m[p * mStride + o * ld + j] for
// tile j of the batch. The transforms are portable C++ over groups of 8 tiles
// (the compiler vectorises the arithmetic across the tiles); the input
// transform reads each patch from a zero-padded copy of the channel plane.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/conv_geometry.h"
#include "kernels/cpu.h"
#include "kernels/sgemm.h"
#include "kernels/winograd.h"

namespace petrel {

class ThreadPool;

constexpr int64_t kWinogradF2Positions = 16;  // 4 x 4 transformed values per tile

// Whether F(2x2) is expected to beat both im2col + SGEMM and F(4x4):
// winogradSupports(g), F(4x4) not paying (too few tiles), 16 (a whole SGEMM
// column panel) to 64 tiles of 2x2 over the batch, and at least 128
// channels in and out. Measured against im2col + SGEMM (min of 50, 1 / 2
// threads): 512x7x7 1.85-1.89 vs 2.68-2.71 ms / 1.14 vs 1.61; 256x7x7
// 0.53 vs 0.69 / 0.27 vs 0.37; 128x7x7 0.185 vs 0.194 / 0.159 vs 0.181.
// Slower with fewer tiles: 512x5x5 (9 tiles) 2.21 vs 1.89, 512x3x3 1.65 vs 1.09.
bool winogradF2Pays(const Conv2dGeometry& g, int64_t batch, int64_t outChannels);

class WinogradF2Conv {
 public:
  // weights [outChannels][g.channels][3][3]; read only here. Error if
  // !winogradSupports(g), a size is not positive or the batch has more
  // tiles than one block serves (winogradF2Pays never chooses such a shape).
  WinogradF2Conv(const Conv2dGeometry& g, int64_t batch, int64_t outChannels, const float* weights);

  int64_t tiles() const { return batch_ * tilesH_ * tilesW_; }
  size_t weightBytes() const;
  // Scratch for run() on up to `threads` threads (a multiple of 64 bytes).
  size_t scratchBytes(int threads) const;

  // input [batch][channels][inH][inW] -> output [batch][outChannels][outH][outW]
  // through `epilogue`. The output must not overlap the input (the residual
  // may be the output itself). scratch: 64-byte aligned, from scratchBytes.
  // With a pool of more threads than the scratch was sized for, fewer work.
  void run(const float* input, const WinogradEpilogue& epilogue, float* output, void* scratch, size_t scratchBytes,
           ThreadPool* pool, Isa isa = bestIsa()) const;

 private:
  Conv2dGeometry g_;
  int64_t batch_ = 1, outChannels_ = 1;
  int64_t tilesH_ = 1, tilesW_ = 1;
  int64_t paddedRows_ = 0, paddedCols_ = 0;  // a zero-padded channel plane in the input transform
  std::vector<int64_t> tileOffsets_;         // of each tile's patch in the padded planes
  int64_t ld_ = 0;                  // tile columns per row of V and M
  int64_t vStride_ = 0, mStride_ = 0;  // floats between positions
  std::vector<SgemmPackedLhs> positions_;

  size_t transformBytes() const;  // V and M, a multiple of 64
  size_t gemmScratchBytes(int threads) const;
  void inputTransform(const float* input, float* v, int64_t c0, int64_t c1) const;
  void outputTransform(const float* m, const WinogradEpilogue& epilogue, float* output, int64_t o0, int64_t o1,
                       Isa isa) const;
};

}  // namespace petrel
