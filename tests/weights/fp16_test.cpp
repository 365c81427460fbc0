// fp16 <-> fp32: exhaustive over halves, an independent nearest-half oracle
// for float -> half, and the F16C path against the scalar one.
#include "weights/fp16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace petrel {
namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The value of a finite half from its definition, in double.
double halfValue(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

// Nearest half to x (finite), ties to even, by search over the finite halves;
// values whose nearest neighbour would be past 65504 by at least half a step are inf.
uint16_t nearestHalf(float x) {
  const double a = std::fabs(static_cast<double>(x));
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (a >= 65520.0) return sign | 0x7c00;
  // Positive finite halves 0..0x7bff are increasing with their bit pattern.
  uint16_t lo = 0, hi = 0x7bff;
  while (lo < hi) {  // first h with value >= a
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (halfValue(mid) < a) lo = mid + 1; else hi = mid;
  }
  uint16_t best = lo;
  if (lo > 0) {
    const double up = halfValue(lo) - a, down = a - halfValue(lo - 1);
    if (down < up || (down == up && ((lo - 1) & 1) == 0)) best = lo - 1;
  }
  return sign | best;
}

TEST(Fp16, DecodeMatchesDefinitionForEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = halfToFloat(static_cast<uint16_t>(h));
    const int exponent = (h >> 10) & 0x1f;
    if (exponent == 0x1f) {
      if (h & 0x3ff) EXPECT_TRUE(std::isnan(f)) << h;
      else EXPECT_EQ(f, (h & 0x8000) ? -INFINITY : INFINITY) << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), halfValue(static_cast<uint16_t>(h))) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    }
  }
}

TEST(Fp16, RoundTripIsIdentityForEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = floatToHalf(halfToFloat(static_cast<uint16_t>(h)));
    const bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
    if (nan) {
      EXPECT_EQ(back & 0x7c00, 0x7c00) << h;  // still NaN, made quiet, payload kept
      EXPECT_EQ(back, h | 0x200) << h;
    } else {
      EXPECT_EQ(back, h) << h;
    }
  }
}

TEST(Fp16, EncodeRoundsTrickyValuesToNearestEven) {
  struct Case { float x; uint16_t h; };
  const Case cases[] = {
      {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000},
      {65504.0f, 0x7bff}, {65519.996f, 0x7bff}, {65520.0f, 0x7c00}, {1e10f, 0x7c00}, {-1e10f, 0xfc00},
      {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
      {std::ldexp(1.0f, -14), 0x0400},                   // smallest normal
      {std::ldexp(1.0f, -24), 0x0001},                   // smallest subnormal
      {std::ldexp(1.0f, -25), 0x0000},                   // tie between 0 and 1: even (0)
      {std::nextafter(std::ldexp(1.0f, -25), 1.0f), 0x0001},
      {std::ldexp(3.0f, -25), 0x0002},                   // 1.5 ulp: tie -> even (2)
      {std::ldexp(5.0f, -25), 0x0002},                   // 2.5 ulp: tie -> even (2)
      {std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25), 0x0400},  // tie 0x3ff / 0x400 -> 0x400
      {1.0f + std::ldexp(1.0f, -11), 0x3c00},            // tie -> even (down)
      {1.0f + std::ldexp(3.0f, -11), 0x3c02},            // tie -> even (up)
      {std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f), 0x3c01},
      {2046.5f, 0x67fe}, {2047.5f, 0x6800},              // spacing 1 below 2048: ties to even
      {2049.0f, 0x6800}, {2051.0f, 0x6802},              // spacing 2 above 2048: ties to even
      {std::ldexp(1.0f, -30), 0x0000}, {1e-45f, 0x0000}, // float subnormal
  };
  for (const Case& c : cases) EXPECT_EQ(floatToHalf(c.x), c.h) << c.x;
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
}

TEST(Fp16, EncodeMatchesNearestHalfOracle) {
  // Every 997th float bit pattern (all exponents), plus every float in the
  // ranges where halves change behaviour: subnormals, overflow.
  std::vector<uint32_t> patterns;
  for (uint64_t u = 0; u < (1ull << 31); u += 997) patterns.push_back(static_cast<uint32_t>(u));
  for (uint32_t u = bitsOf(std::ldexp(1.0f, -26)); u < bitsOf(std::ldexp(1.0f, -13)); u += 61) patterns.push_back(u);
  for (uint32_t u = bitsOf(65000.0f); u < bitsOf(66000.0f); ++u) patterns.push_back(u);
  for (uint32_t magnitude : patterns) {
    for (uint32_t sign : {0u, 0x80000000u}) {
      const float x = floatOf(magnitude | sign);
      if (!std::isfinite(x)) continue;
      ASSERT_EQ(floatToHalf(x), nearestHalf(x)) << x << " bits " << std::hex << (magnitude | sign);
    }
  }
}

TEST(Fp16, F16cMatchesScalar) {
  if (!fp16SimdUsable(Isa::kAvx2)) GTEST_SKIP() << "no F16C";
  std::vector<uint16_t> halves(65536);
  for (uint32_t h = 0; h < 65536; ++h) halves[h] = static_cast<uint16_t>(h);
  std::vector<float> simd(65536);
  halfToFloatArrayF16c(halves.data(), simd.data(), halves.size());
  for (uint32_t h = 0; h < 65536; ++h) {
    const float scalar = halfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(scalar)) EXPECT_TRUE(std::isnan(simd[h])) << h;  // hardware may quiet a signalling NaN
    else ASSERT_EQ(bitsOf(simd[h]), bitsOf(scalar)) << h;
  }
  // float -> half over a stride of all bit patterns, NaNs and infinities included.
  std::vector<float> floats;
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) floats.push_back(floatOf(static_cast<uint32_t>(u)));
  for (uint32_t u = bitsOf(std::ldexp(1.0f, -26)); u < bitsOf(std::ldexp(1.0f, -13)); u += 53) floats.push_back(floatOf(u));
  floats.push_back(NAN);
  floats.push_back(-INFINITY);
  std::vector<uint16_t> encoded(floats.size());
  floatToHalfArrayF16c(floats.data(), encoded.data(), floats.size());
  for (size_t i = 0; i < floats.size(); ++i)
    ASSERT_EQ(encoded[i], floatToHalf(floats[i])) << floats[i] << " bits " << std::hex << bitsOf(floats[i]);
}

TEST(Fp16, BulkConversionsEveryLengthAndIsa) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2}) {
    for (size_t n = 0; n <= 41; ++n) {
      std::vector<float> in(n);
      for (size_t i = 0; i < n; ++i) in[i] = std::ldexp(static_cast<float>(i) - 20.3f, static_cast<int>(i % 30) - 20);
      std::vector<uint16_t> half(n + 1, 0xabcd);
      floatToHalfArray(in.data(), half.data(), n, isa);
      EXPECT_EQ(half[n], 0xabcd) << "wrote past the end";
      std::vector<float> back(n + 1, 42.0f);
      halfToFloatArray(half.data(), back.data(), n, isa);
      EXPECT_EQ(back[n], 42.0f) << "wrote past the end";
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(half[i], floatToHalf(in[i])) << isaName(isa) << " n=" << n << " i=" << i;
        ASSERT_EQ(back[i], halfToFloat(half[i])) << isaName(isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

}  // namespace
}  // namespace petrel
