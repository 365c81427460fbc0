// SGEMM micro-benchmarks in GFLOP/s and as a fraction of the FMA peak measured
// by this same program (bench/fma_peak_avx2.cpp), on one thread.
//
//   cmake -S . -B build -DPETREL_BUILD_BENCH=ON && cmake --build build --target kernels_bench
//   build/bench/kernels_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/sgemm.h"

namespace petrel::bench {

float fmaChains(int64_t iterations);
constexpr double kFlopsPerChainIteration = 12 * 8 * 2;

// Peak single-core FMA throughput in flop/s, measured once.
double fmaPeak() {
  static const double peak = [] {
    double best = 0.0;
    for (int round = 0; round < 5; ++round) {
      const int64_t iterations = 20'000'000;
      const auto start = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(fmaChains(iterations));
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, iterations * kFlopsPerChainIteration / seconds);
    }
    return best;
  }();
  return peak;
}

void BM_FmaPeak(benchmark::State& state) {
  const int64_t iterations = 1'000'000;
  for (auto _ : state) benchmark::DoNotOptimize(fmaChains(iterations));
  state.counters["GFLOPS"] =
      benchmark::Counter(iterations * kFlopsPerChainIteration * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FmaPeak);

// C[M, N] = A[M, K] * B[K, N] with A packed once (weights, as in a convolution)
// and B a plain run-time matrix (activations), as Petrel's pointwise Conv does.
void BM_SgemmPackedWeights(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  const SgemmPackedLhs packed(SgemmMatrix{a.data(), k, false}, m, k);
  const size_t scratchBytes = sgemmScratchBytes(m, n, k, true, false, 1);
  std::unique_ptr<void, decltype(&std::free)> scratch(std::aligned_alloc(64, (scratchBytes + 63) / 64 * 64 + 64), &std::free);
  SgemmProblem problem;
  problem.lhs.packed = &packed;
  problem.rhs.matrix = SgemmMatrix{b.data(), n, false};
  problem.c = c.data();
  for (auto _ : state) {
    sgemm(m, n, k, problem, n, SgemmEpilogue{}, scratch.get(), scratchBytes, nullptr);
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * m * n * k * state.iterations();
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_fraction"] = benchmark::Counter(flops / fmaPeak(), benchmark::Counter::kIsRate);
}
// Large squares, then resnet50's 1x1 convolutions as GEMMs (M = Cout, N = H*W, K = Cin).
BENCHMARK(BM_SgemmPackedWeights)
    ->Args({256, 256, 256})
    ->Args({512, 512, 512})
    ->Args({1024, 1024, 1024})
    ->Args({64, 3136, 256})
    ->Args({256, 3136, 64})
    ->Args({128, 784, 512})
    ->Args({512, 784, 128})
    ->Args({256, 196, 1024})
    ->Args({1024, 196, 256})
    ->Args({512, 49, 2048})
    ->Args({2048, 49, 512})
    ->Unit(benchmark::kMillisecond);

}  // namespace petrel::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::printf("isa %s, measured single-core FMA peak %.1f GFLOP/s\n", petrel::isaName(petrel::bestIsa()),
              petrel::bench::fmaPeak() / 1e9);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
