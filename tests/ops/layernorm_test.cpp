// LayerNormalization against a double-precision reference, including the
// optional Mean and InvStdDev outputs and broadcast Scale/B, and its row
// kernel per Isa.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "ops/row_kernels.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

struct Reference {
  std::vector<double> y, mean, invStdDev;
};

Reference referenceLayerNorm(const std::vector<float>& x, const Shape& shape, int64_t axis, float epsilon,
                             const std::vector<float>& scale, const Shape& scaleShape, const std::vector<float>* bias,
                             const Shape& biasShape) {
  const Shape norm(shape.begin() + axis, shape.end());
  const int64_t size = shapeElements(norm);
  const int64_t rows = shapeElements(shape) / size;
  Reference r;
  r.y.resize(x.size());
  for (int64_t row = 0; row < rows; ++row) {
    const float* xr = x.data() + row * size;
    double mean = 0.0;
    for (int64_t i = 0; i < size; ++i) mean += xr[i];
    mean /= size;
    double var = 0.0;
    for (int64_t i = 0; i < size; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= size;
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < size; ++i) {
      // Scale and B broadcast against the normalised shape.
      double v = (xr[i] - mean) * inv * scale[broadcastSourceIndex(scaleShape, norm, i)];
      if (bias) v += (*bias)[broadcastSourceIndex(biasShape, norm, i)];
      r.y[row * size + i] = v;
    }
    r.mean.push_back(mean);
    r.invStdDev.push_back(inv);
  }
  return r;
}

struct Case {
  Shape x;
  int64_t axis;
  Shape scale, bias;  // empty bias shape with hasBias false: no bias input
  bool hasBias;
};

TEST(LayerNorm, AgainstReference) {
  const std::vector<Case> cases = {
      {{2, 5, 16}, -1, {16}, {16}, true},
      {{2, 5, 16}, 2, {16}, {}, false},
      {{3, 4, 5}, 1, {4, 5}, {4, 5}, true},   // over the last two axes
      {{3, 4, 5}, -2, {5}, {4, 1}, true},     // broadcast Scale and B
      {{3, 4, 5}, 0, {3, 4, 5}, {1}, true},   // everything
      {{6, 7}, 1, {1, 7}, {7}, true},
      {{1, 197, 768}, -1, {768}, {768}, true},  // ViT, large enough for two threads
      {{5, 3}, -1, {3}, {3}, true},
  };
  uint32_t seed = 1;
  for (int threads : {1, 2}) {
    const SessionConfig config = withThreads(threads);
    for (const Case& c : cases) {
      for (float epsilon : {1e-5f, 1e-6f, 0.1f}) {
        SCOPED_TRACE(shapeToString(c.x) + " axis " + std::to_string(c.axis) + " scale " + shapeToString(c.scale) +
                     " epsilon " + std::to_string(epsilon) + " threads " + std::to_string(threads));
        // An offset mean checks that the variance is not taken as E[x^2] - E[x]^2.
        const std::vector<float> x = randomFloats(shapeElements(c.x), seed++, 9.0f, 13.0f);
        const std::vector<float> scale = randomFloats(shapeElements(c.scale), seed++, 0.5f, 2.0f);
        const std::vector<float> bias = randomFloats(shapeElements(c.bias), seed++, -1.0f, 1.0f);
        std::vector<HarnessInput> inputs = {HarnessInput::runtime(c.x, x), HarnessInput::constant(c.scale, scale)};
        if (c.hasBias) inputs.push_back(HarnessInput::constant(c.bias, bias));
        Node node = makeNode("LayerNormalization", {{"axis", c.axis}, {"epsilon", epsilon}});
        HarnessResult r = runOp(node, inputs, config, 3);
        const int64_t rank = static_cast<int64_t>(c.x.size());
        const int64_t axis = c.axis < 0 ? c.axis + rank : c.axis;
        Reference ref = referenceLayerNorm(x, c.x, axis, epsilon, scale, c.scale, c.hasBias ? &bias : nullptr, c.bias);
        Shape statsShape = c.x;
        for (int64_t d = axis; d < rank; ++d) statsShape[d] = 1;
        ASSERT_EQ(r.shapes[0], c.x);
        ASSERT_EQ(r.shapes[1], statsShape);
        ASSERT_EQ(r.shapes[2], statsShape);
        expectClose(r.outputs[0], ref.y, 2e-5);
        expectClose(r.outputs[1], ref.mean, 1e-6);
        expectClose(r.outputs[2], ref.invStdDev, 2e-5);
      }
    }
  }
}

