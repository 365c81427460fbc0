#include "kernels/im2col.h"

#include <algorithm>
#include <cstring>

#include "kernels/int_math.h"

namespace petrel {

namespace {

// For a run of output columns starting at input column `iw0` with stride `sw`,
// the positions [begin, end) of the run that read inside [0, inW).
inline void validRange(int64_t iw0, int64_t sw, int64_t inW, int64_t run, int64_t* begin, int64_t* end) {
  const int64_t b = iw0 >= 0 ? 0 : ceilDiv(-iw0, sw);
  const int64_t e = inW - iw0 <= 0 ? 0 : ceilDiv(inW - iw0, sw);
  *begin = std::min(b, run);
  *end = std::clamp(e, *begin, run);
}

}  // namespace

void im2colRowSegment(const Conv2dGeometry& g, const float* image, int64_t k, int64_t n0, int64_t count,
                      float* out) {
  const int64_t kw = k % g.kernelW;
  const int64_t kh = (k / g.kernelW) % g.kernelH;
  const int64_t c = k / (g.kernelW * g.kernelH);
  const float* plane = image + c * g.inH * g.inW;
  const int64_t rowOffset = kh * g.dilationH - g.padTop;
  const int64_t colOffset = kw * g.dilationW - g.padLeft;
  int64_t oh = n0 / g.outW;
  int64_t ow = n0 % g.outW;
  while (count > 0) {
    const int64_t run = std::min(count, g.outW - ow);
    const int64_t ih = oh * g.strideH + rowOffset;
    if (ih < 0 || ih >= g.inH) {
      std::fill(out, out + run, 0.0f);
    } else {
      const float* row = plane + ih * g.inW;
      const int64_t iw0 = ow * g.strideW + colOffset;
      int64_t begin, end;
      validRange(iw0, g.strideW, g.inW, run, &begin, &end);
      for (int64_t t = 0; t < begin; ++t) out[t] = 0.0f;
      const int64_t valid = end - begin;
      if (valid > 0) {
        const float* src = row + (iw0 + begin * g.strideW);  // first input read
        float* dst = out + begin;
        if (g.strideW != 1) {
          for (int64_t t = 0; t < valid; ++t) dst[t] = src[t * g.strideW];
        } else if (valid >= 16) {  // long runs: a library copy; short ones (7x7 images): a loop
          std::memcpy(dst, src, valid * sizeof(float));
        } else {
          for (int64_t t = 0; t < valid; ++t) dst[t] = src[t];
        }
      }
      for (int64_t t = end; t < run; ++t) out[t] = 0.0f;
    }
    out += run;
    count -= run;
    ow = 0;
    ++oh;
  }
}

void im2col(const Conv2dGeometry& g, const float* image, float* col) {
  const int64_t n = g.outPixels();
  for (int64_t k = 0; k < g.depth(); ++k) im2colRowSegment(g, image, k, 0, n, col + k * n);
}

void col2imAccumulate(const Conv2dGeometry& g, const float* col, float* image) {
  const int64_t n = g.outPixels();
  for (int64_t k = 0; k < g.depth(); ++k) {
    const int64_t kw = k % g.kernelW;
    const int64_t kh = (k / g.kernelW) % g.kernelH;
    const int64_t c = k / (g.kernelW * g.kernelH);
    float* plane = image + c * g.inH * g.inW;
    const float* colRow = col + k * n;
    for (int64_t oh = 0; oh < g.outH; ++oh) {
      const int64_t ih = oh * g.strideH + kh * g.dilationH - g.padTop;
      if (ih < 0 || ih >= g.inH) continue;
      float* row = plane + ih * g.inW;
      const int64_t iw0 = kw * g.dilationW - g.padLeft;
      int64_t begin, end;
      validRange(iw0, g.strideW, g.inW, g.outW, &begin, &end);
      const float* src = colRow + oh * g.outW;
      for (int64_t ow = begin; ow < end; ++ow) row[iw0 + ow * g.strideW] += src[ow];
    }
  }
}

}  // namespace petrel
