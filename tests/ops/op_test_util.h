#pragma once
// Checks and small helpers shared by the operator tests (running an op lives
// in op_harness.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "kernels/activation.h"
#include "kernels/cpu.h"

namespace petrel::test {

// Element-wise closeness: |actual - expected| <= tolerance * (1 + |expected|),
// computed in double; NaN never passes. `expected` is float or double.
// Reports the first five mismatches.
template <typename T>
void expectClose(const std::vector<float>& actual, const std::vector<T>& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  int reported = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double want = static_cast<double>(expected[i]);
    const double limit = tolerance * (1.0 + std::fabs(want));
    if (!(std::fabs(static_cast<double>(actual[i]) - want) <= limit) && reported++ < 5)
      ADD_FAILURE() << "element " << i << ": got " << actual[i] << ", expected " << expected[i];
  }
}

// `fn` must throw petrel::Error whose message contains every fragment.
void expectError(const std::function<void()>& fn, const std::vector<std::string>& fragments);

// `fn` must throw petrel::Error whose message names the node built by
// makeNode(op) ("test_" + op).
void expectNodeError(const std::function<void()>& fn, const std::string& op);

// Multi-index of a flat index in a row-major shape, and back.
std::vector<int64_t> unravel(int64_t flat, const Shape& shape);
int64_t ravel(const std::vector<int64_t>& index, const Shape& shape);

// Numpy broadcasting: the flat index into `source` (aligned with `out` on the
// last dimension; size-1 dimensions repeat) that output element `flat` reads.
int64_t broadcastSourceIndex(const Shape& source, const Shape& out, int64_t flat);

// 0, 1, ..., n-1 (ints: first, first+1, ...).
std::vector<float> iotaFloats(int64_t n);
std::vector<int64_t> iotaInts(int64_t n, int64_t first = 0);

// Sets the fused-activation attributes (activation, activation_alpha,
// activation_beta) of a Conv/Gemm/MatMul-style node; none for Activation::kNone.
void addActivationAttributes(std::map<std::string, AttributeValue>& attrs, const ActivationParams& activation);

// The kernel twins this machine can run: scalar always, then AVX2 if supported.
std::vector<Isa> supportedIsas();

}  // namespace petrel::test
