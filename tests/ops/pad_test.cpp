// Pad against a plain reference in every mode, with negative pads (crops),
// optional constant_value and axes inputs, float (1 and 2 threads) and int64.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <string>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

using I = HarnessInput;

// Input index for input position x (may be outside [0, n)), or -1 for the
// constant. Reflect bounces off the ends until inside, like numpy.
int64_t referenceSource(const std::string& mode, int64_t x, int64_t n) {
  if (x >= 0 && x < n) return x;
  if (mode == "constant") return -1;
  if (mode == "edge") return x < 0 ? 0 : n - 1;
  if (mode == "wrap") {
    while (x < 0) x += n;
    return x % n;
  }
  if (n == 1) return 0;
  while (x < 0 || x >= n) x = x < 0 ? -x : 2 * (n - 1) - x;  // reflect
  return x;
}

std::vector<float> padReference(const std::vector<float>& in, const Shape& shape, const std::string& mode,
                                const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                                float value, Shape& out) {
  const size_t rank = shape.size();
  out.resize(rank);
  for (size_t d = 0; d < rank; ++d) out[d] = shape[d] + before[d] + after[d];
  std::vector<float> result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    int64_t rest = flat, offset = 0, stride = 1;
    bool constant = false;
    for (size_t d = rank; d-- > 0;) {
      const int64_t o = rest % out[d];
      rest /= out[d];
      const int64_t source = referenceSource(mode, o - before[d], shape[d]);
      constant = constant || source < 0;
      offset += source * stride;
      stride *= shape[d];
    }
    result[flat] = constant ? value : in[offset];
  }
  return result;
}

