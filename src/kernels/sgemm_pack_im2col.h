#pragma once
// The im2col B packer (B = im2col(image), see sgemm.h), shared by the portable
// build (sgemm.cpp) and the AVX2 one (x86/sgemm_pack_avx2.cpp); only the copy
// of one run of pixels (`Copy`) differs.
//
// Per call, the packed columns are first cut into runs (pieces of one output
// row), once for all K rows. Each K row of the im2col matrix is then built in
// an L1 buffer run by run - a zero prefix, one contiguous (or strided) copy of
// the input row, a zero suffix, no per-pixel bounds checks - and its 16-float
// pieces are copied to the panels.
//
// Everything here has internal linkage on purpose: the two translation units
// are compiled for different instruction sets, and a shared inline function
// could be linked to its AVX2 copy and run on a CPU without AVX2.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv_geometry.h"
#include "kernels/sgemm.h"

namespace petrel {
namespace {  // NOLINT(google-build-namespaces): see above

// ceil(a / stride) for a >= 0, without a division for strides 1 and 2.
inline int64_t ceilDivStride(int64_t a, int64_t stride) {
  if (stride == 1) return a;
  if (stride == 2) return (a + 1) >> 1;
  return (a + stride - 1) / stride;
}

// A piece of one output row among the packed columns.
struct Im2colRun {
  int64_t column;  // first packed column (relative to j0)
  int64_t length;
  int64_t inRow;   // oh * strideH - padTop: the input row read by kh = 0
  int64_t inCol;   // ow * strideW - padLeft of the first pixel, for kw = 0
};

// The data movement, per instruction set:
//  - Copy::run(dst, src, n, stride): dst[t] = src[t * stride] for t < n;
//  - Copy::zero(dst, n): dst[t] = 0 for t < n;
//  - Copy::panelRow(dst, src): 16 floats.
// run and zero may write (never read) up to 8 floats past dst + n: the row
// buffer has room, and runs are written in order, so a later write fixes it.
// (GCC would turn the short copy and zero loops into library calls - one per
// run of a few dozen floats - if its loop-pattern pass were left on.)
template <class Copy>
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void packRhsIm2colWith(
    const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
    int64_t panelStride) {
  constexpr int64_t NR = kSgemmNR;
  if (panelStride == 0) panelStride = kc * NR;
  constexpr int64_t kChunk = 512;  // columns per pass: the row buffer stays in L1
  alignas(64) float row[kChunk + 16];  // + room for overshoot
  Im2colRun runs[kChunk];
  const int64_t taps = g.kernelH * g.kernelW;
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int64_t width = std::min(kChunk, cols - c0);
    const int64_t padded = (width + NR - 1) / NR * NR;

    int64_t runCount = 0;
    {
      int64_t oh = (j0 + c0) / g.outW, ow = (j0 + c0) % g.outW;
      for (int64_t t = 0; t < width; ++runCount) {
        const int64_t length = std::min(width - t, g.outW - ow);
        runs[runCount] = {t, length, oh * g.strideH - g.padTop, ow * g.strideW - g.padLeft};
        t += length;
        ow = 0;
        ++oh;
      }
    }

    float* chunkOut = out + (c0 / NR) * panelStride;
    int64_t channel = k0 / taps, kh = (k0 % taps) / g.kernelW, kw = k0 % g.kernelW;
    for (int64_t k = 0; k < kc; ++k) {
      const float* plane = image + channel * g.inH * g.inW;
      const int64_t rowOffset = kh * g.dilationH, colOffset = kw * g.dilationW;
      for (int64_t r = 0; r < runCount; ++r) {
        const Im2colRun& run = runs[r];
        float* dst = row + run.column;
        const int64_t ih = run.inRow + rowOffset;
        if (ih < 0 || ih >= g.inH) {
          Copy::zero(dst, run.length);
          continue;
        }
        // Pixels [begin, end) of the run read inside the input row.
        const int64_t iw0 = run.inCol + colOffset;
        const int64_t begin = std::min(iw0 >= 0 ? 0 : ceilDivStride(-iw0, g.strideW), run.length);
        const int64_t end = std::clamp(g.inW - iw0 <= 0 ? 0 : ceilDivStride(g.inW - iw0, g.strideW), begin,
                                       run.length);
        if (begin > 0) Copy::zero(dst, begin);
        if (end > begin) Copy::run(dst + begin, plane + ih * g.inW + iw0 + begin * g.strideW, end - begin, g.strideW);
        if (end < run.length) Copy::zero(dst + end, run.length - end);
      }
      if (padded > width) Copy::zero(row + width, padded - width);  // the last panel's padding

      float* dst = chunkOut + k * NR;
      for (int64_t q = 0; q < padded; q += NR, dst += panelStride) Copy::panelRow(dst, row + q);

      if (++kw == g.kernelW) {
        kw = 0;
        if (++kh == g.kernelH) kh = 0, ++channel;
      }
    }
  }
}

}  // namespace
}  // namespace petrel
