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

// A 3x3 convolution, stride 1, padded 1 on every side, of `channels` channels
// on a side x side image: the output keeps the image's size (ResNet's body,
// the shape the Winograd kernels serve).
inline Conv2dGeometry sameSize3x3(int64_t channels, int64_t side) {
  Conv2dGeometry g;
  g.channels = channels;
  g.inH = g.inW = g.outH = g.outW = side;
  g.kernelH = g.kernelW = 3;
  g.padTop = g.padLeft = 1;
  return g;
}

}  // namespace petrel
