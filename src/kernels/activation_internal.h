#pragma once
// Per-Isa implementations behind applyActivation(p, data, n); for the tests.
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/cpu.h"

namespace petrel {

void applyActivationScalar(const ActivationParams& p, float* data, int64_t n);
void applyActivationAvx2(const ActivationParams& p, float* data, int64_t n);  // needs Isa::kAvx2
void applyActivation(const ActivationParams& p, float* data, int64_t n, Isa isa);

}  // namespace petrel
