// AVX2 twin of the LayerNormalization row kernel in normalization.cpp: the
// same two double-precision passes (8 floats widened to two vectors of 4
// doubles, in independent partial sums), then the float normalisation 8 at a
// time. The sums are added in another order than the scalar kernel's, so the
// results agree to rounding, not bit for bit. Called only when bestIsa() is
// Isa::kAvx2.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "ops/row_kernels.h"

namespace petrel {

namespace {

// The lanes of a vector of 4 doubles, added.
double horizontalSum(__m256d v) {
  const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

// Sum over i of (x[i] - center)^2 if Squares, else of x[i] - center, in double.
template <bool Squares>
double sumFrom(const float* x, int64_t n, double center) {
  const __m256d c = _mm256_set1_pd(center);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), c);
    const __m256d b = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), c);
    lo = Squares ? _mm256_fmadd_pd(a, a, lo) : _mm256_add_pd(lo, a);
    hi = Squares ? _mm256_fmadd_pd(b, b, hi) : _mm256_add_pd(hi, b);
  }
  double sum = horizontalSum(_mm256_add_pd(lo, hi));
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - center;
    sum += Squares ? d * d : d;
  }
  return sum;
}

}  // namespace

RowMoments layerNormRowAvx2(const float* x, int64_t n, float epsilon, const float* scale, const float* bias,
                            float* y) {
  const double m = sumFrom<false>(x, n, 0.0) / static_cast<double>(n);
  const double inv = 1.0 / std::sqrt(sumFrom<true>(x, n, m) / static_cast<double>(n) + epsilon);
  const float mf = static_cast<float>(m), invf = static_cast<float>(inv);
  const __m256 mean = _mm256_set1_ps(mf), invStdDev = _mm256_set1_ps(invf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mean), invStdDev),
                             _mm256_loadu_ps(scale + i));
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) y[i] = bias ? (x[i] - mf) * invf * scale[i] + bias[i] : (x[i] - mf) * invf * scale[i];
  return {mf, invf};
}

}  // namespace petrel
