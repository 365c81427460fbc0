// Depthwise convolution, AVX2, on a zero-padded copy of the plane, made a
// band of rows at a time (depthwise.h): outputs are computed in blocks of up
// to 4 rows (2 at stride 2) by 2 vectors of 8 columns, then fewer, so that 8
// independent chains of FMAs are in flight (2 FMA units x 4 cycles of
// latency) however the plane is shaped. At stride 2 the copy is split into
// even and odd columns, so every tap is a plain load. The filter size, the
// stride and the activation are compile-time, so each load is one pointer
// per input row plus a constant. Small planes take the 8-channel path at the
// end of this file instead (depthwise.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/depthwise.h"
#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

using avx2::Fused;

// Output rows per block: the input rows a block reads each take a register.
template <int S>
constexpr int kMaxBlockRows = S == 1 ? 4 : 2;

// The rows of the padded plane a block of R output rows reads.
template <int R, int S, int K>
constexpr int kBlockInputRows = (R - 1) * S + K;

struct PlaneArgs {
  const float* filter;  // K x K
  __m256 bias;
  ActivationParams activation;
  // Stride 2: tap kw of output 0 reads row[evenTaps + kw/2] for even kw,
  // row[oddTaps + kw/2] for odd kw.
  int64_t evenTaps, oddTaps;
};

// R output rows by NV vectors of 8 columns from output column ow, activated.
// rows[i]: padded row i of the block. Tap (kh, kw) of output (r, ow) reads
// padded row r*S + kh at column ow + kw (stride 1) or at ow + kw/2 from the
// even or odd taps' start (stride 2).
template <int R, int NV, int S, int K, Fused F>
[[gnu::always_inline]] inline void computeBlock(const PlaneArgs& a, const float* const (&rows)[kBlockInputRows<R, S, K>],
                                                int64_t ow, __m256 (&out)[R][NV]) {
  // Few vectors (a 7-wide plane: 4 rows of 1) also split each vector's
  // filter rows over kChains accumulators, to keep 8 chains.
  constexpr int kChains = std::min(K, std::max(1, 8 / (R * NV)));
  const int64_t evenColumn = S == 1 ? ow : ow + a.evenTaps, oddColumn = S == 1 ? ow : ow + a.oddTaps;
  __m256 acc[R][NV][kChains];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int n = 0; n < NV; ++n) {
      acc[r][n][0] = a.bias;
#pragma GCC unroll 8
      for (int c = 1; c < kChains; ++c) acc[r][n][c] = _mm256_setzero_ps();
    }
#pragma GCC unroll 8
  for (int kh = 0; kh < K; ++kh)
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) {
      const __m256 w = _mm256_broadcast_ss(a.filter + kh * K + kw);
      const int64_t column = (kw % 2 ? oddColumn : evenColumn) + (S == 1 ? kw : kw / 2);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int n = 0; n < NV; ++n) {
          __m256& sum = acc[r][n][kh % kChains];
          sum = _mm256_fmadd_ps(_mm256_loadu_ps(rows[r * S + kh] + column + 8 * n), w, sum);
        }
    }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int n = 0; n < NV; ++n) {
      __m256 sum = acc[r][n][0];
#pragma GCC unroll 8
      for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[r][n][c]);
      out[r][n] = avx2::activateAs<F>(a.activation, sum);
    }
}

// Stores the even and the odd lanes of lo, hi at even[0..7] and odd[0..7].
[[gnu::always_inline]] inline void storeSplit(__m256 lo, __m256 hi, float* even, float* odd) {
  _mm256_storeu_ps(even, avx2::everyOther<false>(lo, hi));
  _mm256_storeu_ps(odd, avx2::everyOther<true>(lo, hi));
}

// row[start], ..., row[start + 7], zeros for the indices from n on.
[[gnu::always_inline]] inline __m256 loadUpTo(const float* row, int64_t start, int64_t n) {
  return start < n ? _mm256_maskload_ps(row + start, avx2::firstLanes(n - start)) : _mm256_setzero_ps();
}

