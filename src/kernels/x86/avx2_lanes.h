#pragma once
// Lane shuffles shared by the AVX2 kernels. Include only from *_avx2.cpp files
// (compiled with -mavx2): every file that includes it is built for AVX2.
#include <immintrin.h>

#include <cstdint>

namespace petrel::avx2 {

// Lanes [0, n) set, for n in [0, 8]: the mask of a partial last vector.
[[gnu::always_inline]] inline __m256i firstLanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The even lanes (Odd false) or the odd ones (Odd true) of the 16 floats lo,
// hi: the inputs of a stride-2 row.
template <bool Odd = false>
[[gnu::always_inline]] inline __m256 everyOther(__m256 lo, __m256 hi) {
  // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6 (or the odd ones), then the 64-bit pairs in order.
  const __m256 mixed = Odd ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))
                           : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}

// p[0], p[2], ..., p[14] (Odd false) or p[1], p[3], ..., p[15] (Odd true). Reads p[0..15].
template <bool Odd = false>
[[gnu::always_inline]] inline __m256 everyOther(const float* p) {
  return everyOther<Odd>(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
}

}  // namespace petrel::avx2
