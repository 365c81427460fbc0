// Depthwise convolution, AVX2, on a zero-padded copy of the plane: every
// output row is whole vectors of 8 columns (the last one stored in part), up
// to 4 vectors in flight; stride 2 de-interleaves the even inputs. 3x3 and
// 5x5 filters are unrolled at compile time.
#include <immintrin.h>

#include <cstring>

#include "kernels/depthwise.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

// p[0], p[2], ..., p[14]: reads p[0..15].
inline __m256 loadEvens(const float* p) {
  const __m256 lo = _mm256_loadu_ps(p);
  const __m256 hi = _mm256_loadu_ps(p + 8);
  const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));  // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}

struct RowArgs {
  const float* top;  // padded input at the first row and column this output row reads
  int64_t rowStride;  // padded row stride
  const float* filter;
  int64_t kernelH, kernelW, dilationH, dilationW;
  __m256 bias;
  const ActivationParams* activation;
};

// Outputs [ow, ow + 8V) of one row, stored at dst. KH/KW: kernel size, 0 = run time.
template <int V, int Stride, int KH, int KW>
inline void vectorBlock(const RowArgs& r, int64_t ow, float* dst) {
  const int64_t kernelH = KH ? KH : r.kernelH, kernelW = KW ? KW : r.kernelW;
  __m256 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = r.bias;
  const float* base = r.top + ow * Stride;
  for (int64_t kh = 0; kh < kernelH; ++kh) {
    const float* row = base + kh * r.dilationH * r.rowStride;
    for (int64_t kw = 0; kw < kernelW; ++kw) {
      const __m256 w = _mm256_broadcast_ss(r.filter + kh * kernelW + kw);
      const float* p = row + kw * r.dilationW;
      for (int v = 0; v < V; ++v) {
        const __m256 x = Stride == 1 ? _mm256_loadu_ps(p + 8 * v) : loadEvens(p + 16 * v);
        acc[v] = _mm256_fmadd_ps(x, w, acc[v]);
      }
    }
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(dst + 8 * v, avx2::activate(*r.activation, acc[v]));
}

template <int Stride, int KH, int KW>
void outputRow(const RowArgs& r, int64_t outW, float* out) {
  int64_t ow = 0;
  for (; ow + 32 <= outW; ow += 32) vectorBlock<4, Stride, KH, KW>(r, ow, out + ow);
  for (; ow + 8 <= outW; ow += 8) vectorBlock<1, Stride, KH, KW>(r, ow, out + ow);
  if (ow < outW) {  // the padded plane is wide enough for a whole vector: store part of it
    alignas(32) float tail[8];
    vectorBlock<1, Stride, KH, KW>(r, ow, tail);
    std::memcpy(out + ow, tail, (outW - ow) * sizeof(float));
  }
}

template <int Stride>
void outputRowAnyKernel(const RowArgs& r, int64_t outW, float* out) {
  if (r.kernelH == 3 && r.kernelW == 3)
    outputRow<Stride, 3, 3>(r, outW, out);
  else if (r.kernelH == 5 && r.kernelW == 5)
    outputRow<Stride, 5, 5>(r, outW, out);
  else
    outputRow<Stride, 0, 0>(r, outW, out);
}

}  // namespace

void depthwisePlaneAvx2(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                        const ActivationParams& activation, float* out, float* padded) {
  const DepthwisePaddedPlane plane = depthwisePaddedPlane(g);
  for (int64_t ih = 0; ih < g.inH; ++ih)
    std::memcpy(padded + (g.padTop + ih) * plane.columns + g.padLeft, in + ih * g.inW, g.inW * sizeof(float));
  RowArgs r;
  r.rowStride = plane.columns;
  r.filter = filter;
  r.kernelH = g.kernelH;
  r.kernelW = g.kernelW;
  r.dilationH = g.dilationH;
  r.dilationW = g.dilationW;
  r.bias = _mm256_set1_ps(bias);
  r.activation = &activation;
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    r.top = padded + oh * g.strideH * plane.columns;
    if (g.strideW == 1)
      outputRowAnyKernel<1>(r, g.outW, out + oh * g.outW);
    else
      outputRowAnyKernel<2>(r, g.outW, out + oh * g.outW);
  }
}

}  // namespace petrel
