// Shape, Reshape, Flatten, Squeeze, Unsqueeze, Expand, ConstantOfShape, Range
// and Cast against plain references, on float (run time) and int64 (static) data.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

using I = HarnessInput;

// Runs a pure reshape op on float data (expects an alias) and on int64 data
// (expects a static value) and returns the output shape.
Shape checkReshapeLike(const Node& node, const Shape& in, std::vector<I> params) {
  const int64_t n = shapeElements(in);
  std::vector<I> floatInputs{I::runtime(in, iotaFloats(n))};
  floatInputs.insert(floatInputs.end(), params.begin(), params.end());
  const HarnessResult f = runOp(node, floatInputs);
  EXPECT_TRUE(f.aliased);
  EXPECT_EQ(f.outputs[0], iotaFloats(n));

  std::vector<I> intInputs{I::int64s(in, iotaInts(n, 100))};
  intInputs.insert(intInputs.end(), params.begin(), params.end());
  const HarnessResult s = runOp(node, intInputs);
  EXPECT_FALSE(s.aliased);
  EXPECT_TRUE(s.statics[0].has_value());
  if (s.statics[0]) {
    EXPECT_EQ(s.statics[0]->dtype, DType::kInt64);
    EXPECT_EQ(s.statics[0]->i64, iotaInts(n, 100));
    EXPECT_EQ(s.statics[0]->shape, f.shapes[0]);
  }
  EXPECT_EQ(s.shapes[0], f.shapes[0]);
  return f.shapes[0];
}

// --- Shape -----------------------------------------------------------------------

TEST(ShapeOp, StartEndLikePythonSlicing) {
  const Shape in{2, 3, 5, 7};
  const int64_t rank = 4;
  for (int64_t start = -6; start <= 6; ++start) {
    for (int64_t end = -6; end <= 6; ++end) {
      // Reference: Python in[start:end].
      auto fix = [&](int64_t i) { return std::min(std::max(i < 0 ? i + rank : i, int64_t{0}), rank); };
      Shape expected;
      for (int64_t i = fix(start); i < fix(end); ++i) expected.push_back(in[i]);
      const HarnessResult r =
          runOp(makeNode("Shape", {{"start", start}, {"end", end}}), {I::runtime(in, iotaFloats(210))});
      ASSERT_TRUE(r.statics[0]);
      EXPECT_EQ(r.statics[0]->i64, expected) << start << ":" << end;
      EXPECT_EQ(r.shapes[0], Shape{static_cast<int64_t>(expected.size())});
    }
  }
  const HarnessResult all = runOp(makeNode("Shape"), {I::int64s({4, 1}, {1, 2, 3, 4})});
  ASSERT_TRUE(all.statics[0]);
  EXPECT_EQ(all.statics[0]->i64, (std::vector<int64_t>{4, 1}));
  const HarnessResult scalar = runOp(makeNode("Shape"), {I::runtime({}, {1.0f})});
  EXPECT_EQ(scalar.shapes[0], Shape{0});
}

// --- Reshape ---------------------------------------------------------------------

TEST(ReshapeOp, ZeroCopiesAndMinusOneInfers) {
  struct Case {
    Shape in;
    std::vector<int64_t> target;
    Shape expected;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4}, {0, -1}, {2, 12}},       {{2, 3, 4}, {-1}, {24}},
      {{2, 3, 4}, {4, 0, 2}, {4, 3, 2}},   {{2, 3, 4}, {0, 0, -1}, {2, 3, 4}},
      {{1, 3, 1, 5}, {3, -1}, {3, 5}},     {{2, 3, 4}, {-1, 2, 2}, {6, 2, 2}},
      {{6}, {1, 1, 6, 1}, {1, 1, 6, 1}},   {{1, 1}, {}, {}},
      {{4, 0, 3}, {0, 0, 3}, {4, 0, 3}},   {{7, 2}, {2, -1}, {2, 7}},
  };
  for (const Case& c : cases) {
    const std::vector<I> params{I::int64s({static_cast<int64_t>(c.target.size())}, c.target)};
    EXPECT_EQ(checkReshapeLike(makeNode("Reshape"), c.in, params), c.expected)
        << shapeToString(c.in) << " -> " << shapeToString(c.target);
  }
  // allowzero: a 0 is a real zero-size dim.
  const HarnessResult r = runOp(makeNode("Reshape", {{"allowzero", int64_t{1}}}),
                                {I::runtime({0, 3}, {}), I::int64s({2}, {3, 0})});
  EXPECT_EQ(r.shapes[0], (Shape{3, 0}));
}

