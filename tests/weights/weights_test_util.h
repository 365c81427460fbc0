#pragma once
// Shared by the weights tests: test matrices with the awkward cases.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "weights/quantize.h"

namespace petrel::test {

// rows x depth weights: random in [-1, 1), with row 1 all zeros, row 2
// constant, row 3 one huge outlier, row 4 all negative (when they exist).
inline std::vector<float> awkwardWeights(int64_t rows, int64_t depth, uint32_t seed) {
  std::vector<float> w = randomFloats(static_cast<size_t>(rows * depth), seed);
  auto row = [&](int64_t r) { return w.data() + r * depth; };
  if (rows > 1) std::fill(row(1), row(1) + depth, 0.0f);
  if (rows > 2) std::fill(row(2), row(2) + depth, 0.37f);
  if (rows > 3) row(3)[depth / 2] = 1000.0f;
  if (rows > 4)
    for (int64_t k = 0; k < depth; ++k) row(4)[k] = -0.5f - std::fabs(row(4)[k]);
  return w;
}

// Every encoding the format supports.
inline std::vector<WeightEncoding> everyEncoding() {
  std::vector<WeightEncoding> e = {{WeightStorage::kFloat32, 0, true},
                                   {WeightStorage::kFloat16, 0, true},
                                   {WeightStorage::kInt8, 0, true},
                                   {WeightStorage::kInt8, 0, false}};
  for (int64_t block : {0, 16, 32, 64, 128})
    for (bool symmetric : {true, false}) e.push_back({WeightStorage::kInt4, block, symmetric});
  return e;
}

inline std::string describe(const WeightEncoding& e) {
  std::string s = weightStorageName(e.storage);
  if (e.storage == WeightStorage::kInt4) s += " block " + std::to_string(e.blockSize);
  if (e.storage == WeightStorage::kInt8 || e.storage == WeightStorage::kInt4)
    s += e.symmetric ? " symmetric" : " asymmetric";
  return s;
}

}  // namespace petrel::test
