// Concat and Split against plain index references, float (run time, 1 and 2
// threads) and int64 (static) data, along every axis.
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

// Reference Concat: each output element finds its input by walking the axis.
std::vector<float> concatReference(const std::vector<std::vector<float>>& ins, const std::vector<Shape>& shapes,
                                   int64_t axis, const Shape& out) {
  std::vector<float> result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    std::vector<int64_t> index = unravel(flat, out);
    size_t which = 0;
    while (index[axis] >= shapes[which][axis]) index[axis] -= shapes[which++][axis];
    result[flat] = ins[which][ravel(index, shapes[which])];
  }
  return result;
}

TEST(ConcatOp, FloatAndIntAlongEveryAxis) {
  std::mt19937 rng(11);
  const std::vector<Shape> bases = {{7}, {3, 5}, {2, 3, 4}, {2, 3, 5, 7}, {1, 4, 1, 3}, {2, 64, 17, 17}};
  for (const Shape& base : bases) {
    const int64_t rank = static_cast<int64_t>(base.size());
    for (int64_t axis = -rank; axis < rank; ++axis) {
      const int64_t a = axis < 0 ? axis + rank : axis;
      for (int count = 1; count <= 4; ++count) {
        std::vector<Shape> shapes;
        std::vector<std::vector<float>> data;
        std::vector<I> floatInputs, intInputs;
        Shape out = base;
        out[a] = 0;
        for (int i = 0; i < count; ++i) {
          Shape s = base;
          s[a] = static_cast<int64_t>(rng() % 4);  // sizes 0..3 along the axis
          out[a] += s[a];
          shapes.push_back(s);
          // Integer-valued data, so one reference serves the float and int64 runs.
          std::vector<int64_t> ints(shapeElements(s));
          for (int64_t& v : ints) v = static_cast<int64_t>(rng() % 2001) - 1000;
          data.emplace_back(ints.begin(), ints.end());
          floatInputs.push_back(I::runtime(s, data.back()));
          intInputs.push_back(I::int64s(s, ints));
        }
        const std::vector<float> expected = concatReference(data, shapes, a, out);
        const Node node = makeNode("Concat", {{"axis", axis}});
        for (int threads : {1, 2}) {
          const HarnessResult r = runOp(node, floatInputs, {.threads = threads});
          EXPECT_EQ(r.shapes[0], out);
          EXPECT_EQ(r.outputs[0], expected) << shapeToString(base) << " axis " << axis << " x" << count;
        }
        const HarnessResult s = runOp(node, intInputs);
        ASSERT_TRUE(s.statics[0]);
        EXPECT_EQ(s.statics[0]->shape, out);
        EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expected);
      }
    }
  }
}

TEST(ConcatOp, ShapeArithmetic) {
  // The exporters' Shape -> Gather -> Unsqueeze -> Concat chain ends like this.
  const HarnessResult r = runOp(makeNode("Concat", {{"axis", int64_t{0}}}),
                                {I::int64s({1}, {8}), I::int64s({1}, {-1}), I::int64s({2}, {7, 7})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{8, -1, 7, 7}));
  EXPECT_EQ(r.kernel, "");
}

TEST(ConcatOp, Errors) {
  expectNodeError([] {
    runOp(makeNode("Concat", {{"axis", int64_t{1}}}),
          {I::runtime({2, 3}, std::vector<float>(6)), I::runtime({3, 3}, std::vector<float>(9))});
  }, "Concat");
  expectNodeError([] {
    runOp(makeNode("Concat", {{"axis", int64_t{0}}}),
          {I::runtime({2, 3}, std::vector<float>(6)), I::runtime({6}, std::vector<float>(6))});
  }, "Concat");
  expectNodeError([] {
    runOp(makeNode("Concat", {{"axis", int64_t{2}}}),
          {I::runtime({2, 3}, std::vector<float>(6)), I::runtime({2, 3}, std::vector<float>(6))});
  }, "Concat");
  expectNodeError([] {
    runOp(makeNode("Concat", {{"axis", int64_t{0}}}), {I::runtime({2}, {1, 2}), I::int64s({1}, {3})});
  }, "Concat");
  expectNodeError([] { runOp(makeNode("Concat"), {I::runtime({2}, {1, 2})}); }, "Concat");
}

// --- Split -----------------------------------------------------------------------