// R output rows from output row `oh`, whose input rows start at row
// (oh - band) * S of the padded band: the last vector of each row first,
// computed whole (the padded plane is wide enough) and stored whole where it
// stays inside the plane: the lanes past the row's end land on later rows,
// which are stored after it (by this block's whole vectors, their own last
// vectors, or the next blocks). Masked stores are slow on AMD; only the
// plane's last rows need one. Then 16 columns at a time, then 8.
template <int R, int S, int K, Fused F>
[[gnu::always_inline]] inline void outputRowBlock(const Conv2dGeometry& g, const PlaneArgs& a, const float* padded,
                                                  int64_t rowStride, int64_t band, int64_t oh, float* out) {
  const float* rows[kBlockInputRows<R, S, K>];
#pragma GCC unroll 16
  for (int i = 0; i < kBlockInputRows<R, S, K>; ++i) rows[i] = padded + ((oh - band) * S + i) * rowStride;
  float* y = out + oh * g.outW;
  const int64_t outW = g.outW, whole = outW / 8 * 8;
  if (whole < outW) {
    __m256 v[R][1];
    computeBlock<R, 1, S, K, F>(a, rows, whole, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      if ((oh + r) * outW + whole + 8 <= g.outH * outW)
        _mm256_storeu_ps(y + r * outW + whole, v[r][0]);
      else
        _mm256_maskstore_ps(y + r * outW + whole, avx2::firstLanes(outW - whole), v[r][0]);
    }
  }
  int64_t ow = 0;
  for (; ow + 16 <= outW; ow += 16) {
    __m256 v[R][2];
    computeBlock<R, 2, S, K, F>(a, rows, ow, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(y + r * outW + ow, v[r][0]);
      _mm256_storeu_ps(y + r * outW + ow + 8, v[r][1]);
    }
  }
  if (ow < whole) {
    __m256 v[R][1];
    computeBlock<R, 1, S, K, F>(a, rows, ow, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) _mm256_storeu_ps(y + r * outW + ow, v[r][0]);
  }
}

// Output rows [band, end) from the padded band.
template <int S, int K, Fused F>
void outputRows(const Conv2dGeometry& g, const PlaneArgs& a, const float* padded, int64_t rowStride, int64_t band,
                int64_t end, float* out) {
  constexpr int R = kMaxBlockRows<S>;
  int64_t oh = band;
  for (; oh + R <= end; oh += R) outputRowBlock<R, S, K, F>(g, a, padded, rowStride, band, oh, out);
  if (R == 4 && oh + 2 <= end) {  // 7 rows are 4 + 2 + 1
    outputRowBlock<2, S, K, F>(g, a, padded, rowStride, band, oh, out);
    oh += 2;
  }
  if (oh < end) outputRowBlock<1, S, K, F>(g, a, padded, rowStride, band, oh, out);
}

// The `rows` rows of the padded plane from row `first` into the band, in
// whole vectors: the lanes past an input row's end are written as zeros,
// which is what the padding holds, and the rows above and below the input are
// zeroed whole. At stride 2 each row is split into its even and odd columns
// on the way, straight from the input. Sizes are copied to locals: the vector
// stores may alias anything.
void copyBand(const Conv2dGeometry& g, const DepthwisePaddedPlane& plane, const float* in, int64_t first,
              int64_t rows, float* padded) {
  const int64_t inH = g.inH, inW = g.inW, columns = plane.columns;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ih = first + r - g.padTop;
    float* dst = padded + r * columns;
    if (ih < 0 || ih >= inH) {
      std::memset(dst, 0, columns * sizeof(float));
      continue;
    }
    const float* src = in + ih * inW;
    if (g.strideW == 1) {
      const int64_t whole = inW / 8 * 8;
      dst += g.padLeft;
      for (int64_t c = 0; c < whole; c += 8) _mm256_storeu_ps(dst + c, _mm256_loadu_ps(src + c));
      if (whole < inW) _mm256_storeu_ps(dst + whole, loadUpTo(src, whole, inW));
    } else {
      const int64_t whole = inW / 16 * 16;
      float* even = dst + plane.margin;
      float* odd = even + plane.half;
      for (int64_t c = 0; c < whole; c += 16)
        storeSplit(_mm256_loadu_ps(src + c), _mm256_loadu_ps(src + c + 8), even + c / 2, odd + c / 2);
      if (whole < inW)
        storeSplit(loadUpTo(src, whole, inW), loadUpTo(src, whole + 8, inW), even + whole / 2, odd + whole / 2);
    }
  }
}

