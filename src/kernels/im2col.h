#pragma once
// im2col: the image as the right GEMM operand of a convolution.
//
// col[k][n] with k = (c * kernelH + kh) * kernelW + kw and n = oh * outW + ow
// holds image[c][oh*strideH - padTop + kh*dilationH][ow*strideW - padLeft + kw*dilationW],
// or 0 where that falls in the padding. A convolution is then
// out[M][outPixels] = weights[M][depth] * col[depth][outPixels].
#include <cstdint>

#include "kernels/conv_geometry.h"

namespace petrel {

// Writes col[k][n0 .. n0+count) contiguously to `out` (part of one row of the
// im2col matrix). Used by im2col and by the GEMM packing that reads the image
// directly (see SgemmRhs::im2col).
void im2colRowSegment(const Conv2dGeometry& g, const float* image, int64_t k, int64_t n0, int64_t count,
                      float* out);

// The whole matrix: col is [g.depth()][g.outPixels()], row-major.
void im2col(const Conv2dGeometry& g, const float* image, float* col);

// The adjoint of im2col: image[c][ih][iw] += col[k][n] for every (k, n) that
// im2col reads from there. This is what a transposed convolution does with the
// GEMM result; `image` must be initialised by the caller.
void col2imAccumulate(const Conv2dGeometry& g, const float* col, float* image);

}  // namespace petrel