// The row kernel of each Isa against the double reference: lengths around
// the vector width, an offset mean, with and without bias.
TEST(LayerNorm, RowKernelTwinsAgainstReference) {
  uint32_t seed = 500;
  for (Isa isa : supportedIsas())
    for (int64_t n : {1, 7, 8, 9, 17, 768, 1001})
      for (bool hasBias : {false, true}) {
        SCOPED_TRACE(std::string(isaName(isa)) + " n " + std::to_string(n) + " bias " + std::to_string(hasBias));
        const std::vector<float> x = randomFloats(n, seed++, 9.0f, 13.0f);
        const std::vector<float> scale = randomFloats(n, seed++, 0.5f, 2.0f), bias = randomFloats(n, seed++);
        std::vector<float> y(n + 1, -7.0f);
        const RowMoments got = layerNormRow(x.data(), n, 1e-5f, scale.data(), hasBias ? bias.data() : nullptr,
                                            y.data(), isa);
        EXPECT_EQ(y.back(), -7.0f) << "wrote past the row";
        y.pop_back();
        const Reference ref = referenceLayerNorm(x, {n}, 0, 1e-5f, scale, {n}, hasBias ? &bias : nullptr, {n});
        expectClose(y, ref.y, 2e-5);
        EXPECT_NEAR(got.mean, ref.mean[0], 1e-6 * std::fabs(ref.mean[0]));
        EXPECT_NEAR(got.invStdDev, ref.invStdDev[0], 2e-5 * ref.invStdDev[0]);
      }
}

TEST(LayerNorm, OnlyTheFirstOutput) {
  const Shape shape = {4, 9};
  const std::vector<float> x = randomFloats(36, 7), scale = randomFloats(9, 8);
  HarnessResult r = runOp(makeNode("LayerNormalization"),
                          {HarnessInput::runtime(shape, x), HarnessInput::runtime({9}, scale)});
  ASSERT_EQ(r.outputs.size(), 1u);
  const Reference ref = referenceLayerNorm(x, shape, 1, 1e-5f, scale, {9}, nullptr, {});
  expectClose(r.outputs[0], ref.y, 2e-5);
}

TEST(BatchNorm, PerChannelAffineAgainstDefinition) {
  const Shape shape = {2, 3, 4, 5};
  const std::vector<float> x = randomFloats(shapeElements(shape), 21, -3.0f, 3.0f);
  const std::vector<float> scale = {0.5f, -2.0f, 1.5f}, bias = {0.1f, 0.0f, -1.0f};
  const std::vector<float> mean = {1.0f, -0.5f, 0.25f}, var = {4.0f, 0.5f, 1e-3f};
  const float epsilon = 1e-3f;
  std::vector<double> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = (i / 20) % 3;
    expected[i] = (x[i] - mean[c]) / std::sqrt(static_cast<double>(var[c]) + epsilon) * scale[c] + bias[c];
  }
  for (int threads : {1, 2}) {
    HarnessResult r = runOp(makeNode("BatchNormalization", {{"epsilon", epsilon}}),
                            {HarnessInput::runtime(shape, x), HarnessInput::constant({3}, scale),
                             HarnessInput::constant({3}, bias), HarnessInput::constant({3}, mean),
                             HarnessInput::constant({3}, var)},
                            withThreads(threads));
    EXPECT_EQ(r.shapes[0], shape);
    expectClose(r.outputs[0], expected, 1e-5);
  }
  expectNodeError([&] {
    runOp(makeNode("BatchNormalization"),
          {HarnessInput::runtime(shape, x), HarnessInput::constant({2}, {1, 1}), HarnessInput::constant({3}, bias),
           HarnessInput::constant({3}, mean), HarnessInput::constant({3}, var)});
  }, "BatchNormalization");
}

TEST(LayerNorm, Errors) {
  const HarnessInput x = HarnessInput::runtime({2, 3, 4}, std::vector<float>(24));
  try {
    runOp(makeNode("LayerNormalization"), {x, HarnessInput::runtime({3}, std::vector<float>(3))});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_LayerNormalization"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(runOp(makeNode("LayerNormalization", {{"axis", int64_t{3}}}),
                     {x, HarnessInput::runtime({4}, std::vector<float>(4))}),
               Error);
  EXPECT_THROW(runOp(makeNode("LayerNormalization"), {x}), Error);  // Scale is required
}

}  // namespace
}  // namespace petrel::test
