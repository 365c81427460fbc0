// AVX2 twins of the row kernels in pool.cpp: the max or sum of a window's
// rows, and the windows along one row. Exact and in the same order,
// so they match the scalar kernels bit for bit (NaNs aside). Called only when
// bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avx2_lanes.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

template <bool IsMax>
__m256 combine(__m256 acc, __m256 x) {
  return IsMax ? _mm256_max_ps(acc, x) : _mm256_add_ps(acc, x);
}

// Columns [i, i + 8) of a window's rows, combined.
template <bool IsMax>
[[gnu::always_inline]] inline __m256 rowsAt(const float* first, int64_t rowStride, int64_t rows, int64_t i) {
  __m256 acc = _mm256_loadu_ps(first + i);
  for (int64_t r = 1; r < rows; ++r) acc = combine<IsMax>(acc, _mm256_loadu_ps(first + r * rowStride + i));
  return acc;
}

// A last partial vector is one more whole vector ending at n, overlapping the
// one before (the same values again): no scalar tail from 8 columns on.
template <bool IsMax>
void combineRowsAvx2(const float* first, int64_t rowStride, int64_t rows, float* line, int64_t n) {
  if (n < 8) {
    poolRowCombine(IsMax, Isa::kScalar)(first, rowStride, rows, line, n);
    return;
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(line + i, rowsAt<IsMax>(first, rowStride, rows, i));
  if (i < n) _mm256_storeu_ps(line + n - 8, rowsAt<IsMax>(first, rowStride, rows, n - 8));
}

// Outputs [o, o + 8) at stride 1.
template <bool IsMax>
[[gnu::always_inline]] inline __m256 windowsStride1(const float* in, int64_t o, int64_t kernel) {
  __m256 acc = _mm256_loadu_ps(in + o);
  for (int64_t t = 1; t < kernel; ++t) acc = combine<IsMax>(acc, _mm256_loadu_ps(in + o + t));
  return acc;
}

// Outputs [o, o + 8) at stride 2: tap t of the 8 windows is every other
// float from in + 2o + t. A 16-float load starting there reads one float
// past the last output's tap (lane 15, unused); FromBefore starts every load
// one float earlier and takes the odd lanes instead, reading nothing past it
// (but one float before in + 2o). The taps are combined in the in-lane order
// of the shuffle that picks them and put in output order once at the end
// (max and sum work lane by lane), not once per tap.
template <bool IsMax, bool FromBefore>
[[gnu::always_inline]] inline __m256 windowsStride2(const float* in, int64_t o, int64_t kernel) {
  const float* p = in + 2 * o;
  auto tap = [p](int64_t t) {
    const bool odd = FromBefore || t % 2 != 0;
    const float* q = odd ? p + t - 1 : p + t;
    const __m256 lo = _mm256_loadu_ps(q), hi = _mm256_loadu_ps(q + 8);
    return odd ? avx2::everyOtherUnordered<true>(lo, hi) : avx2::everyOtherUnordered<false>(lo, hi);
  };
  __m256 acc = tap(0);
  for (int64_t t = 1; t < kernel; ++t) acc = combine<IsMax>(acc, tap(t));
  return avx2::inOrder(acc);
}

// The last outputs that a whole block cannot take are recomputed by one
// block ending at n, overlapping the one before (the same values, in the
// same order): no scalar tail for rows of 8 (stride 1) or 9 (stride 2)
// outputs and more, and no read past the last tap.
template <bool IsMax>
void windowRowAvx2(const float* in, float* out, int64_t n, int64_t stride, int64_t kernel, int64_t dilation) {
  int64_t o = 0;
  if (dilation != 1) {
    // Not vectorised: all through the scalar twin, below.
  } else if (stride == 1) {
    for (; o + 8 <= n; o += 8) _mm256_storeu_ps(out + o, windowsStride1<IsMax>(in, o, kernel));
    if (o < n && n >= 8) {
      _mm256_storeu_ps(out + n - 8, windowsStride1<IsMax>(in, n - 8, kernel));
      o = n;
    }
  } else if (stride == 2) {
    // Plain loads while one more output follows, whose taps lie past the over-read.
    for (; o + 9 <= n; o += 8) _mm256_storeu_ps(out + o, windowsStride2<IsMax, false>(in, o, kernel));
    if (o < n && n >= 9) {
      _mm256_storeu_ps(out + n - 8, windowsStride2<IsMax, true>(in, n - 8, kernel));
      o = n;
    }
  }
  if (o < n) poolWindowRow(IsMax, Isa::kScalar)(in + o * stride, out + o, n - o, stride, kernel, dilation);
}

}  // namespace

PoolRowCombine poolRowCombineAvx2(bool isMax) { return isMax ? combineRowsAvx2<true> : combineRowsAvx2<false>; }

PoolWindowRow poolWindowRowAvx2(bool isMax) { return isMax ? windowRowAvx2<true> : windowRowAvx2<false>; }

}  // namespace petrel
