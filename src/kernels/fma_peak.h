#pragma once
// The machine's fp32 multiply-add peak for one thread, measured: what the
// benchmarks report their GFLOP/s against. A figure below the usual one also
// says that another process took the core while it was measured.
#include <cstdint>

namespace petrel {

// GFLOP/s (a multiply-add counts 2) of `rounds` rounds of `iterations` steps
// of 12 independent 8-wide FMA chains, no memory traffic: the best round.
// 0 when the CPU lacks AVX2 + FMA (the scalar kernels have no such peak).
// One round of 1,000,000 iterations is 0.19 GFLOP, about 2 ms on Zen 3.
double measureFmaPeakGflops(int64_t iterations = 1'000'000, int rounds = 5);

}  // namespace petrel