TEST(ReshapeOp, Errors) {
  auto reshape = [](Shape in, std::vector<int64_t> target) {
    return runOp(makeNode("Reshape"),
                 {I::runtime(in, iotaFloats(shapeElements(in))),
                  I::int64s({static_cast<int64_t>(target.size())}, target)});
  };
  expectNodeError([&] { reshape({2, 3, 4}, {-1, -1}); }, "Reshape");
  expectNodeError([&] { reshape({2, 3, 4}, {5, -1}); }, "Reshape");
  expectNodeError([&] { reshape({2, 3, 4}, {2, 3, 5}); }, "Reshape");
  expectNodeError([&] { reshape({2, 3}, {0, 0, 0}); }, "Reshape");  // copies a dim the input lacks
  expectNodeError([&] { reshape({2, 3}, {-2, 3}); }, "Reshape");
  expectNodeError([&] { reshape({4, 0, 3}, {0, 0, -1}); }, "Reshape");  // -1 ambiguous beside a 0
  // The target shape computed at run time cannot be planned.
  EXPECT_THROW(runOp(makeNode("Reshape"), {I::runtime({2, 3}, iotaFloats(6)), I::runtime({2}, {3, 2})}), Error);
  expectNodeError(
      [&] { runOp(makeNode("Reshape"), {I::runtime({2, 3}, iotaFloats(6)), I::runtime({2}, {3, 2})}); },
      "Reshape");
}

// --- Flatten ---------------------------------------------------------------------

TEST(FlattenOp, EveryAxis) {
  const Shape in{2, 3, 4, 5};
  for (int64_t axis = -4; axis <= 4; ++axis) {
    const int64_t a = axis < 0 ? axis + 4 : axis;
    int64_t outer = 1;
    for (int64_t d = 0; d < a; ++d) outer *= in[d];
    const Shape got = checkReshapeLike(makeNode("Flatten", {{"axis", axis}}), in, {});
    EXPECT_EQ(got, (Shape{outer, 120 / outer})) << axis;
  }
  EXPECT_EQ(checkReshapeLike(makeNode("Flatten"), {6, 2, 2}, {}), (Shape{6, 4}));  // default axis 1
  expectNodeError([&] { runOp(makeNode("Flatten", {{"axis", int64_t{5}}}), {I::runtime(in, iotaFloats(120))}); },
                  "Flatten");
  expectNodeError([&] { runOp(makeNode("Flatten", {{"axis", int64_t{-5}}}), {I::runtime(in, iotaFloats(120))}); },
                  "Flatten");
}

// --- Squeeze / Unsqueeze ------------------------------------------------------------

TEST(SqueezeOp, AxesAndDefault) {
  const Shape in{1, 3, 1, 5};
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), in, {I::int64s({1}, {-2})}), (Shape{1, 3, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), in, {I::int64s({2}, {0, 2})}), (Shape{3, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), in, {I::int64s({2}, {-4, -2})}), (Shape{3, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), in, {}), (Shape{3, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), in, {I::absent()}), (Shape{3, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Squeeze"), {1}, {I::int64s({1}, {0})}), (Shape{}));
  expectNodeError([&] { runOp(makeNode("Squeeze"), {I::runtime(in, iotaFloats(15)), I::int64s({1}, {1})}); },
                  "Squeeze");
  expectNodeError([&] { runOp(makeNode("Squeeze"), {I::runtime(in, iotaFloats(15)), I::int64s({1}, {4})}); },
                  "Squeeze");
  expectNodeError([&] { runOp(makeNode("Squeeze"), {I::runtime(in, iotaFloats(15)), I::int64s({1}, {-5})}); },
                  "Squeeze");
}

TEST(UnsqueezeOp, AxesOfTheOutput) {
  const Shape in{3, 5};
  EXPECT_EQ(checkReshapeLike(makeNode("Unsqueeze"), in, {I::int64s({1}, {-1})}), (Shape{3, 5, 1}));
  EXPECT_EQ(checkReshapeLike(makeNode("Unsqueeze"), in, {I::int64s({2}, {0, -1})}), (Shape{1, 3, 5, 1}));
  EXPECT_EQ(checkReshapeLike(makeNode("Unsqueeze"), in, {I::int64s({1}, {1})}), (Shape{3, 1, 5}));
  EXPECT_EQ(checkReshapeLike(makeNode("Unsqueeze"), in, {I::int64s({2}, {3, 1})}), (Shape{3, 1, 5, 1}));
  EXPECT_EQ(checkReshapeLike(makeNode("Unsqueeze"), {}, {I::int64s({1}, {0})}), (Shape{1}));  // scalar -> [1]
  expectNodeError([&] { runOp(makeNode("Unsqueeze"), {I::runtime(in, iotaFloats(15)), I::int64s({1}, {3})}); },
                  "Unsqueeze");
  expectNodeError(
      [&] { runOp(makeNode("Unsqueeze"), {I::runtime(in, iotaFloats(15)), I::int64s({2}, {0, -4})}); },
      "Unsqueeze");
}

// --- Expand ----------------------------------------------------------------------

// Reference: numpy broadcasting by explicit index arithmetic.
std::vector<float> expandReference(const std::vector<float>& in, const Shape& inShape, const Shape& out) {
  std::vector<float> result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat)
    result[flat] = in[broadcastSourceIndex(inShape, out, flat)];
  return result;
}

