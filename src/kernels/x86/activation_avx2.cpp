#include <immintrin.h>

#include "kernels/activation_internal.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

void applyActivationAvx2(const ActivationParams& p, float* data, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(data + i, avx2::activate(p, _mm256_loadu_ps(data + i)));
  if (i < n) {
    // The tail goes through the same vector code so every element sees one formula.
    alignas(32) float tail[8] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = data[j];
    _mm256_store_ps(tail, avx2::activate(p, _mm256_load_ps(tail)));
    for (int64_t j = i; j < n; ++j) data[j] = tail[j - i];
  }
}

}  // namespace petrel
