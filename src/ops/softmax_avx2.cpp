// AVX2 twin of softmaxRow in softmax.cpp: one contiguous softmax, exp by the
// vector polynomial of kernels/x86/avx2_math.h (~2 ulp). Called only when
// bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/x86/avx2_lanes.h"
#include "kernels/x86/avx2_math.h"
#include "ops/row_kernels.h"

namespace petrel {

void softmaxRowAvx2(const float* in, float* out, int64_t n) {
  const int64_t full = n / 8 * 8;
  const int64_t rest = n - full;

  const float max = reduceRowAvx2(RowReduction::kMax)(in, n);

  // The tail goes through the same vector exp (via a padded copy), so every
  // element sees one formula; padding lanes are not summed.
  const __m256 shift = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; i += 8) {
    const __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(in + i), shift));
    _mm256_storeu_ps(out + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = avx2::horizontalSum(vsum);
  if (rest) {
    alignas(32) float tail[8] = {};
    std::copy(in + full, in + n, tail);
    _mm256_store_ps(tail, avx2::exp(_mm256_sub_ps(_mm256_load_ps(tail), shift)));
    for (int64_t j = 0; j < rest; ++j) {
      out[full + j] = tail[j];
      sum += tail[j];
    }
  }

  const float scale = 1.0f / sum;
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t i = 0; i < full; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), vscale));
  for (int64_t i = full; i < n; ++i) out[i] *= scale;
}

}  // namespace petrel
