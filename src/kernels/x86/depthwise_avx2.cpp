// Depthwise convolution, AVX2, on a zero-padded copy of the plane: output
// rows are computed 4 at a time (then 2, then 1), in whole vectors of 8
// columns (the last one stored in part), so several independent accumulators
// are in flight however narrow the plane; stride 2 de-interleaves the even
// inputs. 3x3 and 5x5 filters are unrolled at compile time, so the
// accumulators stay in registers.
#include <immintrin.h>

#include <algorithm>

#include "kernels/depthwise.h"
#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

// The 8 inputs of one tap: p[0..7] (stride 1) or p[0], p[2], ..., p[14] (stride 2).
template <int S>
[[gnu::always_inline]] inline __m256 loadInputs(const float* p) {
  return S == 1 ? _mm256_loadu_ps(p) : avx2::everyOther(p);
}

struct PlaneArgs {
  const float* filter;
  int64_t rowStride;  // of the padded plane
  int64_t kernelH, kernelW, dilationH, dilationW;
  __m256 bias;
  ActivationParams activation;
};

// V vectors of 8 outputs, activated: vector v from the padded input at
// top + v*step (the first row and column its first output reads), i.e. V
// output rows at the same columns. KH/KW: the kernel size, 0 = known at run
// time; a 3x3 filter's taps come in registers (`taps`).
template <int V, int S, int KH, int KW>
[[gnu::always_inline]] inline void computeVectors(const PlaneArgs& a, const __m256* taps, const float* top,
                                                  int64_t step, __m256* out) {
  const int64_t kernelH = KH ? KH : a.kernelH, kernelW = KW ? KW : a.kernelW;
  // Each vector sums its filter rows into kChains accumulators, so that
  // enough chains of FMAs are in flight (2 FMA units x 4 cycles of latency)
  // however few vectors there are: a 7x7 plane is 7 rows of 1 vector. 3x3
  // keeps its 9 taps in registers instead, which leaves room for fewer
  // accumulators (measured: more chains do not pay there; for 5x5 they cut
  // MobileNetV3's depthwise time by a fifth).
  constexpr int kChains = KH == 3 ? (V == 1 ? 3 : 1) : KH == 0 ? 1 : std::min(KH, 8 / V);
  __m256 acc[V][kChains];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    acc[v][0] = a.bias;
    for (int c = 1; c < kChains; ++c) acc[v][c] = _mm256_setzero_ps();
  }
#pragma GCC unroll 8
  for (int64_t kh = 0; kh < kernelH; ++kh) {
    const float* row = top + kh * a.dilationH * a.rowStride;
#pragma GCC unroll 8
    for (int64_t kw = 0; kw < kernelW; ++kw) {
      const __m256 w = KH == 3 && KW == 3 ? taps[kh * 3 + kw] : _mm256_broadcast_ss(a.filter + kh * kernelW + kw);
      const float* p = row + kw * a.dilationW;
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        __m256& sum = acc[v][kChains == 1 ? 0 : kh % kChains];
        sum = _mm256_fmadd_ps(loadInputs<S>(p + v * step), w, sum);
      }
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    __m256 sum = acc[v][0];
    for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[v][c]);
    out[v] = avx2::activate(a.activation, sum);
  }
}

// R output rows from output row `oh`, 8 columns at a time: R independent
// accumulators however narrow the plane (MobileNet's 7x7 and 14x14 planes).
template <int R, int S, int KH, int KW>
[[gnu::always_inline]] inline void outputRowBlock(const Conv2dGeometry& g, const PlaneArgs& a, const float* padded,
                                                  int64_t oh, float* out) {
  __m256 taps[9];
  if (KH == 3 && KW == 3) {
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) taps[t] = _mm256_broadcast_ss(a.filter + t);
  }
  const int64_t rowStep = g.strideH * a.rowStride;
  const float* top = padded + oh * rowStep;
  float* y = out + oh * g.outW;
  const int64_t whole = g.outW / 8 * 8;
  for (int64_t ow = 0; ow < whole; ow += 8) {
    __m256 v[R];
    computeVectors<R, S, KH, KW>(a, taps, top + ow * S, rowStep, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) _mm256_storeu_ps(y + r * g.outW + ow, v[r]);
  }
  if (whole < g.outW) {  // the padded plane is wide enough for a whole vector: store part of it
    const __m256i mask = avx2::firstLanes(g.outW - whole);
    __m256 v[R];
    computeVectors<R, S, KH, KW>(a, taps, top + whole * S, rowStep, v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) _mm256_maskstore_ps(y + r * g.outW + whole, mask, v[r]);
  }
}

template <int S, int KH, int KW>
void outputRows(const Conv2dGeometry& g, const PlaneArgs& a, const float* padded, float* out) {
  int64_t oh = 0;
  for (; oh + 4 <= g.outH; oh += 4) outputRowBlock<4, S, KH, KW>(g, a, padded, oh, out);
  if (oh + 2 <= g.outH) {  // 7 rows are 4 + 2 + 1
    outputRowBlock<2, S, KH, KW>(g, a, padded, oh, out);
    oh += 2;
  }
  if (oh < g.outH) outputRowBlock<1, S, KH, KW>(g, a, padded, oh, out);
}

template <int S>
void outputRowsAnyKernel(const Conv2dGeometry& g, const PlaneArgs& a, const float* padded, float* out) {
  if (g.kernelH == 3 && g.kernelW == 3)
    outputRows<S, 3, 3>(g, a, padded, out);
  else if (g.kernelH == 5 && g.kernelW == 5)
    outputRows<S, 5, 5>(g, a, padded, out);
  else
    outputRows<S, 0, 0>(g, a, padded, out);
}

// Copies the input rows into the padded plane in whole vectors: the lanes past
// the row's end are written as zeros, which is what the padding holds.
void copyRows(const Conv2dGeometry& g, const float* in, float* padded, int64_t rowStride) {
  const int64_t whole = g.inW / 8 * 8;
  const int64_t rest = g.inW - whole;
  const __m256i tailMask = avx2::firstLanes(rest);
  for (int64_t ih = 0; ih < g.inH; ++ih) {
    const float* src = in + ih * g.inW;
    float* dst = padded + (g.padTop + ih) * rowStride + g.padLeft;
    for (int64_t c = 0; c < whole; c += 8) _mm256_storeu_ps(dst + c, _mm256_loadu_ps(src + c));
    if (rest) _mm256_storeu_ps(dst + whole, _mm256_maskload_ps(src + whole, tailMask));
  }
}

}  // namespace

void depthwisePlaneAvx2(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                        const ActivationParams& activation, float* out, float* padded) {
  const DepthwisePaddedPlane plane = depthwisePaddedPlane(g);
  copyRows(g, in, padded, plane.columns);
  PlaneArgs a;
  a.filter = filter;
  a.rowStride = plane.columns;
  a.kernelH = g.kernelH;
  a.kernelW = g.kernelW;
  a.dilationH = g.dilationH;
  a.dilationW = g.dilationW;
  a.bias = _mm256_set1_ps(bias);
  a.activation = activation;
  if (g.strideW == 1)
    outputRowsAnyKernel<1>(g, a, padded, out);
  else
    outputRowsAnyKernel<2>(g, a, padded, out);
}

}  // namespace petrel
