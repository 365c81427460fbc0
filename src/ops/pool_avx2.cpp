// AVX2 twin of the pooling row kernel in pool.cpp: the windows of a run of
// output rows, straight from the windows' input rows. Exact and in the same order
// (rows first, then taps), so it matches the scalar kernel bit for bit (NaNs
// aside). Called only when bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx2_lanes.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

template <bool IsMax>
[[gnu::always_inline]] inline __m256 combine(__m256 acc, __m256 x) {
  return IsMax ? _mm256_max_ps(acc, x) : _mm256_add_ps(acc, x);
}

// The 8 floats at p of the window's rows, combined in row order: 8 columns of
// the line the separable method would have built.
template <bool IsMax>
[[gnu::always_inline]] inline __m256 rowsAt(const float* p, int64_t rowStride, int64_t rows) {
  __m256 acc = _mm256_loadu_ps(p);
#pragma GCC unroll 4
  for (int64_t r = 1; r < rows; ++r) acc = combine<IsMax>(acc, _mm256_loadu_ps(p + r * rowStride));
  return acc;
}

// Outputs [o, o + 8) at stride 1.
template <bool IsMax>
[[gnu::always_inline]] inline __m256 windowsStride1(const float* first, int64_t rowStride, int64_t rows, int64_t o,
                                                    int64_t kernel) {
  __m256 acc = rowsAt<IsMax>(first + o, rowStride, rows);
#pragma GCC unroll 4
  for (int64_t t = 1; t < kernel; ++t) acc = combine<IsMax>(acc, rowsAt<IsMax>(first + o + t, rowStride, rows));
  return acc;
}

// Outputs [o, o + 8) at stride 2: tap t of the 8 windows is every other
// column from 2o + t. Taps 2u and 2u + 1 are the even and odd columns of the
// same 16 (from 2o + 2u), so each pair costs one combined load of 16; the last
// pair of an odd kernel reads one column past its tap (lane 15, unused).
// FromBefore (the last block of a row) reads nothing past the last tap: every
// tap takes the odd columns of 16 starting one column earlier (one column
// before 2o). The taps are combined in the in-lane order of the shuffle that
// picks them and put in output order once at the end (max and sum work lane
// by lane).
template <bool IsMax, bool FromBefore>
[[gnu::always_inline]] inline __m256 windowsStride2(const float* first, int64_t rowStride, int64_t rows, int64_t o,
                                                    int64_t kernel) {
  const float* p = first + 2 * o;
  __m256 acc = _mm256_setzero_ps();  // set by tap 0
  if constexpr (FromBefore) {
    auto oddColumns = [&](const float* q) {
      return avx2::everyOtherUnordered<true>(rowsAt<IsMax>(q, rowStride, rows), rowsAt<IsMax>(q + 8, rowStride, rows));
    };
    acc = oddColumns(p - 1);
#pragma GCC unroll 4
    for (int64_t t = 1; t < kernel; ++t) acc = combine<IsMax>(acc, oddColumns(p + t - 1));
  } else {
#pragma GCC unroll 4
    for (int64_t t = 0; t < kernel; t += 2) {
      const __m256 lo = rowsAt<IsMax>(p + t, rowStride, rows), hi = rowsAt<IsMax>(p + t + 8, rowStride, rows);
      const __m256 even = avx2::everyOtherUnordered<false>(lo, hi);
      acc = t == 0 ? even : combine<IsMax>(acc, even);
      if (t + 1 < kernel) acc = combine<IsMax>(acc, avx2::everyOtherUnordered<true>(lo, hi));
    }
  }
  return avx2::inOrder(acc);
}

// The last outputs that a whole block cannot take are recomputed by one
// block ending at n, overlapping the one before (the same values, in the
// same order): no scalar tail for rows of 8 (stride 1) or 9 (stride 2)
// outputs and more, and no read past the last tap.
// Rows and Kernel, when not 0, are the window's rows and taps known at compile
// time (the loops over them unrolled: 2x2 and 3x3 windows).
template <bool IsMax, int Rows, int Kernel>
void windowsRows(const PoolWindowRows& w) {
  const int64_t rows = Rows ? Rows : w.rows, kernel = Kernel ? Kernel : w.kernel, n = w.n, rowStride = w.rowStride;
  if (w.dilation != 1 || !((w.stride == 1 && n >= 8) || (w.stride == 2 && n >= 9))) {
    poolWindows(IsMax, Isa::kScalar)(w);  // dilated, another stride, or rows too short for one block
    return;
  }
  for (int64_t j = 0; j < w.count; ++j) {
    const float* first = w.first + j * w.inStep;
    float* out = w.out + j * w.outStep;
    int64_t o = 0;
    if (w.stride == 1) {
      for (; o + 8 <= n; o += 8) _mm256_storeu_ps(out + o, windowsStride1<IsMax>(first, rowStride, rows, o, kernel));
      if (o < n) _mm256_storeu_ps(out + n - 8, windowsStride1<IsMax>(first, rowStride, rows, n - 8, kernel));
    } else {
      // Plain loads while one more output follows, whose taps lie past the over-read.
      for (; o + 9 <= n; o += 8)
        _mm256_storeu_ps(out + o, windowsStride2<IsMax, false>(first, rowStride, rows, o, kernel));
      if (o < n) _mm256_storeu_ps(out + n - 8, windowsStride2<IsMax, true>(first, rowStride, rows, n - 8, kernel));
    }
  }
}

template <bool IsMax>
void windowsAvx2(const PoolWindowRows& w) {
  const auto rows = w.rows == 3 && w.kernel == 3   ? windowsRows<IsMax, 3, 3>
                    : w.rows == 2 && w.kernel == 3 ? windowsRows<IsMax, 2, 3>
                    : w.rows == 2 && w.kernel == 2 ? windowsRows<IsMax, 2, 2>
                                                   : windowsRows<IsMax, 0, 0>;
  rows(w);
}

}  // namespace

PoolWindows poolWindowsAvx2(bool isMax) { return isMax ? windowsAvx2<true> : windowsAvx2<false>; }

}  // namespace petrel
