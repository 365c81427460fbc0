// Slice and Gather against plain index references, float (run time, 1 and 2
// threads) and int64 (static) data.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

using I = HarnessInput;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// --- Slice -----------------------------------------------------------------------

// The indices ONNX Slice visits along one axis: negative start/end count from
// the back, then start is clamped to [0, dim] ([0, dim-1] for negative steps)
// and end to [0, dim] ([-1, dim-1]); then walk from start towards end.
std::vector<int64_t> sliceIndices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  std::vector<int64_t> indices;
  if (step > 0) {
    start = std::max<int64_t>(0, std::min(start, dim));
    end = std::max<int64_t>(0, std::min(end, dim));
    for (int64_t i = start; i < end; i += step) indices.push_back(i);
  } else {
    start = std::max<int64_t>(0, std::min(start, dim - 1));
    end = std::max<int64_t>(-1, std::min(end, dim - 1));
    for (int64_t i = start; i > end; i += step) indices.push_back(i);
  }
  return indices;
}

struct SliceCase {
  Shape shape;
  std::vector<int64_t> starts, ends, axes, steps;  // axes/steps empty = input absent
};

// Reference slice: per-axis index lists, then a plain gather of elements.
std::vector<float> sliceReference(const std::vector<float>& in, const SliceCase& c, Shape& out) {
  const int64_t rank = static_cast<int64_t>(c.shape.size());
  std::vector<std::vector<int64_t>> picks(rank);
  for (int64_t d = 0; d < rank; ++d) picks[d] = sliceIndices(c.shape[d], 0, kMax, 1);
  for (size_t i = 0; i < c.starts.size(); ++i) {
    int64_t axis = c.axes.empty() ? static_cast<int64_t>(i) : c.axes[i];
    if (axis < 0) axis += rank;
    picks[axis] = sliceIndices(c.shape[axis], c.starts[i], c.ends[i], c.steps.empty() ? 1 : c.steps[i]);
  }
  out.clear();
  for (const auto& p : picks) out.push_back(static_cast<int64_t>(p.size()));
  std::vector<float> result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    std::vector<int64_t> index = unravel(flat, out);
    for (int64_t d = 0; d < rank; ++d) index[d] = picks[d][index[d]];
    result[flat] = in[ravel(index, c.shape)];
  }
  return result;
}

void checkSlice(const SliceCase& c) {
  const auto n = static_cast<int64_t>(c.starts.size());
  const std::vector<float> data = iotaFloats(shapeElements(c.shape));
  Shape expectedShape;
  const std::vector<float> expected = sliceReference(data, c, expectedShape);
  std::vector<I> params{I::int64s({n}, c.starts), I::int64s({n}, c.ends)};
  if (!c.axes.empty() || !c.steps.empty())
    params.push_back(c.axes.empty() ? I::absent() : I::int64s({n}, c.axes));
  if (!c.steps.empty()) params.push_back(I::int64s({n}, c.steps));
  const std::string what = shapeToString(c.shape) + " starts " + shapeToString(c.starts) + " ends " +
                           shapeToString(c.ends) + " axes " + shapeToString(c.axes) + " steps " +
                           shapeToString(c.steps);

  std::vector<I> inputs{I::runtime(c.shape, data)};
  inputs.insert(inputs.end(), params.begin(), params.end());
  for (int threads : {1, 2}) {
    const HarnessResult r = runOp(makeNode("Slice"), inputs, {.threads = threads});
    EXPECT_EQ(r.shapes[0], expectedShape) << what;
    EXPECT_EQ(r.outputs[0], expected) << what;
  }
  std::vector<int64_t> ints(data.begin(), data.end());
  inputs[0] = I::int64s(c.shape, ints);
  const HarnessResult s = runOp(makeNode("Slice"), inputs);
  ASSERT_TRUE(s.statics[0]) << what;
  EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expected) << what;
}

