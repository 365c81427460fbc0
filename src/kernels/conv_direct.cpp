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

ConvDirectLayout convDirectLayout(const Conv2dGeometry& g, int64_t m) {
  ConvDirectLayout d;
  d.paddedRows = (g.outH - 1) * g.strideH + g.kernelH;
  d.phases = g.strideW;
  // Output ow's tap kw reads index ow + kw / stride of part kw % stride; the
  // last strip of 16 outputs is computed whole.
  d.length = roundUp(roundUp(g.outW, kSgemmNR) + (g.kernelW - 1) / g.strideW, 8);
  d.copyFloats = roundUp(g.channels * d.paddedRows * d.rowFloats(), 16);
  d.tileFloats = roundUp(m, kSgemmMR) * kSgemmNR;
  return d;
}

size_t convDirectScratchBytes(const Conv2dGeometry& g, int64_t m, int threads) {
  const ConvDirectLayout d = convDirectLayout(g, m);
  return static_cast<size_t>(d.copyFloats + d.tileFloats * std::max(threads, 1)) * sizeof(float);
}

}  // namespace petrel
