#pragma once
// Helpers shared by every test program. Depends on nothing but the standard
// library, so the kernel tests can use it without the engine.
#include <cstdint>
#include <string>
#include <vector>

namespace petrel::test {

// Uniform floats in [lo, hi), reproducible from the seed.
std::vector<float> randomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// ||a - b|| / max(||b||, tiny); a and b must have the same size. b may be a
// reference kept in double.
double relativeL2(const std::vector<float>& a, const std::vector<float>& b);
double relativeL2(const std::vector<float>& a, const std::vector<double>& b);
double relativeL2(const float* a, const float* b, size_t n);
double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace petrel::test