TEST(SliceOp, HandPickedOnnxClamping) {
  // [0..9]: negative starts/ends, out-of-range clamping, negative steps.
  auto slice1d = [](int64_t start, int64_t end, int64_t step) {
    const HarnessResult r = runOp(makeNode("Slice"), {I::runtime({10}, iotaFloats(10)), I::int64s({1}, {start}),
                                                      I::int64s({1}, {end}), I::int64s({1}, {0}),
                                                      I::int64s({1}, {step})});
    return r.outputs[0];
  };
  using V = std::vector<float>;
  EXPECT_EQ(slice1d(2, 5, 1), (V{2, 3, 4}));
  EXPECT_EQ(slice1d(-3, kMax, 1), (V{7, 8, 9}));
  EXPECT_EQ(slice1d(-100, 2, 1), (V{0, 1}));
  EXPECT_EQ(slice1d(8, 100, 1), (V{8, 9}));
  EXPECT_EQ(slice1d(1, 9, 3), (V{1, 4, 7}));
  EXPECT_EQ(slice1d(kMax, kMin, -1), (V{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(slice1d(-1, -4, -1), (V{9, 8, 7}));
  EXPECT_EQ(slice1d(7, 1, -2), (V{7, 5, 3}));
  EXPECT_EQ(slice1d(5, 5, 1), (V{}));
  EXPECT_EQ(slice1d(2, 8, -1), (V{}));
  EXPECT_EQ(slice1d(-100, kMin, -1), (V{0}));  // start clamps to 0 for negative steps
  EXPECT_EQ(slice1d(100, 7, -1), (V{9, 8}));
}

TEST(SliceOp, RandomShapesAxesAndSteps) {
  std::mt19937 rng(3);
  const std::vector<Shape> shapes = {{9}, {4, 7}, {3, 1, 6}, {2, 3, 5, 7}, {5, 4, 3, 2, 3}, {2, 32, 40, 40}};
  const std::vector<int64_t> stepChoices{-3, -2, -1, 1, 1, 2, 3};
  for (const Shape& shape : shapes) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    for (int trial = 0; trial < 40; ++trial) {
      SliceCase c;
      c.shape = shape;
      // A random subset of axes in random order, written negative half the time.
      std::vector<int64_t> order(rank);
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      const int64_t count = 1 + static_cast<int64_t>(rng() % rank);
      const bool withAxes = trial % 4 != 0;
      const bool withSteps = trial % 3 != 0;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t axis = withAxes ? order[i] : i;
        const int64_t dim = shape[axis];
        auto pick = [&]() -> int64_t {
          switch (rng() % 8) {
            case 0: return kMax;
            case 1: return kMin;
            default: return static_cast<int64_t>(rng() % (2 * dim + 7)) - dim - 3;
          }
        };
        c.starts.push_back(pick());
        c.ends.push_back(pick());
        if (withAxes) c.axes.push_back(rng() % 2 ? axis : axis - rank);
        c.steps.push_back(withSteps ? stepChoices[rng() % stepChoices.size()] : 1);
      }
      if (!withSteps) c.steps.clear();
      checkSlice(c);
    }
  }
  // Large enough for the parallel path: crop the middle of a feature map.
  checkSlice({{2, 32, 40, 40}, {1, 2}, {-1, 39}, {2, 3}, {}});
  checkSlice({{2, 32, 40, 40}, {kMax}, {kMin}, {1}, {-1}});
}

TEST(SliceOp, Errors) {
  const I data = I::runtime({4, 5}, iotaFloats(20));
  expectNodeError([&] { runOp(makeNode("Slice"), {data, I::int64s({1}, {0}), I::int64s({1}, {2}), I::int64s({1}, {2})}); },
                  "Slice");
  expectNodeError([&] {
    runOp(makeNode("Slice"),
          {data, I::int64s({1}, {0}), I::int64s({1}, {2}), I::int64s({1}, {0}), I::int64s({1}, {0})});
  }, "Slice");
  expectNodeError([&] { runOp(makeNode("Slice"), {data, I::int64s({2}, {0, 0}), I::int64s({1}, {2})}); }, "Slice");
  expectNodeError([&] {
    runOp(makeNode("Slice"), {data, I::int64s({2}, {0, 0}), I::int64s({2}, {2, 2}), I::int64s({2}, {1, -1})});
  }, "Slice");
  expectNodeError([&] { runOp(makeNode("Slice"), {data, I::runtime({1}, {0}), I::int64s({1}, {2})}); }, "Slice");
}

// --- Gather ----------------------------------------------------------------------

// Reference: out[before..., idx..., after...] = in[before..., indices[idx...], after...].
std::vector<float> gatherReference(const std::vector<float>& in, const Shape& shape, int64_t axis,
                                   const Shape& indexShape, const std::vector<int64_t>& indices, Shape& out) {
  out.assign(shape.begin(), shape.begin() + axis);
  out.insert(out.end(), indexShape.begin(), indexShape.end());
  out.insert(out.end(), shape.begin() + axis + 1, shape.end());
  std::vector<float> result(shapeElements(out));
  const size_t k = indexShape.size();
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    const std::vector<int64_t> o = unravel(flat, out);
    std::vector<int64_t> index(o.begin(), o.begin() + axis);
    int64_t which = 0;
    for (size_t j = 0; j < k; ++j) which = which * indexShape[j] + o[axis + j];
    int64_t i = indices[which];
    index.push_back(i < 0 ? i + shape[axis] : i);
    index.insert(index.end(), o.begin() + axis + k, o.end());
    result[flat] = in[ravel(index, shape)];
  }
  return result;
}

