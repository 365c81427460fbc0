// The FMA chains of measureFmaPeakGflops (kernels/fma_peak.h): 12 independent
// chains of 8-wide fused multiply-adds (enough to cover the FMA latency on two
// pipes), no memory traffic.
#include <immintrin.h>

#include <cstdint>

namespace petrel {

float fmaChainsAvx2(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
    // Unrolled so the accumulators live in registers, not on the stack.
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0];
}

}  // namespace petrel