TEST(ExpandOp, BroadcastsLikeNumpy) {
  struct Case {
    Shape in;
    std::vector<int64_t> shape;
    Shape expected;
  };
  const std::vector<Case> cases = {
      {{3, 1}, {2, 3, 4}, {2, 3, 4}},         {{1}, {5}, {5}},
      {{2, 1, 4}, {2, 3, 1}, {2, 3, 4}},      {{3}, {2, 1}, {2, 3}},
      {{1, 4, 1, 1}, {2, 4, 5, 7}, {2, 4, 5, 7}}, {{2, 3}, {1}, {2, 3}},
      {{1, 1}, {3, 1, 9}, {3, 1, 9}},          {{5, 1, 3}, {5, 4, 3}, {5, 4, 3}},
      {{64, 1, 512}, {64, 8, 512}, {64, 8, 512}},  // large: parallel rows
      {{1, 1, 1}, {300, 1, 200}, {300, 1, 200}},   // large fill
      {{2, 3}, {0, 2, 3}, {0, 2, 3}},
  };
  for (const Case& c : cases) {
    const std::vector<float> data = randomFloats(shapeElements(c.in), 7);
    const std::vector<float> expected = expandReference(data, c.in, c.expected);
    const I shape = I::int64s({static_cast<int64_t>(c.shape.size())}, c.shape);
    for (int threads : {1, 2}) {
      const HarnessResult r = runOp(makeNode("Expand"), {I::runtime(c.in, data), shape}, {.threads = threads});
      EXPECT_EQ(r.shapes[0], c.expected);
      EXPECT_EQ(r.outputs[0], expected) << shapeToString(c.in) << " -> " << shapeToString(c.shape);
    }
    std::vector<int64_t> ints(data.size());
    for (size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<int64_t>(i) * 3 - 5;
    std::vector<float> intsAsFloats(ints.begin(), ints.end());
    const std::vector<float> expectedInts = expandReference(intsAsFloats, c.in, c.expected);
    const HarnessResult s = runOp(makeNode("Expand"), {I::int64s(c.in, ints), shape});
    ASSERT_TRUE(s.statics[0]);
    EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expectedInts);
  }
  expectNodeError(
      [&] { runOp(makeNode("Expand"), {I::runtime({3}, {1, 2, 3}), I::int64s({2}, {2, 4})}); }, "Expand");
}

// --- ConstantOfShape ---------------------------------------------------------------

TEST(ConstantOfShapeOp, ValueKinds) {
  const HarnessResult zero = runOp(makeNode("ConstantOfShape"), {I::int64s({2}, {2, 3})});
  EXPECT_EQ(zero.shapes[0], (Shape{2, 3}));
  EXPECT_EQ(zero.outputs[0], std::vector<float>(6, 0.0f));

  const HarnessResult f = runOp(makeNode("ConstantOfShape", {{"value", 2.5f}}), {I::int64s({3}, {2, 1, 4})});
  EXPECT_EQ(f.outputs[0], std::vector<float>(8, 2.5f));

  const HarnessResult i = runOp(makeNode("ConstantOfShape", {{"value", int64_t{7}}}), {I::int64s({1}, {5})});
  ASSERT_TRUE(i.statics[0]);
  EXPECT_EQ(i.statics[0]->i64, std::vector<int64_t>(5, 7));

  const HarnessResult empty = runOp(makeNode("ConstantOfShape", {{"value", int64_t{1}}}), {I::int64s({1}, {0})});
  ASSERT_TRUE(empty.statics[0]);
  EXPECT_EQ(empty.shapes[0], Shape{0});

  expectNodeError([&] { runOp(makeNode("ConstantOfShape"), {I::int64s({2}, {2, -1})}); }, "ConstantOfShape");
  expectNodeError([&] { runOp(makeNode("ConstantOfShape", {{"value", std::string("x")}}), {I::int64s({1}, {2})}); },
                  "ConstantOfShape");
}

