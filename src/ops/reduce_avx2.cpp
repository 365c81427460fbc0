// AVX2 twins of the row reductions in reduce.cpp. Four vector accumulators:
// the additions (or maxima) of 32 floats are in flight at once, where one
// accumulator would wait on each addition's latency. Called only when
// bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/x86/avx2_lanes.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

template <RowReduction R>
[[gnu::always_inline]] inline __m256 combine(__m256 acc, __m256 x) {
  if (R == RowReduction::kSum) return _mm256_add_ps(acc, x);
  if (R == RowReduction::kSumOfSquares) return _mm256_fmadd_ps(x, x, acc);
  return _mm256_max_ps(x, acc);  // acc where x is NaN, as std::max(acc, x)
}

template <RowReduction R>
float reduceRow(const float* x, int64_t n) {
  constexpr bool kMax = R == RowReduction::kMax;
  const __m256 start = _mm256_set1_ps(kMax ? -std::numeric_limits<float>::infinity() : 0.0f);
  __m256 acc[4] = {start, start, start, start};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
#pragma GCC unroll 4
    for (int a = 0; a < 4; ++a) acc[a] = combine<R>(acc[a], _mm256_loadu_ps(x + i + 8 * a));
  for (; i + 8 <= n; i += 8) acc[0] = combine<R>(acc[0], _mm256_loadu_ps(x + i));
  const __m256 all = kMax ? _mm256_max_ps(_mm256_max_ps(acc[0], acc[1]), _mm256_max_ps(acc[2], acc[3]))
                          : _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  float result = kMax ? avx2::horizontalMax(all) : avx2::horizontalSum(all);
  for (; i < n; ++i) {
    if (R == RowReduction::kSum) result += x[i];
    if (R == RowReduction::kSumOfSquares) result += x[i] * x[i];
    if (kMax) result = std::max(result, x[i]);
  }
  return result;
}

}  // namespace

ReduceRow reduceRowAvx2(RowReduction reduction) {
  switch (reduction) {
    case RowReduction::kSum: return reduceRow<RowReduction::kSum>;
    case RowReduction::kSumOfSquares: return reduceRow<RowReduction::kSumOfSquares>;
    case RowReduction::kMax: return reduceRow<RowReduction::kMax>;
  }
  return nullptr;
}

}  // namespace petrel
