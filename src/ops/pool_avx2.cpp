// AVX2 twins of the row kernels in pool.cpp: acc[i] = max(acc[i], row[i]),
// acc[i] += row[i], and the windows along one row. Exact and in the same order,
// so they match the scalar kernels bit for bit (NaNs aside). Called only when
// bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/x86/avx2_lanes.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

void maxIntoAvx2(float* acc, const float* row, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(acc + i, _mm256_max_ps(_mm256_loadu_ps(acc + i), _mm256_loadu_ps(row + i)));
  for (; i < n; ++i) acc[i] = std::max(acc[i], row[i]);
}

void addIntoAvx2(float* acc, const float* row, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_loadu_ps(row + i)));
  for (; i < n; ++i) acc[i] += row[i];
}

template <bool IsMax>
__m256 combine(__m256 acc, __m256 x) {
  return IsMax ? _mm256_max_ps(acc, x) : _mm256_add_ps(acc, x);
}

template <bool IsMax>
void windowRowAvx2(const float* in, float* out, int64_t n, int64_t stride, int64_t kernel, int64_t dilation) {
  int64_t o = 0;
  if (dilation != 1) {
    // Not vectorised: all through the scalar twin, below.
  } else if (stride == 1) {
    for (; o + 8 <= n; o += 8) {
      __m256 acc = _mm256_loadu_ps(in + o);
      for (int64_t t = 1; t < kernel; ++t) acc = combine<IsMax>(acc, _mm256_loadu_ps(in + o + t));
      _mm256_storeu_ps(out + o, acc);
    }
  } else if (stride == 2) {
    // A tap's 16-float load reads one float past the block's last tap: stop
    // while one more output follows, whose taps lie past it.
    for (; o + 9 <= n; o += 8) {
      const float* p = in + 2 * o;
      __m256 acc = avx2::everyOther<false>(p);
      for (int64_t t = 1; t < kernel; ++t)
        acc = combine<IsMax>(acc, t % 2 ? avx2::everyOther<true>(p + t - 1) : avx2::everyOther<false>(p + t));
      _mm256_storeu_ps(out + o, acc);
    }
  }
  if (o < n) poolWindowRow(IsMax, Isa::kScalar)(in + o * stride, out + o, n - o, stride, kernel, dilation);
}

}  // namespace

PoolRowCombine poolRowCombineAvx2(bool isMax) { return isMax ? maxIntoAvx2 : addIntoAvx2; }

PoolWindowRow poolWindowRowAvx2(bool isMax) { return isMax ? windowRowAvx2<true> : windowRowAvx2<false>; }

}  // namespace petrel