// The 8-channel path (small planes): see depthwise.h. Pixels of the
// interleaved plane are 8 floats, so every load and store of it is aligned.

// Channels [0, lanes) of 8 input pixels from pixel p, as 8 vectors of 8
// channels, into their places in the plane. n < 8 pixels (the last block)
// are read masked: nothing past the planes is touched.
[[gnu::always_inline]] inline void interleaveInput(const float* in, int64_t planeFloats, int lanes, int64_t p,
                                                   int64_t n, const int32_t* places, float* plane) {
  __m256 r[8];
  if (n == 8 && lanes == 8) {
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) r[c] = _mm256_loadu_ps(in + c * planeFloats + p);
  } else {
    const __m256i mask = avx2::firstLanes(n);
    for (int c = 0; c < 8; ++c)
      r[c] = c < lanes ? _mm256_maskload_ps(in + c * planeFloats + p, mask) : _mm256_setzero_ps();
  }
  avx2::transpose8x8(r);
  if (n == 8) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) _mm256_store_ps(plane + 8 * int64_t{places[p + j]}, r[j]);
  } else {
    for (int j = 0; j < n; ++j) _mm256_store_ps(plane + 8 * int64_t{places[p + j]}, r[j]);
  }
}

// Channels [0, lanes) of n <= 8 outputs of one row from output pixel p,
// whole vectors of 8 channels in acc, transposed and stored. A short block's
// whole vectors spill onto the outputs after it, which later blocks store;
// where they would pass the plane's end (into the next channel's plane,
// another block's, or past the tensor), the block goes through a buffer.
[[gnu::always_inline]] inline void storeOutputs(__m256 (&acc)[8], int lanes, int64_t n, int64_t p,
                                                int64_t outPixels, float* out) {
  avx2::transpose8x8(acc);  // acc[c]: 8 pixels of channel c
  out += p;
  if (p + 8 <= outPixels) {
    if (lanes == 8) {
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(out + c * outPixels, acc[c]);
    } else {
      for (int c = 0; c < lanes; ++c) _mm256_storeu_ps(out + c * outPixels, acc[c]);
    }
    return;
  }
  alignas(32) float rows[8][8];
  for (int c = 0; c < 8; ++c) _mm256_store_ps(rows[c], acc[c]);
  for (int c = 0; c < lanes; ++c) std::memcpy(out + c * outPixels, rows[c], n * sizeof(float));
}

