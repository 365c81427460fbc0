// ReduceMean, ReduceSum, ReduceSumSquare and ReduceL2 over many axis sets,
// keepdims 0/1, axes given as attribute or input, against a reference that
// visits every input element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "ops/row_kernels.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

// Reduces x over `axes` (non-negative) as `op` does; the result has the kept
// dims in order, i.e. the keepdims=0 layout, which is also the keepdims=1 layout.
std::vector<double> referenceReduce(const std::vector<float>& x, const Shape& shape, const std::vector<int64_t>& axes,
                                    const std::string& op, Shape* keptShape) {
  const bool square = op == "ReduceSumSquare" || op == "ReduceL2";
  const size_t rank = shape.size();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) reduced[a] = true;
  *keptShape = shape;
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d)
    if (reduced[d]) {
      (*keptShape)[d] = 1;
      count *= shape[d];
    }
  std::vector<double> out(shapeElements(*keptShape), 0.0);
  std::vector<int64_t> coord(rank, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < rank; ++d) o = o * (*keptShape)[d] + (reduced[d] ? 0 : coord[d]);
    out[o] += square ? double(x[i]) * x[i] : x[i];
    for (size_t d = rank; d-- > 0;) {  // next coordinate
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  for (double& v : out) {
    if (op == "ReduceMean") v /= count;
    if (op == "ReduceL2") v = std::sqrt(v);
  }
  return out;
}

Shape dropReduced(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) == axes.end()) out.push_back(shape[d]);
  return out;
}

TEST(Reduce, AxesKeepdimsAndAxesFormsAgainstReference) {
  struct Case {
    Shape shape;
    std::vector<int64_t> axes;  // as given (may be negative); empty = all
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {}},       {{2, 3, 4, 5}, {0}},      {{2, 3, 4, 5}, {1}},     {{2, 3, 4, 5}, {2}},
      {{2, 3, 4, 5}, {3}},      {{2, 3, 4, 5}, {-1}},     {{2, 3, 4, 5}, {1, 2}},  {{2, 3, 4, 5}, {2, 3}},
      {{2, 3, 4, 5}, {-2, -1}}, {{2, 3, 4, 5}, {0, 2}},   {{2, 3, 4, 5}, {3, 1}},  {{2, 3, 4, 5}, {0, 3}},
      {{2, 3, 4, 5}, {0, 1, 2, 3}},
      {{7}, {0}},               {{1, 9, 1}, {1}},         {{3, 1, 5}, {1}},        {{4, 6}, {0}},
      {{2, 64, 30, 30}, {2, 3}},  // spatial mean, large: threads split N*C
      {{2, 64, 30, 30}, {1}},     // over channels: output rows accumulate
      {{1, 197, 768}, {-1}},      // ViT LayerNorm decomposition
      {{70, 1100}, {0}},          // outermost reduced: one thread
  };
  uint32_t seed = 1;
  for (int threads : {1, 2}) {
    const SessionConfig config = withThreads(threads);
    for (const Case& c : cases) {
      const int64_t rank = static_cast<int64_t>(c.shape.size());
      std::vector<int64_t> axes;
      for (int64_t a : c.axes) axes.push_back(a < 0 ? a + rank : a);
      if (axes.empty())
        for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
      const std::vector<float> x = randomFloats(shapeElements(c.shape), seed++, -1.0f, 3.0f);
      for (const char* op : {"ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2"}) {
        Shape keptShape;
        const std::vector<double> expected = referenceReduce(x, c.shape, axes, op, &keptShape);
        for (int64_t keepdims : {0, 1}) {
          for (bool axesAsInput : {false, true}) {
            SCOPED_TRACE(std::string(op) + " " + shapeToString(c.shape) + " axes " + shapeToString(c.axes) +
                         " keepdims " + std::to_string(keepdims) + (axesAsInput ? " (input)" : " (attribute)") +
                         " threads " + std::to_string(threads));
            Node node = makeNode(op, {{"keepdims", keepdims}});
            std::vector<HarnessInput> inputs = {HarnessInput::runtime(c.shape, x)};
            if (axesAsInput)
              inputs.push_back(HarnessInput::int64s({static_cast<int64_t>(c.axes.size())}, c.axes));
            else if (!c.axes.empty())
              node.attributes["axes"] = c.axes;
            HarnessResult r = runOp(node, inputs, config);
            ASSERT_EQ(r.shapes[0], keepdims ? keptShape : dropReduced(c.shape, axes));
            expectClose(r.outputs[0], expected, 1e-5);
          }
        }
      }
    }
  }
}