// --- Range -----------------------------------------------------------------------

TEST(RangeOp, IntAndFloat) {
  auto range = [](int64_t start, int64_t limit, int64_t delta) {
    const HarnessResult r =
        runOp(makeNode("Range"), {I::int64s({}, {start}), I::int64s({}, {limit}), I::int64s({}, {delta})});
    return r.statics[0]->i64;
  };
  for (int64_t start = -7; start <= 7; ++start)
    for (int64_t limit = -7; limit <= 7; ++limit)
      for (int64_t delta : {-3, -2, -1, 1, 2, 3}) {
        std::vector<int64_t> expected;
        for (int64_t v = start; delta > 0 ? v < limit : v > limit; v += delta) expected.push_back(v);
        EXPECT_EQ(range(start, limit, delta), expected) << start << " " << limit << " " << delta;
      }

  const HarnessResult f =
      runOp(makeNode("Range"), {I::constant({}, {0.0f}), I::constant({}, {1.0f}), I::constant({}, {0.25f})});
  EXPECT_EQ(f.outputs[0], (std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f}));
  expectNodeError([&] { range(0, 5, 0); }, "Range");
}

// --- Cast ------------------------------------------------------------------------

TEST(CastOp, SupportedConversions) {
  const HarnessResult alias = runOp(makeNode("Cast", {{"to", int64_t{1}}}), {I::runtime({3}, {1.5f, -2, 3})});
  EXPECT_TRUE(alias.aliased);
  EXPECT_EQ(alias.outputs[0], (std::vector<float>{1.5f, -2, 3}));

  const HarnessResult toFloat = runOp(makeNode("Cast", {{"to", int64_t{1}}}), {I::int64s({2, 2}, {1, -2, 3, 40})});
  ASSERT_TRUE(toFloat.statics[0]);
  EXPECT_EQ(toFloat.statics[0]->dtype, DType::kFloat32);
  EXPECT_EQ(toFloat.outputs[0], (std::vector<float>{1, -2, 3, 40}));
  EXPECT_EQ(toFloat.shapes[0], (Shape{2, 2}));

  const I floats = I::constant({5}, {1.7f, -1.7f, 0.0f, 3.0f, -0.2f});
  const HarnessResult toInt = runOp(makeNode("Cast", {{"to", int64_t{7}}}), {floats});
  EXPECT_EQ(toInt.statics[0]->i64, (std::vector<int64_t>{1, -1, 0, 3, 0}));
  const HarnessResult toInt32 = runOp(makeNode("Cast", {{"to", int64_t{6}}}), {floats});
  EXPECT_EQ(toInt32.statics[0]->i64, (std::vector<int64_t>{1, -1, 0, 3, 0}));
  const HarnessResult toBool = runOp(makeNode("Cast", {{"to", int64_t{9}}}), {floats});
  EXPECT_EQ(toBool.statics[0]->i64, (std::vector<int64_t>{1, 1, 0, 1, 1}));
  const HarnessResult intToBool = runOp(makeNode("Cast", {{"to", int64_t{9}}}), {I::int64s({3}, {0, 5, -1})});
  EXPECT_EQ(intToBool.statics[0]->i64, (std::vector<int64_t>{0, 1, 1}));
  const HarnessResult intToInt = runOp(makeNode("Cast", {{"to", int64_t{7}}}), {I::int64s({2}, {4, -9})});
  EXPECT_EQ(intToInt.statics[0]->i64, (std::vector<int64_t>{4, -9}));

  expectNodeError([&] { runOp(makeNode("Cast", {{"to", int64_t{10}}}), {I::runtime({1}, {1})}); }, "Cast");
  expectNodeError([&] { runOp(makeNode("Cast"), {I::runtime({1}, {1})}); }, "Cast");
  expectNodeError([&] { runOp(makeNode("Cast", {{"to", int64_t{7}}}), {I::runtime({1}, {1})}); }, "Cast");
}

}  // namespace
}  // namespace petrel::test