TEST(GatherOp, ScalarVectorAndMatrixIndicesOnEveryAxis) {
  std::mt19937 rng(5);
  const std::vector<Shape> shapes = {{7}, {4, 5}, {3, 4, 5}, {2, 3, 4, 5}, {8, 64, 80}};
  const std::vector<Shape> indexShapes = {{}, {1}, {3}, {2, 3}, {0}};
  for (const Shape& shape : shapes) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    const std::vector<float> data = iotaFloats(shapeElements(shape));
    for (int64_t axis = -rank; axis < rank; ++axis) {
      const int64_t a = axis < 0 ? axis + rank : axis;
      const int64_t dim = shape[a];
      for (const Shape& indexShape : indexShapes) {
        std::vector<int64_t> indices(shapeElements(indexShape));
        for (int64_t& i : indices) i = static_cast<int64_t>(rng() % (2 * dim)) - dim;  // negatives too
        Shape expectedShape;
        const std::vector<float> expected = gatherReference(data, shape, a, indexShape, indices, expectedShape);
        const Node node = makeNode("Gather", {{"axis", axis}});
        const I idx = I::int64s(indexShape, indices);
        for (int threads : {1, 2}) {
          const HarnessResult r = runOp(node, {I::runtime(shape, data), idx}, {.threads = threads});
          EXPECT_EQ(r.shapes[0], expectedShape);
          EXPECT_EQ(r.outputs[0], expected) << shapeToString(shape) << " axis " << axis << " indices "
                                            << shapeToString(indices);
        }
        const HarnessResult s = runOp(node, {I::int64s(shape, std::vector<int64_t>(data.begin(), data.end())), idx});
        ASSERT_TRUE(s.statics[0]);
        EXPECT_EQ(s.statics[0]->shape, expectedShape);
        EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expected);
      }
    }
  }
}

TEST(GatherOp, ShapeArithmetic) {
  // Shape -> Gather(0) gives the batch size as a scalar.
  const HarnessResult r =
      runOp(makeNode("Gather", {{"axis", int64_t{0}}}), {I::int64s({4}, {8, 3, 224, 224}), I::int64s({}, {0})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.shapes[0], Shape{});
  EXPECT_EQ(r.statics[0]->i64, std::vector<int64_t>{8});
  const HarnessResult last =
      runOp(makeNode("Gather"), {I::int64s({4}, {8, 3, 224, 224}), I::int64s({2}, {-1, -2})});
  EXPECT_EQ(last.statics[0]->i64, (std::vector<int64_t>{224, 224}));
}

TEST(GatherOp, Errors) {
  const I data = I::runtime({4, 5}, iotaFloats(20));
  expectNodeError([&] { runOp(makeNode("Gather"), {data, I::int64s({1}, {4})}); }, "Gather");
  expectNodeError([&] { runOp(makeNode("Gather"), {data, I::int64s({1}, {-5})}); }, "Gather");
  expectNodeError([&] { runOp(makeNode("Gather", {{"axis", int64_t{2}}}), {data, I::int64s({1}, {0})}); }, "Gather");
  expectNodeError([&] { runOp(makeNode("Gather"), {data, I::runtime({1}, {0})}); }, "Gather");
}

}  // namespace
}  // namespace petrel::test
