// Softmax along every axis against a double-precision reference.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"
#include "ops/row_kernels.h"

namespace petrel::test {
namespace {

// Softmax of x along `axis` (non-negative), computed directly per element group.
std::vector<double> referenceSoftmax(const std::vector<float>& x, const Shape& shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t n = shape[axis];
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return (o * n + k) * inner + i; };
      double max = -1e300;
      for (int64_t k = 0; k < n; ++k) max = std::max<double>(max, x[at(k)]);
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x[at(k)] - max);
      for (int64_t k = 0; k < n; ++k) y[at(k)] = std::exp(x[at(k)] - max) / sum;
    }
  }
  return y;
}

TEST(Softmax, EveryAxisAgainstReference) {
  const std::vector<Shape> shapes = {{7}, {2, 3, 5, 7}, {4, 1000}, {3, 1, 9}, {1, 12, 197, 197}, {3, 70, 400}};
  uint32_t seed = 1;
  for (int threads : {1, 2}) {
    const SessionConfig config = withThreads(threads);
    for (const Shape& shape : shapes) {
      const int64_t rank = static_cast<int64_t>(shape.size());
      for (int64_t axis = -rank; axis < rank; ++axis) {
        if (shapeElements(shape) > 100000 && axis != -1 && axis != 1) continue;  // keep the test quick
        SCOPED_TRACE(shapeToString(shape) + " axis " + std::to_string(axis) + " threads " + std::to_string(threads));
        // Large magnitudes: exp without subtracting the maximum would overflow.
        const std::vector<float> x = randomFloats(shapeElements(shape), seed++, -60.0f, 120.0f);
        HarnessResult r = runOp(makeNode("Softmax", {{"axis", axis}}), {HarnessInput::runtime(shape, x)}, config);
        ASSERT_EQ(r.shapes[0], shape);
        expectClose(r.outputs[0], referenceSoftmax(x, shape, axis < 0 ? axis + rank : axis), 1e-5);
      }
    }
  }
}

TEST(Softmax, RowKernelTwinsAgainstReference) {
  const std::vector<Isa> isas = supportedIsas();
  uint32_t seed = 700;
  for (Isa isa : isas) {
    for (int64_t n : {1, 2, 7, 8, 9, 15, 16, 17, 23, 64, 197, 1000, 1001}) {
      SCOPED_TRACE(std::string(isaName(isa)) + " n " + std::to_string(n));
      const std::vector<float> x = randomFloats(n, seed++, -100.0f, 30.0f);
      std::vector<float> y(n);
      softmaxRow(x.data(), y.data(), n, isa);
      expectClose(y, referenceSoftmax(x, {n}, 0), 1e-5);
    }
  }
}

TEST(Softmax, DefaultAxisIsLast) {
  const Shape shape = {3, 4, 6};
  const std::vector<float> x = randomFloats(shapeElements(shape), 3, -3.0f, 3.0f);
  HarnessResult r = runOp(makeNode("Softmax"), {HarnessInput::runtime(shape, x)});
  expectClose(r.outputs[0], referenceSoftmax(x, shape, 2), 1e-6);
  // Rows sum to one.
  for (int64_t row = 0; row < 12; ++row) {
    double sum = 0.0;
    for (int64_t i = 0; i < 6; ++i) sum += r.outputs[0][row * 6 + i];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
}

TEST(Softmax, Errors) {
  try {
    runOp(makeNode("Softmax", {{"axis", int64_t{3}}}), {HarnessInput::runtime({2, 3, 4}, std::vector<float>(24))});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_Softmax"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("axis 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(runOp(makeNode("Softmax"), {HarnessInput::int64s({2}, {1, 2})}), Error);
}

}  // namespace
}  // namespace petrel::test
