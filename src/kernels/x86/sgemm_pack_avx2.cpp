// The AVX2 packers. im2col B (see sgemm_pack_im2col.h): runs of pixels are
// copied 8 floats per vector; stride 2 takes the even floats of two vectors.
// Run-time A: 6 rows x 8 k transposed in registers (avx2::interleave6Rows8);
// a transposed run-time B: 8 columns x 8 k (avx2::transpose8x8).
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

}  // namespace

void sgemmPackLhsAvx2(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out) {
  constexpr int64_t MR = kSgemmMR;
  static_assert(MR == 6, "avx2::interleave6Rows8 writes 6-row panels");
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
    for (; k + 8 <= kc; k += 8) avx2::interleave6Rows8(src + k, a.ld, out + k * MR);
    // The last few k (a panel's MR values per k, the same layout for any
    // depth): the portable packer.
    if (k < kc) sgemmPackLhs(a, i0 + p, MR, k0 + k, kc - k, out + k * MR);
  }
}

void sgemmPackRhsAvx2(const SgemmMatrix& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
                      int64_t panelStride) {
  constexpr int64_t NR = kSgemmNR;
  static_assert(NR == 16, "two 8-column halves per panel");
  if (!b.transposed) {  // rows of B are panel rows already: the portable copy is fine
    sgemmPackRhs(b, k0, kc, j0, cols, out, panelStride);
    return;
  }
  if (panelStride == 0) panelStride = kc * NR;
  for (int64_t q = 0; q < cols; q += NR, out += panelStride) {
    if (cols - q < NR) {  // a short last panel (zero-padded): the portable packer
      sgemmPackRhs(b, k0, kc, j0 + q, cols - q, out, panelStride);
      continue;
    }
    // Column j of B is row j of the stored matrix: 8 of them by 8 k,
    // transposed, are 8 k rows of one half of the panel.
    for (int64_t half = 0; half < 2; ++half) {
      const float* src = b.data + (j0 + q + 8 * half) * b.ld + k0;
      float* dst = out + 8 * half;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * b.ld + k);
        avx2::transpose8x8(r);
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t) _mm256_storeu_ps(dst + (k + t) * NR, r[t]);
      }
      for (; k < kc; ++k)
        for (int j = 0; j < 8; ++j) dst[k * NR + j] = src[j * b.ld + k];
    }
  }
}

void sgemmPackRhsIm2colAvx2(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0,
                            int64_t cols, float* out, int64_t panelStride) {
  packRhsIm2colWith<Avx2RunCopy>(g, image, k0, kc, j0, cols, out, panelStride);
}

}  // namespace petrel