// The row reductions behind Reduce* and global pooling, both twins: lengths
// around the AVX2 twin's 8- and 32-float steps, against double sums; the
// maximum exactly, wherever it lies, and with a NaN anywhere skipped.
TEST(Reduce, RowKernelTwinsAgainstReference) {
  uint32_t seed = 900;
  for (Isa isa : supportedIsas())
    for (int64_t n : {1, 2, 3, 7, 8, 9, 31, 32, 33, 39, 40, 63, 64, 65, 100, 3136}) {
      SCOPED_TRACE(std::string(isaName(isa)) + " n " + std::to_string(n));
      std::vector<float> x = randomFloats(n, seed++, -2.0f, 2.0f);
      double sum = 0.0, squares = 0.0, magnitudes = 0.0;
      for (float v : x) sum += v, squares += double(v) * v, magnitudes += std::fabs(v);
      EXPECT_NEAR(reduceRowKernel(RowReduction::kSum, isa)(x.data(), n), sum, 1e-6 * magnitudes);
      EXPECT_NEAR(reduceRowKernel(RowReduction::kSumOfSquares, isa)(x.data(), n), squares, 1e-6 * squares);
      const ReduceRow max = reduceRowKernel(RowReduction::kMax, isa);
      for (int64_t at : {int64_t{0}, n / 2, n - 1}) {
        std::vector<float> y = x;
        y[at] = 3.0f;
        EXPECT_EQ(max(y.data(), n), 3.0f) << "largest at " << at;
        for (int64_t nan = 0; nan < n; ++nan) {
          if (nan == at) continue;
          std::vector<float> z = y;
          z[nan] = std::nanf("");
          ASSERT_EQ(max(z.data(), n), 3.0f) << "largest at " << at << ", a NaN at " << nan;
        }
      }
    }
}

TEST(Reduce, NoopWithEmptyAxesIsIdentity) {
  const std::vector<float> x = randomFloats(24, 3);
  HarnessResult r = runOp(makeNode("ReduceSum", {{"noop_with_empty_axes", int64_t{1}}}),
                          {HarnessInput::runtime({2, 3, 4}, x), HarnessInput::int64s({0}, {})});
  EXPECT_TRUE(r.aliased);
  EXPECT_EQ(r.shapes[0], (Shape{2, 3, 4}));
  EXPECT_EQ(r.outputs[0], x);
  // Without it, empty axes reduce everything.
  r = runOp(makeNode("ReduceSum", {{"keepdims", int64_t{0}}}),
            {HarnessInput::runtime({2, 3, 4}, x), HarnessInput::int64s({0}, {})});
  EXPECT_EQ(r.shapes[0], Shape{});
  double sum = 0.0;
  for (float v : x) sum += v;
  EXPECT_NEAR(r.outputs[0][0], sum, 1e-5);
}

TEST(Reduce, Int64IsStatic) {
  HarnessResult r = runOp(makeNode("ReduceSum", {{"keepdims", int64_t{0}}}),
                          {HarnessInput::int64s({2, 3}, {1, 2, 3, 4, 5, 6}), HarnessInput::int64s({1}, {1})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.shapes[0], (Shape{2}));
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{6, 15}));
  r = runOp(makeNode("ReduceMean", {{"axes", std::vector<int64_t>{0}}}),
            {HarnessInput::int64s({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.shapes[0], (Shape{1, 3}));
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{2, 3, 4}));  // integer mean truncates
}

TEST(Reduce, Errors) {
  const HarnessInput x = HarnessInput::runtime({2, 3}, std::vector<float>(6));
  try {
    runOp(makeNode("ReduceMean", {{"axes", std::vector<int64_t>{2}}}), {x});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_ReduceMean"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("axis 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(runOp(makeNode("ReduceMean", {{"axes", std::vector<int64_t>{1, -1}}}), {x}), Error);  // repeated
  EXPECT_THROW(runOp(makeNode("ReduceSum"), {x, HarnessInput::runtime({1}, {1.0f})}), Error);    // run-time axes
}

}  // namespace
}  // namespace petrel::test
