// The portable SGEMM micro-kernels: the fallback and the reference for the
// SIMD ones (same packing, same epilogue order).
#include <algorithm>

#include "kernels/sgemm_internal.h"

namespace petrel {

namespace {

// The first `cols` columns of B (row k at b + k * ldb), for every row panel
// of the tile.
void kernel6xN(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
               const SgemmTileStore& store, int64_t cols) {
  constexpr int64_t MR = kSgemmMR;
  for (int64_t i0 = 0; i0 < store.rows; i0 += MR, a += MR * kc) {
    float acc[MR][kSgemmNR] = {};
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t i = 0; i < MR; ++i)
        for (int64_t j = 0; j < cols; ++j) acc[i][j] += a[k * MR + i] * b[k * ldb + j];

    for (int64_t i = 0; i < std::min(MR, store.rows - i0); ++i) {
      float* row = c + (i0 + i) * ldc;
      for (int64_t j = 0; j < cols; ++j) {
        float v = store.alpha * acc[i][j];
        if (store.loadC) v += row[j];
        if (store.finish) {
          if (store.bias == SgemmBias::kPerRow) v += store.biasValues[i0 + i];
          if (store.bias == SgemmBias::kPerColumn) v += store.biasValues[j];
          v = applyActivation(store.activation, v);
        }
        row[j] = v;
      }
    }
  }
}

}  // namespace

void sgemmKernel6x16Scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                           const SgemmTileStore& store) {
  kernel6xN(kc, a, b, kSgemmNR, c, ldc, store, kSgemmNR);
}

void sgemmKernel6x8Scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                          const SgemmTileStore& store) {
  kernel6xN(kc, a, b, kSgemmNR, c, ldc, store, kSgemmNR / 2);
}

void sgemmKernelColumnsScalar(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                              const SgemmTileStore& store, int64_t cols) {
  kernel6xN(kc, a, b, ldb, c, ldc, store, cols);
}

}  // namespace petrel
