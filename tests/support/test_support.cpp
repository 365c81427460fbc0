#include "support/test_support.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace petrel::test {

std::vector<float> randomFloats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

namespace {

template <class Reference>
double relativeL2Of(const float* a, const Reference* b, size_t n) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    diff += d * d;
    ref += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-30);
}

}  // namespace

double relativeL2(const float* a, const float* b, size_t n) { return relativeL2Of(a, b, n); }

double relativeL2(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("relativeL2: sizes differ");
  return relativeL2Of(a.data(), b.data(), a.size());
}

double relativeL2(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("relativeL2: sizes differ");
  return relativeL2Of(a.data(), b.data(), a.size());
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("maxAbsDiff: sizes differ");
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace petrel::test