// Reference Split: output j holds the input's axis range [offset_j, offset_j + size_j).
std::vector<std::vector<float>> splitReference(const std::vector<float>& in, const Shape& shape, int64_t axis,
                                               const std::vector<int64_t>& sizes) {
  std::vector<std::vector<float>> outs;
  int64_t offset = 0;
  for (int64_t size : sizes) {
    Shape outShape = shape;
    outShape[axis] = size;
    std::vector<float> out(shapeElements(outShape));
    for (int64_t flat = 0; flat < static_cast<int64_t>(out.size()); ++flat) {
      std::vector<int64_t> index = unravel(flat, outShape);
      index[axis] += offset;
      out[flat] = in[ravel(index, shape)];
    }
    outs.push_back(out);
    offset += size;
  }
  return outs;
}

void checkSplit(const Shape& shape, int64_t axis, const std::vector<I>& params, const Node& node,
                const std::vector<int64_t>& expectedSizes) {
  const int64_t a = axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis;
  const std::vector<float> data = randomFloats(shapeElements(shape), 5);
  const auto expected = splitReference(data, shape, a, expectedSizes);
  const int outputs = static_cast<int>(expectedSizes.size());
  std::vector<I> inputs{I::runtime(shape, data)};
  inputs.insert(inputs.end(), params.begin(), params.end());
  for (int threads : {1, 2}) {
    const HarnessResult r = runOp(node, inputs, {.threads = threads}, outputs);
    for (int j = 0; j < outputs; ++j) {
      Shape outShape = shape;
      outShape[a] = expectedSizes[j];
      EXPECT_EQ(r.shapes[j], outShape);
      EXPECT_EQ(r.outputs[j], expected[j]) << shapeToString(shape) << " axis " << axis << " output " << j;
    }
  }
  std::vector<int64_t> ints(data.size());
  std::vector<float> intsAsFloats(data.size());
  for (size_t k = 0; k < ints.size(); ++k) intsAsFloats[k] = static_cast<float>(ints[k] = static_cast<int64_t>(k));
  const auto expectedInts = splitReference(intsAsFloats, shape, a, expectedSizes);
  inputs[0] = I::int64s(shape, ints);
  const HarnessResult s = runOp(node, inputs, {}, outputs);
  for (int j = 0; j < outputs; ++j) {
    ASSERT_TRUE(s.statics[j]);
    EXPECT_EQ(std::vector<float>(s.statics[j]->i64.begin(), s.statics[j]->i64.end()), expectedInts[j]);
  }
}

TEST(SplitOp, EqualAndUnequal) {
  const std::vector<Shape> shapes = {{12}, {6, 4}, {2, 6, 3}, {2, 3, 6, 5}, {2, 40, 24, 24}};
  for (const Shape& shape : shapes) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    for (int64_t axis = -rank; axis < rank; ++axis) {
      const int64_t dim = shape[axis < 0 ? axis + rank : axis];
      const Node node = makeNode("Split", {{"axis", axis}});
      // Equal parts, no sizes.
      for (int64_t parts : {int64_t{1}, int64_t{2}, int64_t{3}, dim})
        if (dim % parts == 0) checkSplit(shape, axis, {}, node, std::vector<int64_t>(parts, dim / parts));
      // Unequal sizes as an input, including an empty part.
      const std::vector<int64_t> sizes{dim - 1, 0, 1};
      checkSplit(shape, axis, {I::int64s({3}, sizes)}, node, sizes);
      const std::vector<int64_t> two{1, dim - 1};
      checkSplit(shape, axis, {I::int64s({2}, two)}, node, two);
      // num_outputs (opset 18): the last part is smaller.
      if (dim >= 4) {
        const int64_t chunk = (dim + 2) / 3;
        checkSplit(shape, axis, {}, makeNode("Split", {{"axis", axis}, {"num_outputs", int64_t{3}}}),
                   {chunk, chunk, dim - 2 * chunk});
      }
    }
  }
  // An empty sizes input means an equal split.
  checkSplit({6, 4}, 0, {I::int64s({0}, {})}, makeNode("Split"), {3, 3});
}

TEST(SplitOp, Errors) {
  const I data = I::runtime({6, 4}, std::vector<float>(24));
  expectNodeError([&] { runOp(makeNode("Split"), {data, I::int64s({2}, {2, 3})}, {}, 2); }, "Split");
  expectNodeError([&] { runOp(makeNode("Split"), {data, I::int64s({3}, {2, 2, 2})}, {}, 2); }, "Split");
  expectNodeError([&] { runOp(makeNode("Split"), {data}, {}, 4); }, "Split");
  expectNodeError([&] { runOp(makeNode("Split", {{"axis", int64_t{2}}}), {data}, {}, 2); }, "Split");
  expectNodeError([&] { runOp(makeNode("Split", {{"num_outputs", int64_t{3}}}), {data}, {}, 2); }, "Split");
}

}  // namespace
}  // namespace petrel::test