template <int K, int S, Fused F>
void channelBlock(const Conv2dGeometry& g, const DepthwiseChannelBlockLayout& layout, const float* in, int lanes,
                  const float* filters, const float* bias, const ActivationParams& activation, float* out,
                  float* work) {
  float* const plane = work;
  float* const taps = work + layout.taps;
  const int32_t* const places = reinterpret_cast<const int32_t*>(work + layout.inputPlaces);
  const int64_t inPixels = g.inPixels(), outPixels = g.outPixels(), rowFloats = 8 * layout.columns;

  for (int t = 0; t < K * K; ++t)
    for (int c = 0; c < 8; ++c) taps[8 * t + c] = c < lanes ? filters[c * K * K + t] : 0.0f;
  alignas(32) float biases[8] = {};
  for (int c = 0; c < lanes && bias; ++c) biases[c] = bias[c];
  const __m256 biasVector = _mm256_load_ps(biases);

  for (int64_t p = 0; p < inPixels; p += 8)
    interleaveInput(in, inPixels, lanes, p, std::min<int64_t>(8, inPixels - p), places, plane);

  // 8 outputs of a row at a time: 8 chains of FMAs, all read through one
  // pointer (the plane is wide enough for a last block's whole 8).
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    for (int64_t ow = 0; ow < g.outW; ow += 8) {
      const float* const first = plane + oh * S * rowFloats + ow * S * 8;
      __m256 acc[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) acc[j] = biasVector;
#pragma GCC unroll 5
      for (int kh = 0; kh < K; ++kh) {
        const float* const row = first + kh * rowFloats;
#pragma GCC unroll 5
        for (int kw = 0; kw < K; ++kw) {
          const __m256 w = _mm256_load_ps(taps + 8 * (kh * K + kw));
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(_mm256_load_ps(row + 8 * (j * S + kw)), w, acc[j]);
        }
      }
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) acc[j] = avx2::activateAs<F>(activation, acc[j]);
      storeOutputs(acc, lanes, std::min<int64_t>(8, g.outW - ow), oh * g.outW + ow, outPixels, out);
    }
  }
}

}  // namespace

void depthwisePlaneAvx2(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                        const ActivationParams& activation, float* out, float* padded) {
  const DepthwisePaddedPlane plane = depthwisePaddedPlane(g);
  PlaneArgs a;
  a.filter = filter;
  a.bias = _mm256_set1_ps(bias);
  a.activation = activation;
  // Tap kw reads input column 2*ow + kw - padLeft: its parity and half are
  // those of d = kw - padLeft; kw = 0 gives the even taps' part and start.
  const int64_t d0 = -g.padLeft, parity0 = d0 & 1, start0 = plane.margin + (d0 >> 1);
  a.evenTaps = (parity0 ? plane.half : 0) + start0;
  a.oddTaps = (parity0 ? 0 : plane.half) + start0 + parity0;
  avx2::withFused(activation.kind, [&](auto fused) {
    constexpr Fused F = decltype(fused)::value;
    const int64_t rowStride = plane.columns;
    for (int64_t band = 0; band < g.outH; band += plane.bandRows) {
      const int64_t end = std::min(g.outH, band + plane.bandRows);
      copyBand(g, plane, in, band * g.strideH, (end - 1 - band) * g.strideH + g.kernelH, padded);
      if (g.strideW == 1 && g.kernelW == 3) outputRows<1, 3, F>(g, a, padded, rowStride, band, end, out);
      if (g.strideW == 1 && g.kernelW == 5) outputRows<1, 5, F>(g, a, padded, rowStride, band, end, out);
      if (g.strideW == 2 && g.kernelW == 3) outputRows<2, 3, F>(g, a, padded, rowStride, band, end, out);
      if (g.strideW == 2 && g.kernelW == 5) outputRows<2, 5, F>(g, a, padded, rowStride, band, end, out);
    }
  });
}

void depthwiseChannelBlockAvx2(const Conv2dGeometry& g, const DepthwiseChannelBlockLayout& layout, const float* in,
                               int lanes, const float* filters, const float* bias, const ActivationParams& activation,
                               float* out, float* work) {
  avx2::withFused(activation.kind, [&](auto fused) {
    constexpr Fused F = decltype(fused)::value;
    if (g.kernelW == 3 && g.strideW == 1)
      channelBlock<3, 1, F>(g, layout, in, lanes, filters, bias, activation, out, work);
    if (g.kernelW == 3 && g.strideW == 2)
      channelBlock<3, 2, F>(g, layout, in, lanes, filters, bias, activation, out, work);
    if (g.kernelW == 5 && g.strideW == 1)
      channelBlock<5, 1, F>(g, layout, in, lanes, filters, bias, activation, out, work);
    if (g.kernelW == 5 && g.strideW == 2)
      channelBlock<5, 2, F>(g, layout, in, lanes, filters, bias, activation, out, work);
  });
}

}  // namespace petrel
