// AVX2 twins of the row-combining kernels in pool.cpp: acc[i] = max(acc[i],
// row[i]) and acc[i] += row[i]. Exact, so they match the scalar kernels bit for
// bit. Called only when bestIsa() is Isa::kAvx2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
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

}  // namespace

PoolRowCombine poolRowCombineAvx2(bool isMax) { return isMax ? maxIntoAvx2 : addIntoAvx2; }

}  // namespace petrel
