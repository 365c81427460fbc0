#include "kernels/fma_peak.h"

#include <algorithm>
#include <chrono>

#include "kernels/cpu.h"

namespace petrel {

float fmaChainsAvx2(int64_t iterations);  // kernels/x86/fma_peak_avx2.cpp
constexpr double kFlopsPerChainIteration = 12 * 8 * 2;

double measureFmaPeakGflops(int64_t iterations, int rounds) {
  if (!isaSupported(Isa::kAvx2)) return 0.0;
  double best = 0.0;
  volatile float sink = 0.0f;  // keeps the chains from being optimised away
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + fmaChainsAvx2(iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds > 0.0) best = std::max(best, static_cast<double>(iterations) * kFlopsPerChainIteration / seconds / 1e9);
  }
  return best;
}

}  // namespace petrel
