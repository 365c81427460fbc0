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
// hi, in shuffle order: lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6 (or the odd ones).
// Lane-wise work (max, sum) can run in this order and call inOrder once.
template <bool Odd = false>
[[gnu::always_inline]] inline __m256 everyOtherUnordered(__m256 lo, __m256 hi) {
  return Odd ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)) : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
}

// everyOtherUnordered's lanes put in order (its 64-bit pairs swapped into place).
[[gnu::always_inline]] inline __m256 inOrder(__m256 unordered) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(unordered), _MM_SHUFFLE(3, 1, 2, 0)));
}

// The even lanes (Odd false) or the odd ones (Odd true) of the 16 floats lo,
// hi: the inputs of a stride-2 row.
template <bool Odd = false>
[[gnu::always_inline]] inline __m256 everyOther(__m256 lo, __m256 hi) {
  return inOrder(everyOtherUnordered<Odd>(lo, hi));
}

// p[0], p[2], ..., p[14] (Odd false) or p[1], p[3], ..., p[15] (Odd true). Reads p[0..15].
template <bool Odd = false>
[[gnu::always_inline]] inline __m256 everyOther(const float* p) {
  return everyOther<Odd>(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
}

// The largest of v's 8 lanes (NaN lanes as _mm_max_ps treats them).
[[gnu::always_inline]] inline float horizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// The sum of v's 8 lanes, added pairwise.
[[gnu::always_inline]] inline float horizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Transposes 8 rows of 8 floats: on return, r[t] holds element t of every row.
[[gnu::always_inline]] inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// 8 values of each of 6 rows (row i at rows + i * rowStride) written k-major,
// out[k * 6 + i] for k < 8: the packed layout of 6-row GEMM panels. One 8x8
// transpose (two zero rows); writes exactly 48 floats.
[[gnu::always_inline]] inline void interleave6Rows8(const float* rows, int64_t rowStride, float* out) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = i < 6 ? _mm256_loadu_ps(rows + i * rowStride) : _mm256_setzero_ps();
  transpose8x8(r);
  // k's 6 values, then 2 that k + 1's store overwrites; the last k stores exactly 6.
  for (int k = 0; k < 7; ++k) _mm256_storeu_ps(out + k * 6, r[k]);
  _mm_storeu_ps(out + 42, _mm256_castps256_ps128(r[7]));
  _mm_storel_pi(reinterpret_cast<__m64*>(out + 46), _mm256_extractf128_ps(r[7], 1));
}

}  // namespace petrel::avx2