TEST(PadOp, HandCheckedModes) {
  auto pad = [](const std::string& mode, int64_t left, int64_t right) {
    return runOp(makeNode("Pad", {{"mode", mode}}),
                 {I::runtime({3}, {1, 2, 3}), I::int64s({2}, {left, right}), I::constant({}, {9})})
        .outputs[0];
  };
  using V = std::vector<float>;
  EXPECT_EQ(pad("constant", 2, 2), (V{9, 9, 1, 2, 3, 9, 9}));
  EXPECT_EQ(pad("reflect", 2, 2), (V{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(pad("edge", 2, 2), (V{1, 1, 1, 2, 3, 3, 3}));
  EXPECT_EQ(pad("wrap", 2, 2), (V{2, 3, 1, 2, 3, 1, 2}));
  EXPECT_EQ(pad("constant", -1, 1), (V{2, 3, 9}));
  EXPECT_EQ(pad("reflect", 4, 0), (V{1, 2, 3, 2, 1, 2, 3}));  // numpy: bounces back
  // Without constant_value the constant is 0.
  EXPECT_EQ(runOp(makeNode("Pad"), {I::runtime({2}, {5, 6}), I::int64s({2}, {1, 1})}).outputs[0], (V{0, 5, 6, 0}));
  // NCHW with pads on H and W only: [0, 0, 1, 1, 0, 0, 1, 1].
  const HarnessResult r = runOp(makeNode("Pad"), {I::runtime({1, 1, 2, 2}, {1, 2, 3, 4}),
                                                  I::int64s({8}, {0, 0, 1, 1, 0, 0, 1, 1})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 4, 4}));
  EXPECT_EQ(r.outputs[0], (V{0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
}

TEST(PadOp, RandomShapesEveryMode) {
  std::mt19937 rng(17);
  const std::vector<Shape> shapes = {{5}, {3, 4}, {2, 3, 5}, {2, 3, 4, 5}, {1, 1, 6, 1}, {2, 12, 40, 40}};
  for (const std::string mode : {"constant", "reflect", "edge", "wrap"}) {
    for (const Shape& shape : shapes) {
      const int64_t rank = static_cast<int64_t>(shape.size());
      for (int trial = 0; trial < 12; ++trial) {
        // Pads in [-1, 3] (crops included); at most dim - 1 for reflect on
        // half the trials, wider on the others.
        std::vector<int64_t> before(rank), after(rank);
        for (int64_t d = 0; d < rank; ++d) {
          const int64_t limit = mode == "reflect" && trial % 2 == 0 ? std::max<int64_t>(shape[d] - 1, 0) : 3;
          before[d] = std::min<int64_t>(static_cast<int64_t>(rng() % 5) - 1, limit);
          after[d] = std::min<int64_t>(static_cast<int64_t>(rng() % 5) - 1, limit);
          if (shape[d] + before[d] + after[d] < 0) before[d] = after[d] = 0;
        }
        // Pad all axes, or only some through the axes input (negative half the time).
        std::vector<int64_t> axes;
        for (int64_t d = 0; d < rank; ++d)
          if (trial % 3 != 1 || rng() % 2) axes.push_back(d);
        std::vector<int64_t> pads;
        for (int64_t d : axes) pads.push_back(before[d]);
        for (int64_t d : axes) pads.push_back(after[d]);
        std::vector<int64_t> fullBefore(rank, 0), fullAfter(rank, 0);
        for (int64_t d : axes) {
          fullBefore[d] = before[d];
          fullAfter[d] = after[d];
        }
        const float value = trial % 2 ? 0.0f : -7.5f;
        const std::vector<float> data = randomFloats(shapeElements(shape), rng());
        Shape expectedShape;
        const std::vector<float> expected = padReference(data, shape, mode, fullBefore, fullAfter, value, expectedShape);

        std::vector<I> params{I::int64s({static_cast<int64_t>(pads.size())}, pads),
                              value == 0.0f ? I::absent() : I::constant({}, {value})};
        if (trial % 3 == 1) {
          std::vector<int64_t> named = axes;
          for (int64_t& a : named)
            if (rng() % 2) a -= rank;
          params.push_back(I::int64s({static_cast<int64_t>(named.size())}, named));
        }
        const Node node = makeNode("Pad", {{"mode", mode}});
        std::vector<I> inputs{I::runtime(shape, data)};
        inputs.insert(inputs.end(), params.begin(), params.end());
        for (int threads : {1, 2}) {
          const HarnessResult r = runOp(node, inputs, {.threads = threads});
          EXPECT_EQ(r.shapes[0], expectedShape);
          EXPECT_EQ(r.outputs[0], expected) << mode << " " << shapeToString(shape) << " pads " << shapeToString(pads)
                                            << " threads " << threads;
        }
        // int64 data (static) through the same plan.
        std::vector<int64_t> ints(data.size());
        std::vector<float> intsAsFloats(data.size());
        for (size_t k = 0; k < ints.size(); ++k) intsAsFloats[k] = static_cast<float>(ints[k] = static_cast<int64_t>(k));
        const std::vector<float> expectedInts =
            padReference(intsAsFloats, shape, mode, fullBefore, fullAfter, value == 0.0f ? 0.0f : -7.0f, expectedShape);
        inputs[0] = I::int64s(shape, ints);
        if (value != 0.0f) inputs[2] = I::int64s({}, {-7});
        const HarnessResult s = runOp(node, inputs);
        ASSERT_TRUE(s.statics[0]);
        EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expectedInts);
      }
    }
  }
}

TEST(PadOp, Errors) {
  const I data = I::runtime({2, 3}, std::vector<float>(6));
  expectNodeError([&] { runOp(makeNode("Pad"), {data, I::int64s({3}, {1, 1, 1})}); }, "Pad");
  expectNodeError([&] { runOp(makeNode("Pad", {{"mode", std::string("mirror")}}), {data, I::int64s({4}, {0, 0, 0, 0})}); },
                  "Pad");
  expectNodeError([&] { runOp(makeNode("Pad"), {data, I::int64s({4}, {0, -3, 0, -1})}); }, "Pad");
  expectNodeError([&] { runOp(makeNode("Pad"), {data, I::int64s({2}, {1, 1}), I::absent(), I::int64s({1}, {2})}); },
                  "Pad");
  expectNodeError([&] { runOp(makeNode("Pad"), {data, I::runtime({4}, {0, 0, 0, 0})}); }, "Pad");
  expectNodeError([&] {
    runOp(makeNode("Pad", {{"mode", std::string("edge")}}), {I::runtime({0, 3}, {}), I::int64s({4}, {1, 0, 1, 0})});
  }, "Pad");
}

}  // namespace
}  // namespace petrel::test
