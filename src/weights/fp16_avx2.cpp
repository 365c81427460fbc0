// F16C bulk conversions; the tail goes through an 8-lane buffer so every
// element takes the same (hardware) path.
#include <immintrin.h>

#include <cstring>

#include "weights/fp16.h"

namespace petrel {

void halfToFloatArrayF16c(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  if (i < n) {
    uint16_t h[8] = {};
    float f[8];
    std::memcpy(h, in + i, (n - i) * sizeof(uint16_t));
    _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h))));
    std::memcpy(out + i, f, (n - i) * sizeof(float));
  }
}

void floatToHalfArrayF16c(const float* in, uint16_t* out, size_t n) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), kRound));
  if (i < n) {
    float f[8] = {};
    uint16_t h[8];
    std::memcpy(f, in + i, (n - i) * sizeof(float));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm256_cvtps_ph(_mm256_loadu_ps(f), kRound));
    std::memcpy(out + i, h, (n - i) * sizeof(uint16_t));
  }
}

}  // namespace petrel
