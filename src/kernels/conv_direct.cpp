#include "kernels/conv_direct.h"

#include <algorithm>

#include "kernels/int_math.h"
#include "kernels/sgemm.h"

namespace petrel {

// Up to 4 channels: with 16 (SqueezeNet's 3x3 expand layers, K = 144) the
// in-place reads were slower than packing (0.93-0.97 against 0.78-0.93 ms per
// layer), as each B panel then serves enough row panels to repay its packing.
bool convDirectApplies(const Conv2dGeometry& g, Isa isa) {
  return isa == Isa::kAvx2 && g.channels <= 4 && g.depth() <= kSgemmKC && g.strideH == g.strideW &&
         (g.strideW == 1 || g.strideW == 2) && g.dilationH == 1 && g.dilationW == 1 && g.outW >= kSgemmNR;
}

// Output rows per window: the window of all channels is about this big, so
// that it stays in L2 next to the output rows being written.
constexpr int64_t kWindowBytes = 64 * 1024;

ConvDirectLayout convDirectLayout(const Conv2dGeometry& g, int64_t m) {
  ConvDirectLayout d;
  d.phases = g.strideW;
  // Output ow's tap kw reads index ow + kw / stride of part kw % stride; the
  // last strip of 16 outputs is computed whole.
  d.length = roundUp(roundUp(g.outW, kSgemmNR) + (g.kernelW - 1) / g.strideW, 8);
  const int64_t paddedRowBytes = g.channels * d.rowFloats() * static_cast<int64_t>(sizeof(float));
  // chunkRows output rows read (chunkRows - 1) * strideH + kernelH padded rows.
  const int64_t fitting = (kWindowBytes / paddedRowBytes - g.kernelH) / g.strideH + 1;
  d.chunkRows = std::max<int64_t>(1, std::min(fitting, g.outH));
  d.windowRows = (d.chunkRows - 1) * g.strideH + g.kernelH;
  d.windowFloats = roundUp(g.channels * d.windowRows * d.rowFloats(), 16);
  d.tileFloats = roundUp(m, kSgemmMR) * kSgemmNR;
  return d;
}

size_t convDirectScratchBytes(const Conv2dGeometry& g, int64_t m, int threads) {
  return static_cast<size_t>(convDirectLayout(g, m).threadFloats() * std::max(threads, 1)) * sizeof(float);
}

}  // namespace petrel
