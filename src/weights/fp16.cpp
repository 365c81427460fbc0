#include "weights/fp16.h"

#include <cstring>

namespace petrel {

namespace {

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Shifts m right by `shift` (1..31), rounding to nearest, ties to even.
uint32_t shiftRightRoundEven(uint32_t m, int shift) {
  const uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

}  // namespace

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return bitsFloat(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return bitsFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
  if (mantissa == 0) return bitsFloat(sign);  // +-0
  // Subnormal: mantissa * 2^-24; normalise so the leading 1 becomes implicit.
  int32_t e = 127 - 14;
  while (!(mantissa & 0x400)) {
    mantissa <<= 1;
    --e;
  }
  return bitsFloat(sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ff) << 13));
}

uint16_t floatToHalf(float f) {
  const uint32_t x = floatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude > 0x7f800000u)  // NaN: quiet, top payload bits kept
    return static_cast<uint16_t>(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  if (magnitude >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to inf (65504 is the largest half)
  const int32_t e = static_cast<int32_t>(magnitude >> 23);  // biased float exponent
  if (e < 127 - 14) {
    // Below 2^-14: a half subnormal, value * 2^24 rounded to an integer.
    // With the implicit bit, value = m * 2^(e - 150), so value * 2^24 = m >> (126 - e).
    if (e < 102) return sign;  // < 2^-25: rounds to zero (m < 2^24, shift >= 25)
    const uint32_t m = (magnitude & 0x7fffff) | 0x800000;
    return static_cast<uint16_t>(sign | shiftRightRoundEven(m, 126 - e));  // may carry into the smallest normal
  }
  // Normal: rebias the exponent, round the mantissa from 23 to 10 bits; a
  // carry out of the mantissa correctly increments the exponent.
  const uint32_t rebased = magnitude - ((127u - 15u) << 23);
  return static_cast<uint16_t>(sign | shiftRightRoundEven(rebased, 13));
}

bool fp16SimdUsable(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  static const bool f16c = __builtin_cpu_supports("f16c");
  return isa == Isa::kAvx2 && isaSupported(Isa::kAvx2) && f16c;
#else
  return false;
#endif
}

void halfToFloatArray(const uint16_t* in, float* out, size_t n, Isa isa) {
  if (fp16SimdUsable(isa)) return halfToFloatArrayF16c(in, out, n);
  for (size_t i = 0; i < n; ++i) out[i] = halfToFloat(in[i]);
}

void floatToHalfArray(const float* in, uint16_t* out, size_t n, Isa isa) {
  if (fp16SimdUsable(isa)) return floatToHalfArrayF16c(in, out, n);
  for (size_t i = 0; i < n; ++i) out[i] = floatToHalf(in[i]);
}

}  // namespace petrel
