// Direct convolution for few channels (kernels/conv_direct.h), AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv_direct.h"
#include "kernels/sgemm.h"
#include "kernels/sgemm_internal.h"
#include "kernels/x86/avx2_lanes.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

// Part `phase` of padded row pr of one channel: dst[i] = padded[pr][i * stride + phase],
// zero outside the input.
void fillPart(const Conv2dGeometry& g, const ConvDirectLayout& d, const float* plane, int64_t pr, int64_t phase,
              float* dst) {
  const int64_t ih = pr - g.padTop, stride = g.strideW, length = d.length;
  if (ih < 0 || ih >= g.inH) {
    std::memset(dst, 0, length * sizeof(float));
    return;
  }
  const float* src = plane + ih * g.inW;
  // Input column of index i: i * stride + phase - padLeft, inside [0, inW) for i in [begin, end).
  const int64_t first = phase - g.padLeft;
  const int64_t begin = std::clamp<int64_t>(first >= 0 ? 0 : (-first + stride - 1) / stride, 0, length);
  const int64_t end = std::clamp<int64_t>(g.inW - first <= 0 ? 0 : (g.inW - first + stride - 1) / stride, begin, length);
  for (int64_t i = 0; i < begin; ++i) dst[i] = 0.0f;
  int64_t i = begin;
  if (stride == 1) {
    for (; i + 8 <= end; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i + first));
  } else {
    // everyOther reads 16 inputs from the first: all inside while 2i + first + 15 < inW.
    for (; i + 8 <= end && 2 * i + first + 16 <= g.inW; i += 8)
      _mm256_storeu_ps(dst + i, avx2::everyOther<false>(src + 2 * i + first));
  }
  for (; i < end; ++i) dst[i] = src[i * stride + first];
  for (; i < length; ++i) dst[i] = 0.0f;
}

}  // namespace

void convDirectRows(const Conv2dGeometry& g, const SgemmPackedLhs& weights, const float* image, const float* bias,
                    const ActivationParams& activation, void* scratch, int64_t first, int64_t last, float* out,
                    int64_t rowStride, int64_t channelStride, int thread) {
  const int64_t m = weights.rows(), k = g.depth();
  const ConvDirectLayout d = convDirectLayout(g, m);
  const int64_t S = g.strideH, rowFloats = d.rowFloats();
  float* window = static_cast<float*>(scratch) + thread * d.threadFloats();
  float* tile = window + d.windowFloats;
  SgemmTileStore store;
  store.rows = m;
  store.bias = bias ? SgemmBias::kPerRow : SgemmBias::kNone;
  store.biasValues = bias;
  store.activation = activation;
  const float* a = weights.panels(0, 0);
  const float* rows[kSgemmKC];  // im2col row k of output column 0
  for (int64_t chunk = first; chunk < last; chunk += d.chunkRows) {
    const int64_t chunkEnd = std::min(last, chunk + d.chunkRows);
    // Padded rows [chunk * S, ...) of every channel into the window.
    const int64_t filledRows = (chunkEnd - chunk - 1) * S + g.kernelH;
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t r = 0; r < filledRows; ++r)
        for (int64_t phase = 0; phase < g.strideW; ++phase)
          fillPart(g, d, image + c * g.inPixels(), chunk * S + r, phase,
                   window + (c * d.windowRows + r) * rowFloats + phase * d.length);
    for (int64_t oh = chunk; oh < chunkEnd; ++oh) {
      for (int64_t kk = 0, c = 0; c < g.channels; ++c)
        for (int64_t kh = 0; kh < g.kernelH; ++kh)
          for (int64_t kw = 0; kw < g.kernelW; ++kw, ++kk)
            rows[kk] = window + (c * d.windowRows + (oh - chunk) * S + kh) * rowFloats + (kw % g.strideW) * d.length +
                       kw / g.strideW;
      float* y = out + (oh - first) * rowStride;
      int64_t ow = 0;
      for (; ow + kSgemmNR <= g.outW; ow += kSgemmNR)
        sgemmKernel6x16RowsAvx2(k, a, rows, ow, y + ow, channelStride, store);
      if (ow < g.outW) {  // the last strip through a tile: its 16 columns would run into the next row
        sgemmKernel6x16RowsAvx2(k, a, rows, ow, tile, kSgemmNR, store);
        for (int64_t i = 0; i < m; ++i)
          std::memcpy(y + i * channelStride + ow, tile + i * kSgemmNR, (g.outW - ow) * sizeof(float));
      }
    }
  }
}

void convDirect(const Conv2dGeometry& g, const SgemmPackedLhs& weights, const float* image, const float* bias,
                const ActivationParams& activation, float* output, void* scratch, size_t scratchBytes,
                ThreadPool* pool) {
  const ConvDirectLayout d = convDirectLayout(g, weights.rows());
  const int64_t slots = static_cast<int64_t>(scratchBytes / sizeof(float)) / d.threadFloats();
  const bool parallel = pool && pool->threads() > 1 && slots >= pool->threads();
  const int64_t bands = parallel ? pool->threads() : 1;
  // Each thread takes one contiguous band of rows: neighbouring rows share
  // cache lines of every output plane, so interleaving them between threads
  // would bounce those lines.
  auto band = [&](size_t task, int thread) {
    const int64_t b = static_cast<int64_t>(task);
    const int64_t first = g.outH * b / bands, last = g.outH * (b + 1) / bands;
    convDirectRows(g, weights, image, bias, activation, scratch, first, last, output + first * g.outW, g.outW,
                   g.outPixels(), thread);
  };
  if (parallel)
    pool->parallelTasks(static_cast<size_t>(bands), band);
  else
    band(0, 0);
}

}  // namespace petrel
