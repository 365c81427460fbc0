#pragma once
// The geometry of one 2-D convolution over a [channels, inH, inW] image (one
// image, one group). A 1-D convolution is the case inH = outH = kernelH = 1.
#include <cstdint>

namespace petrel {

struct Conv2dGeometry {
  int64_t channels = 1;  // input channels seen by one filter (per group)
  int64_t inH = 1, inW = 1;
  int64_t outH = 1, outW = 1;
  int64_t kernelH = 1, kernelW = 1;
  int64_t strideH = 1, strideW = 1;
  int64_t dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0;  // bottom/right padding is implied by outH/outW

  // Rows of the im2col matrix: the GEMM reduction length.
  int64_t depth() const { return channels * kernelH * kernelW; }
  int64_t inPixels() const { return inH * inW; }
  int64_t outPixels() const { return outH * outW; }
};

}  // namespace petrel
