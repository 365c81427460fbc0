// The AVX2 packers. im2col B (see sgemm_pack_im2col.h): runs of pixels are
// copied 8 floats per vector; stride 2 takes the even floats of two vectors.
// Run-time A: 6 rows x 8 k transposed in registers.
#include <immintrin.h>

#include "kernels/sgemm_internal.h"
#include "kernels/sgemm_pack_im2col.h"
#include "kernels/x86/avx2_lanes.h"

namespace petrel {

namespace {

struct Avx2RunCopy {
  __attribute__((always_inline)) static void run(float* dst, const float* src, int64_t n, int64_t stride) {
    int64_t t = 0;
    if (stride == 1) {
      for (; t + 8 <= n; t += 8) _mm256_storeu_ps(dst + t, _mm256_loadu_ps(src + t));
      // The last few floats: a masked load (nothing read past the run), a
      // whole store (the packer allows 8 floats of overshoot).
      if (t < n) _mm256_storeu_ps(dst + t, _mm256_maskload_ps(src + t, avx2::firstLanes(n - t)));
      return;
    }
    if (stride == 2) {
      // 8 outputs from 16 inputs; the last input read, src[2t + 15], must be in the run.
      for (; t + 8 < n; t += 8) {
        _mm256_storeu_ps(dst + t, avx2::everyOther(src + 2 * t));
      }
    }
    for (; t < n; ++t) dst[t] = src[t * stride];
  }
  // Whole vectors (the packer allows the overshoot): no call for a few zeros.
  __attribute__((always_inline)) static void zero(float* dst, int64_t n) {
    for (int64_t t = 0; t < n; t += 8) _mm256_storeu_ps(dst + t, _mm256_setzero_ps());
  }
  __attribute__((always_inline)) static void panelRow(float* dst, const float* src) {
    static_assert(kSgemmNR == 16);
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
  }
};

// Columns t = 0..7 of rows r[0..5] (r[6], r[7] taken as zero): out[t] lane i
// = r[i][t] for i < 6. The usual 8x8 transpose, two rows short.
inline void transpose6x8(const __m256 r[6], __m256 out[8]) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, zero, 0x44), s5 = _mm256_shuffle_ps(t4, zero, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, zero, 0x44), s7 = _mm256_shuffle_ps(t5, zero, 0xEE);
  out[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  out[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  out[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  out[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  out[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  out[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  out[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  out[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

}  // namespace

void sgemmPackLhsAvx2(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  constexpr int64_t MR = kSgemmMR;
  static_assert(MR == 6, "transpose6x8 packs 6 rows");
  if (a.transposed) {  // panel rows are contiguous already: the portable copy is fine
    sgemmPackLhs(a, i0, rows, k0, kc, out);
    return;
  }
  for (int64_t p = 0; p < rows; p += MR, out += MR * kc) {
    if (rows - p < MR) {  // a short last panel (zero-padded): the portable packer
      sgemmPackLhs(a, i0 + p, rows - p, k0, kc, out);
      continue;
    }
    const float* src = a.data + (i0 + p) * a.ld + k0;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 r[MR], t[8];
      for (int64_t i = 0; i < MR; ++i) r[i] = _mm256_loadu_ps(src + i * a.ld + k);
      transpose6x8(r, t);
      // k's 6 values, then 2 that k + 1's store overwrites; the last k of
      // the 8 stores exactly 6 (nothing past the panel).
      float* dst = out + k * MR;
      for (int j = 0; j < 7; ++j) _mm256_storeu_ps(dst + j * MR, t[j]);
      _mm_storeu_ps(dst + 7 * MR, _mm256_castps256_ps128(t[7]));
      _mm_storel_pi(reinterpret_cast<__m64*>(dst + 7 * MR + 4), _mm256_extractf128_ps(t[7], 1));
    }
    for (; k < kc; ++k)
      for (int64_t i = 0; i < MR; ++i) out[k * MR + i] = src[i * a.ld + k];
  }
}

void sgemmPackRhsIm2colAvx2(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0,
                            int64_t cols, float* out, int64_t panelStride) {
  packRhsIm2colWith<Avx2RunCopy>(g, image, k0, kc, j0, cols, out, panelStride);
}

}  // namespace petrel
