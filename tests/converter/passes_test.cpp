// Graph passes: BatchNormalization folding (checked numerically against a plain
// reference), activation and Gelu fusion, dead-node removal, sorting, folding
// limits.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "converter/onnx_import.h"
#include "graph/passes.h"
#include "graph_inspect.h"
#include "kernels/activation.h"
#include "onnx_builder.h"
#include "petrel/error.h"
#include "petrel/petrel.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

// ---------------------------------------------------------------------------
// Plain references (NCHW, batch 1)

struct Tensor4 {
  Shape shape;  // [N, C, H, W]
  std::vector<float> data;
};

// Conv with weights [M, C/g, k, k], symmetric padding.
Tensor4 referenceConv(const Tensor4& x, const std::vector<float>& w, int64_t m, int64_t k,
                      const std::vector<float>& bias, int64_t group, int64_t stride, int64_t pad) {
  const int64_t c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
  const int64_t cg = c / group, mg = m / group;
  Tensor4 y{{1, m, oh, ow}, std::vector<float>(m * oh * ow, 0.0f)};
  for (int64_t o = 0; o < m; ++o) {
    const int64_t g = o / mg;
    for (int64_t yy = 0; yy < oh; ++yy)
      for (int64_t xx = 0; xx < ow; ++xx) {
        double sum = bias.empty() ? 0.0 : bias[o];
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t iy = yy * stride - pad + ky, ix = xx * stride - pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              sum += double(x.data[((g * cg + ci) * h + iy) * wd + ix]) * w[((o * cg + ci) * k + ky) * k + kx];
            }
        y.data[(o * oh + yy) * ow + xx] = static_cast<float>(sum);
      }
  }
  return y;
}

// ConvTranspose with weights [C, M/g, k, k], no padding.
Tensor4 referenceConvTranspose(const Tensor4& x, const std::vector<float>& w, int64_t m, int64_t k,
                               const std::vector<float>& bias, int64_t group, int64_t stride) {
  const int64_t c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t oh = (h - 1) * stride + k, ow = (wd - 1) * stride + k;
  const int64_t cg = c / group, mg = m / group;
  Tensor4 y{{1, m, oh, ow}, std::vector<float>(m * oh * ow, 0.0f)};
  for (int64_t o = 0; o < m; ++o)
    for (int64_t i = 0; i < oh * ow; ++i) y.data[o * oh * ow + i] = bias.empty() ? 0.0f : bias[o];
  for (int64_t ci = 0; ci < c; ++ci) {
    const int64_t g = ci / cg;
    for (int64_t j = 0; j < mg; ++j) {
      const int64_t o = g * mg + j;
      for (int64_t iy = 0; iy < h; ++iy)
        for (int64_t ix = 0; ix < wd; ++ix)
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx)
              y.data[(o * oh + iy * stride + ky) * ow + ix * stride + kx] +=
                  x.data[(ci * h + iy) * wd + ix] * w[((ci * mg + j) * k + ky) * k + kx];
    }
  }
  return y;
}

struct BatchNormParams {
  std::vector<float> gamma, beta, mean, var;
  float epsilon = 1e-3f;
};

BatchNormParams randomBatchNorm(int64_t channels, uint32_t seed) {
  BatchNormParams p;
  p.gamma = randomFloats(channels, seed, 0.5f, 1.5f);
  p.beta = randomFloats(channels, seed + 1, -1.0f, 1.0f);
  p.mean = randomFloats(channels, seed + 2, -0.5f, 0.5f);
  p.var = randomFloats(channels, seed + 3, 0.1f, 2.0f);
  return p;
}

Tensor4 referenceBatchNorm(Tensor4 x, const BatchNormParams& p) {
  const int64_t c = x.shape[1], plane = x.shape[2] * x.shape[3];
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < plane; ++i) {
      float& v = x.data[ch * plane + i];
      v = static_cast<float>((v - p.mean[ch]) / std::sqrt(double(p.var[ch]) + p.epsilon) * p.gamma[ch] + p.beta[ch]);
    }
  return x;
}

void addBatchNorm(OnnxBuilder& b, const BatchNormParams& p, const std::string& in, const std::string& out) {
  const int64_t c = static_cast<int64_t>(p.gamma.size());
  b.initializer("bn_gamma", {c}, p.gamma);
  b.initializer("bn_beta", {c}, p.beta);
  b.initializer("bn_mean", {c}, p.mean);
  b.initializer("bn_var", {c}, p.var);
  setFloat(b.node("BatchNormalization", {in, "bn_gamma", "bn_beta", "bn_mean", "bn_var"}, {out}, "bn"), "epsilon",
           p.epsilon);
}

// ---------------------------------------------------------------------------
// foldBatchNorm

struct ConvCase {
  bool transpose;
  int64_t cin, cout, group, k, stride, pad;
  bool bias;
};

TEST(FoldBatchNorm, FoldedConvGivesTheSameNumbersAsConvThenBatchNorm) {
  const ConvCase cases[] = {
      {false, 3, 4, 1, 3, 1, 1, true},   {false, 3, 5, 1, 1, 1, 0, false}, {false, 6, 6, 6, 3, 2, 1, false},
      {false, 4, 6, 2, 3, 1, 0, true},   {true, 4, 6, 2, 2, 2, 0, true},   {true, 3, 5, 1, 3, 1, 0, false},
  };
  uint32_t seed = 100;
  for (const ConvCase& cc : cases) {
    SCOPED_TRACE(std::string(cc.transpose ? "ConvTranspose" : "Conv") + " cin=" + std::to_string(cc.cin) +
                 " cout=" + std::to_string(cc.cout) + " group=" + std::to_string(cc.group));
    const Shape wShape = cc.transpose ? Shape{cc.cin, cc.cout / cc.group, cc.k, cc.k}
                                      : Shape{cc.cout, cc.cin / cc.group, cc.k, cc.k};
    const std::vector<float> w = randomFloats(shapeElements(wShape), seed++);
    const std::vector<float> bias = cc.bias ? randomFloats(cc.cout, seed++) : std::vector<float>{};
    const BatchNormParams bn = randomBatchNorm(cc.cout, seed);
    seed += 4;
    const Tensor4 x{{1, cc.cin, 5, 6}, randomFloats(cc.cin * 30, seed++)};

    OnnxBuilder b(13);
    b.input("x", x.shape);
    b.initializer("w", wShape, w);
    std::vector<std::string> inputs = {"x", "w"};
    if (cc.bias) {
      b.initializer("b", {cc.cout}, bias);
      inputs.push_back("b");
    }
    auto& conv = b.node(cc.transpose ? "ConvTranspose" : "Conv", inputs, {"c"}, "conv");
    setInts(conv, "kernel_shape", {cc.k, cc.k});
    setInts(conv, "strides", {cc.stride, cc.stride});
    setInt(conv, "group", cc.group);
    if (!cc.transpose) setInts(conv, "pads", {cc.pad, cc.pad, cc.pad, cc.pad});
    addBatchNorm(b, bn, "c", "y");
    b.output("y");

    ConvertReport report;
    Graph g = importOnnx(b.model, {}, &report);
    ASSERT_EQ(opsOf(g), std::vector<std::string>{cc.transpose ? "ConvTranspose" : "Conv"});
    EXPECT_EQ(report.foldedBatchNorms, 1);
    const Node& folded = g.nodes[0];
    ASSERT_EQ(folded.inputs.size(), 3u);
    EXPECT_EQ(outputName(g, 0), "y");
    EXPECT_EQ(g.values[folded.inputs[1]].shape, wShape);
    const std::vector<float> w2 = constFloats(g, folded.inputs[1]);
    const std::vector<float> b2 = constFloats(g, folded.inputs[2]);
    ASSERT_EQ(b2.size(), static_cast<size_t>(cc.cout));

    const Tensor4 expected =
        referenceBatchNorm(cc.transpose ? referenceConvTranspose(x, w, cc.cout, cc.k, bias, cc.group, cc.stride)
                                        : referenceConv(x, w, cc.cout, cc.k, bias, cc.group, cc.stride, cc.pad),
                           bn);
    const Tensor4 got = cc.transpose ? referenceConvTranspose(x, w2, cc.cout, cc.k, b2, cc.group, cc.stride)
                                     : referenceConv(x, w2, cc.cout, cc.k, b2, cc.group, cc.stride, cc.pad);
    ASSERT_EQ(got.shape, expected.shape);
    EXPECT_LT(relativeL2(got.data, expected.data), 1e-5);
    EXPECT_LT(maxAbsDiff(got.data, expected.data), 1e-4);
  }
}

// Applies y = x * scale + shift with [C, 1, 1] constants.
Tensor4 applyMulAdd(Tensor4 x, const std::vector<float>& scale, const std::vector<float>& shift) {
  const int64_t plane = x.shape[2] * x.shape[3];
  for (int64_t ch = 0; ch < x.shape[1]; ++ch)
    for (int64_t i = 0; i < plane; ++i) x.data[ch * plane + i] = x.data[ch * plane + i] * scale[ch] + shift[ch];
  return x;
}

TEST(FoldBatchNorm, StandaloneBatchNormBecomesMulAdd) {
  const BatchNormParams bn = randomBatchNorm(5, 7);
  OnnxBuilder b(13);
  b.input("x", {-1, 5, 3, 4});
  addBatchNorm(b, bn, "x", "y");
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  ASSERT_EQ(opsOf(g), (std::vector<std::string>{"Mul", "Add"}));
  EXPECT_EQ(report.foldedBatchNorms, 0);
  const Node& mul = g.nodes[0];
  const Node& add = g.nodes[1];
  EXPECT_EQ(g.values[mul.inputs[0]].name, "x");
  EXPECT_EQ(add.inputs[0], mul.outputs[0]);
  EXPECT_EQ(g.values[mul.inputs[1]].shape, (Shape{5, 1, 1}));
  EXPECT_EQ(g.values[add.inputs[1]].shape, (Shape{5, 1, 1}));
  EXPECT_EQ(outputName(g, 0), "y");

  const Tensor4 x{{1, 5, 3, 4}, randomFloats(60, 9, -2.0f, 2.0f)};
  const Tensor4 got = applyMulAdd(x, constFloats(g, mul.inputs[1]), constFloats(g, add.inputs[1]));
  EXPECT_LT(maxAbsDiff(got.data, referenceBatchNorm(x, bn).data), 1e-5);
}

TEST(FoldBatchNorm, UnknownRankKeepsTheNodeForTheRuntime) {
  // Without a rank the [C, 1, ...] shape of a Mul + Add cannot be written, so
  // the node stays and the runtime's BatchNormalization serves it.
  Graph g;
  Value x;
  x.name = "x";  // shape unknown: empty
  g.inputs.push_back(g.addValue(x));
  std::vector<int> inputs = {g.inputs[0]};
  for (const char* name : {"scale", "bias", "mean", "var"}) {
    Value p;
    p.name = name;
    p.constant = ConstantData::fromFloats({2}, {1.0f, 2.0f});
    inputs.push_back(g.addValue(p));
  }
  Value y;
  y.name = "y";
  const int yid = g.addValue(y);
  Node bn;
  bn.name = "bn";
  bn.op = "BatchNormalization";
  bn.inputs = inputs;
  bn.outputs = {yid};
  g.nodes.push_back(bn);
  g.outputs.push_back(yid);
  const BatchNormFoldCounts counts = foldBatchNorm(g);
  EXPECT_EQ(counts.intoConv, 0);
  EXPECT_EQ(counts.toMulAdd, 0);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"BatchNormalization"}));
}

TEST(FoldBatchNorm, ConvWhoseOutputIsReadTwiceKeepsItsWeights) {
  const BatchNormParams bn = randomBatchNorm(2, 11);
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  addBatchNorm(b, bn, "c", "y");
  b.node("Relu", {"c"}, {"z"});
  b.output("y");
  b.output("z");
  Graph g = importOnnx(b.model);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Conv", "Mul", "Add", "Relu"}));
  EXPECT_EQ(constFloats(g, onlyNode(g, "Conv").inputs[1]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_FALSE(onlyNode(g, "Conv").has("activation"));
}

TEST(FoldBatchNorm, TrainingModeIsRejected) {
  const BatchNormParams bn = randomBatchNorm(2, 3);
  OnnxBuilder b(15);
  b.input("x", {1, 2, 4, 4});
  addBatchNorm(b, bn, "x", "y");
  setInt(*b.graph().mutable_node(0), "training_mode", 1);
  b.output("y");
  EXPECT_THROW(importOnnx(b.model), Error);
}

// ---------------------------------------------------------------------------
// fuseActivations

// x[1,3,8,8] -> Conv(4 filters, 3x3) -> "c"; `addTail` adds nodes from "c" to "y".
Graph convThen(const std::function<void(OnnxBuilder&)>& addTail, ConvertReport* report = nullptr) {
  OnnxBuilder b(17);
  b.input("x", {1, 3, 8, 8});
  b.initializer("w", {4, 3, 3, 3}, randomFloats(108, 1));
  setInts(b.node("Conv", {"x", "w"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
  addTail(b);
  b.output("y");
  return importOnnx(b.model, {}, report);
}

void expectFused(const Graph& g, const std::string& producerOp, Activation kind, float alpha, float beta) {
  ASSERT_EQ(opsOf(g), std::vector<std::string>{producerOp});
  const Node& n = g.nodes[0];
  EXPECT_EQ(n.getString("activation", ""), activationName(kind));
  EXPECT_EQ(n.getFloat("activation_alpha", -99.0f), alpha);
  EXPECT_EQ(n.getFloat("activation_beta", -99.0f), beta);
  EXPECT_EQ(outputName(g, 0), "y");
  EXPECT_EQ(n.outputs[0], g.outputs[0]);
}

TEST(FuseActivations, SimpleActivationsFollowingConv) {
  struct Case {
    std::string op;
    Activation kind;
  };
  for (const Case& c : {Case{"Relu", Activation::kRelu}, Case{"Sigmoid", Activation::kSigmoid},
                        Case{"Tanh", Activation::kTanh}, Case{"HardSwish", Activation::kHardSwish}}) {
    SCOPED_TRACE(c.op);
    ConvertReport report;
    Graph g = convThen([&](OnnxBuilder& b) { b.node(c.op, {"c"}, {"y"}); }, &report);
    expectFused(g, "Conv", c.kind, 0.0f, 0.0f);
    EXPECT_EQ(report.fusedActivations, 1);
  }
}

TEST(FuseActivations, ClipWithConstantBoundsAndRelu6) {
  Graph relu6 = convThen([](OnnxBuilder& b) {
    b.scalar("lo", 0.0f);
    b.scalar("hi", 6.0f);
    b.node("Clip", {"c", "lo", "hi"}, {"y"});
  });
  expectFused(relu6, "Conv", Activation::kClip, 0.0f, 6.0f);

  Graph onlyMax = convThen([](OnnxBuilder& b) {
    b.scalar("hi", 2.5f);
    b.node("Clip", {"c", "", "hi"}, {"y"});
  });
  expectFused(onlyMax, "Conv", Activation::kClip, std::numeric_limits<float>::lowest(), 2.5f);
}

TEST(FuseActivations, HardSigmoidKeepsAlphaAndBeta) {
  Graph g = convThen([](OnnxBuilder& b) {
    auto& n = b.node("HardSigmoid", {"c"}, {"y"});
    setFloat(n, "alpha", 0.25f);
    setFloat(n, "beta", 0.375f);
  });
  expectFused(g, "Conv", Activation::kHardSigmoid, 0.25f, 0.375f);
  Graph defaults = convThen([](OnnxBuilder& b) { b.node("HardSigmoid", {"c"}, {"y"}); });
  expectFused(defaults, "Conv", Activation::kHardSigmoid, 0.2f, 0.5f);
}

TEST(FuseActivations, SiluPatternInBothOperandOrders) {
  for (bool sigmoidFirst : {false, true}) {
    ConvertReport report;
    Graph g = convThen(
        [&](OnnxBuilder& b) {
          b.node("Sigmoid", {"c"}, {"s"});
          b.node("Mul", sigmoidFirst ? std::vector<std::string>{"s", "c"} : std::vector<std::string>{"c", "s"}, {"y"});
        },
        &report);
    expectFused(g, "Conv", Activation::kSilu, 0.0f, 0.0f);
    EXPECT_EQ(report.fusedActivations, 1);
  }
}

TEST(FuseActivations, HardSwishWrittenAsXTimesHardSigmoid) {
  ConvertReport report;
  Graph g = convThen(
      [](OnnxBuilder& b) {
        auto& hs = b.node("HardSigmoid", {"c"}, {"h"});
        setFloat(hs, "alpha", 1.0f / 6.0f);
        setFloat(hs, "beta", 0.5f);
        b.node("Mul", {"c", "h"}, {"y"});
      },
      &report);
  expectFused(g, "Conv", Activation::kHardSwish, 0.0f, 0.0f);
  EXPECT_EQ(report.fusedActivations, 1);

  // Other HardSigmoid parameters: not a HardSwish, and c is read twice.
  Graph other = convThen([](OnnxBuilder& b) {
    b.node("HardSigmoid", {"c"}, {"h"});
    b.node("Mul", {"c", "h"}, {"y"});
  });
  EXPECT_EQ(opsOf(other), (std::vector<std::string>{"Conv", "HardSigmoid", "Mul"}));
}

TEST(FuseActivations, GemmMatMulAndAddProducers) {
  {
    OnnxBuilder b(13);
    b.input("x", {2, 8});
    b.initializer("w", {4, 8}, randomFloats(32, 2));
    setInt(b.node("Gemm", {"x", "w"}, {"g"}), "transB", 1);
    b.node("Relu", {"g"}, {"y"});
    b.output("y");
    expectFused(importOnnx(b.model), "Gemm", Activation::kRelu, 0.0f, 0.0f);
  }
  {
    OnnxBuilder b(13);
    b.input("x", {2, 3, 8});
    b.initializer("w", {8, 5}, randomFloats(40, 3));
    b.node("MatMul", {"x", "w"}, {"m"});
    b.node("Tanh", {"m"}, {"y"});
    b.output("y");
    expectFused(importOnnx(b.model), "MatMul", Activation::kTanh, 0.0f, 0.0f);
  }
  {
    OnnxBuilder b(13);
    b.input("x", {2, 3});
    b.input("z", {2, 3});
    b.node("Add", {"x", "z"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    expectFused(importOnnx(b.model), "Add", Activation::kRelu, 0.0f, 0.0f);
  }
}

// fuseResidualAdds: Relu(Add(Conv(x), x)) becomes one Conv with x as its
// residual input 3 and the Relu; not when R broadcasts or the Conv already
// has an activation.
TEST(FuseResidualAdds, ConvPlusIdentityThenRelu) {
  auto build = [](const Shape& residualShape, bool reluBeforeAdd, ConvertReport* report) {
    OnnxBuilder b(17);
    b.input("x", {1, 4, 8, 8});
    b.input("r", residualShape);
    b.initializer("w", {4, 4, 3, 3}, randomFloats(144, 5));
    setInts(b.node("Conv", {"x", "w"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
    std::string convOut = "c";
    if (reluBeforeAdd) {
      b.node("Relu", {"c"}, {"c_relu"});
      convOut = "c_relu";
    }
    b.node("Add", {"r", convOut}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    return importOnnx(b.model, {}, report);
  };
  ConvertReport report;
  const Graph fused = build({1, 4, 8, 8}, false, &report);
  ASSERT_EQ(opsOf(fused), std::vector<std::string>{"Conv"});
  const Node& conv = fused.nodes[0];
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[2], -1);  // no bias
  EXPECT_EQ(fused.values[conv.inputs[3]].name, "r");
  EXPECT_EQ(conv.getString("activation", ""), "relu");
  EXPECT_EQ(conv.outputs[0], fused.outputs[0]);
  EXPECT_EQ(report.fusedResidualAdds, 1);

  const Graph broadcast = build({1, 4, 1, 1}, false, &report);
  EXPECT_EQ(opsOf(broadcast), (std::vector<std::string>{"Conv", "Add"}));
  EXPECT_EQ(report.fusedResidualAdds, 0);
  const Graph activated = build({1, 4, 8, 8}, true, &report);
  EXPECT_EQ(opsOf(activated), (std::vector<std::string>{"Conv", "Add"}));
  EXPECT_EQ(report.fusedResidualAdds, 0);
}

// fuseConvMaxPool: MaxPool(Relu(Conv(x))) becomes one Conv carrying the
// Relu and the MaxPool's attributes under "pool_"; not when the Conv's output
// is read elsewhere, the MaxPool also writes Indices, or the Conv took a
// residual input.
TEST(FuseConvMaxPool, FirstLayerConvReluMaxPoolBecomesOneConv) {
  auto pooled = [](OnnxBuilder& b, const std::string& from, bool indices) {
    onnx::NodeProto& pool = b.node("MaxPool", {from}, indices ? std::vector<std::string>{"y", "i"}
                                                              : std::vector<std::string>{"y"});
    setInts(pool, "kernel_shape", {3, 3});
    setInts(pool, "strides", {2, 2});
    setInts(pool, "pads", {1, 1, 0, 0});
    setInt(pool, "ceil_mode", 1);
  };
  ConvertReport report;
  const Graph fused = convThen(
      [&](OnnxBuilder& b) {
        b.node("Relu", {"c"}, {"r"});
        pooled(b, "r", false);
      },
      &report);
  ASSERT_EQ(opsOf(fused), std::vector<std::string>{"Conv"});
  const Node& conv = fused.nodes[0];
  EXPECT_EQ(conv.getString("activation", ""), "relu");
  EXPECT_EQ(conv.getInts("pool_kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(conv.getInts("pool_strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(conv.getInts("pool_pads"), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(conv.getInt("pool_ceil_mode", 0), 1);
  EXPECT_EQ(conv.getInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));  // the Conv's own stay
  EXPECT_EQ(conv.outputs[0], fused.outputs[0]);
  EXPECT_EQ(report.fusedMaxPools, 1);

  const Graph readTwice = convThen(
      [&](OnnxBuilder& b) {
        pooled(b, "c", false);
        b.node("Relu", {"c"}, {"other"});
        b.output("other");
      },
      &report);
  EXPECT_EQ(opsOf(readTwice), (std::vector<std::string>{"Conv", "MaxPool", "Relu"}));
  EXPECT_EQ(report.fusedMaxPools, 0);

  const Graph withIndices = convThen([&](OnnxBuilder& b) { pooled(b, "c", true); }, &report);
  EXPECT_EQ(opsOf(withIndices), (std::vector<std::string>{"Conv", "MaxPool"}));
  EXPECT_EQ(report.fusedMaxPools, 0);

  const Graph residual = convThen(
      [&](OnnxBuilder& b) {
        b.initializer("w2", {4, 3, 3, 3}, randomFloats(108, 2));
        setInts(b.node("Conv", {"x", "w2"}, {"c2"}, "conv2"), "pads", {1, 1, 1, 1});
        b.node("Add", {"c", "c2"}, {"s"});
        pooled(b, "s", false);
      },
      &report);
  EXPECT_EQ(report.fusedResidualAdds, 1);
  EXPECT_EQ(report.fusedMaxPools, 0);
  EXPECT_EQ(opsOf(residual), (std::vector<std::string>{"Conv", "Conv", "MaxPool"}));
}

// y = relu(x W + b) over a 3-D x (a ViT linear layer): one MatMul with the
// bias as input 2 and the Relu fused, equal to the unfused computation.
TEST(FuseMatMulBias, LinearLayerBecomesOneMatMul) {
  const int64_t t = 3, k = 8, n = 5;
  const std::vector<float> w = randomFloats(k * n, 11), bias = randomFloats(n, 12);
  auto build = [&](bool biasFirst, const Shape& biasShape, bool productReadTwice, ConvertReport* report) {
    OnnxBuilder b(17);
    b.input("x", {2, t, k});
    b.initializer("w", {k, n}, w);
    b.initializer("b", biasShape, bias);
    b.node("MatMul", {"x", "w"}, {"p"});
    b.node("Add", biasFirst ? std::vector<std::string>{"b", "p"} : std::vector<std::string>{"p", "b"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    if (productReadTwice) {
      b.node("Neg", {"p"}, {"q"});
      b.output("q");
    }
    return importOnnx(b.model, {}, report);
  };
  for (bool biasFirst : {false, true}) {
    SCOPED_TRACE(biasFirst ? "Add(b, p)" : "Add(p, b)");
    ConvertReport report;
    const Graph fused = build(biasFirst, {n}, false, &report);
    ASSERT_EQ(opsOf(fused), std::vector<std::string>{"MatMul"});
    EXPECT_EQ(fused.nodes[0].inputs.size(), 3u);
    EXPECT_EQ(fused.nodes[0].getString("activation", ""), "relu");
    EXPECT_EQ(report.fusedBiasAdds, 1);

    const std::vector<float> x = randomFloats(2 * t * k, 13);
    Session session(Model::fromGraph(fused));
    const std::vector<float> y = session.run({{"x", Tensor({2, t, k}, x)}}).at("y").data;
    ASSERT_EQ(y.size(), static_cast<size_t>(2 * t * n));
    for (int64_t r = 0; r < 2 * t; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double sum = bias[c];
        for (int64_t j = 0; j < k; ++j) sum += double(x[r * k + j]) * w[j * n + c];
        EXPECT_NEAR(y[r * n + c], std::max(0.0, sum), 1e-5) << r << "," << c;
      }
  }
  ConvertReport report;
  EXPECT_EQ(opsOf(build(false, {1, n}, false, &report)), (std::vector<std::string>{"MatMul", "Add"}));
  EXPECT_EQ(report.fusedBiasAdds, 0);
  const Graph readTwice = build(false, {n}, true, &report);
  EXPECT_EQ(report.fusedBiasAdds, 0);
  EXPECT_EQ(readTwice.nodes[0].inputs.size(), 2u);
}

// A ViT-style tail: r = x + a; y = r + MLP(LayerNorm(r)); the head reads
// Gather(LayerNorm(y), idx, axis 1) only. The Gather moves up to the two
// inputs, so every other node computes only the gathered tokens; the output
// equals the full computation's (the same graph with LayerNorm(y) also an
// output, which keeps every node at full size).
struct TokenTail {
  int64_t tokens = 5, width = 8, hidden = 12, classes = 3;
  std::vector<float> w1 = randomFloats(width * hidden, 21), b1 = randomFloats(hidden, 22);
  std::vector<float> w2 = randomFloats(hidden * width, 23), b2 = randomFloats(width, 24);
  std::vector<float> head = randomFloats(width * classes, 25);
  std::vector<float> scale = randomFloats(width, 26, 0.5f, 1.5f), shift = randomFloats(width, 27);

  Graph build(const Shape& indicesShape, const std::vector<int64_t>& indices, bool normalizedIsOutput,
              ConvertReport* report) const {
    OnnxBuilder b(17);
    b.input("x", {1, tokens, width});
    b.input("a", {1, tokens, width});
    b.initializer("w1", {width, hidden}, w1);
    b.initializer("b1", {hidden}, b1);
    b.initializer("w2", {hidden, width}, w2);
    b.initializer("b2", {width}, b2);
    b.initializer("head", {width, classes}, head);
    b.initializer("scale", {width}, scale);
    b.initializer("shift", {width}, shift);
    b.initializerInt64("idx", indicesShape, indices);
    b.node("Add", {"x", "a"}, {"r"});
    setInt(b.node("LayerNormalization", {"r", "scale", "shift"}, {"n"}), "axis", -1);
    b.node("MatMul", {"n", "w1"}, {"m1"});
    b.node("Add", {"m1", "b1"}, {"h1"});
    b.node("Relu", {"h1"}, {"g"});
    b.node("MatMul", {"g", "w2"}, {"m2"});
    b.node("Add", {"b2", "m2"}, {"h2"});
    b.node("Add", {"r", "h2"}, {"y"});
    setInt(b.node("LayerNormalization", {"y", "scale", "shift"}, {"z"}), "axis", -1);
    setInt(b.node("Gather", {"z", "idx"}, {"t"}), "axis", 1);
    b.node("MatMul", {"t", "head"}, {"out"});
    b.output("out");
    if (normalizedIsOutput) b.output("z");
    return importOnnx(b.model, {}, report);
  }
};

TEST(HoistRowGathers, ClassTokenHeadComputesTheLastMlpForTheGatheredTokensOnly) {
  const TokenTail tail;
  const std::vector<float> x = randomFloats(tail.tokens * tail.width, 28);
  const std::vector<float> a = randomFloats(tail.tokens * tail.width, 29);
  struct Case {
    Shape shape;
    std::vector<int64_t> indices;
  };
  for (const Case& c : {Case{{}, {0}}, Case{{}, {-1}}, Case{{2}, {3, 1}}}) {
    SCOPED_TRACE("indices of shape " + shapeToString(c.shape) + ", first " + std::to_string(c.indices[0]));
    ConvertReport report, fullReport;
    const Graph hoisted = tail.build(c.shape, c.indices, false, &report);
    const Graph full = tail.build(c.shape, c.indices, true, &fullReport);
    EXPECT_EQ(fullReport.hoistedGathers, 0);
    EXPECT_EQ(countOp(full, "Gather"), 1);
    // Gathers moved above: LayerNorm, Add(r, h2) (two inputs), the two
    // MatMuls, LayerNorm, Add(x, a) (two inputs); the two Gathers of r merged.
    EXPECT_GE(report.hoistedGathers, 6);
    ASSERT_EQ(countOp(hoisted, "Gather"), 2);
    const int64_t gathered = c.shape.empty() ? 1 : c.shape[0];
    for (const Node& node : hoisted.nodes) {
      if (node.op == "Gather") {
        const std::string& data = hoisted.values[node.inputs[0]].name;
        EXPECT_TRUE(data == "x" || data == "a") << "a Gather of " << data;
        continue;
      }
      // Every other node now works on the gathered tokens only.
      const int64_t rows = shapeElements(hoisted.values[node.outputs[0]].shape) /
                           hoisted.values[node.outputs[0]].shape.back();
      EXPECT_EQ(rows, gathered) << node.describe();
    }

    Session fast(Model::fromGraph(hoisted)), slow(Model::fromGraph(full));
    const std::map<std::string, Tensor> inputs = {{"x", Tensor({1, tail.tokens, tail.width}, x)},
                                                  {"a", Tensor({1, tail.tokens, tail.width}, a)}};
    const std::vector<float> got = fast.run(inputs).at("out").data, want = slow.run(inputs).at("out").data;
    ASSERT_EQ(got.size(), static_cast<size_t>(gathered * tail.classes));
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  }
}

// What a Gather must not move above: its own last axis, an op that mixes
// rows (Transpose, MatMul by a run-time matrix, LayerNorm over the gathered
// axis), an operand broadcast across rows at run time.
TEST(HoistRowGathers, StaysBelowOpsThatMixOrBroadcastRows) {
  auto build = [](const std::function<void(OnnxBuilder&)>& producer, int64_t axis) {
    OnnxBuilder b(17);
    b.input("x", {2, 4, 6});
    b.input("y", {2, 6, 6});
    b.input("row", {1, 1, 6});
    b.initializer("scale", {6}, randomFloats(6, 31));
    b.initializerInt64("idx", {}, {1});
    producer(b);
    setInt(b.node("Gather", {"p", "idx"}, {"t"}), "axis", axis);
    b.output("t");
    ConvertReport report;
    importOnnx(b.model, {}, &report);
    return report.hoistedGathers;
  };
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("Relu", {"x"}, {"p"}); }, 1), 1);  // the control: it moves
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("Relu", {"x"}, {"p"}); }, 2), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("Relu", {"x"}, {"p"}); }, -1), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { setInts(b.node("Transpose", {"x"}, {"p"}), "perm", {0, 2, 1}); }, 1), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("MatMul", {"x", "y"}, {"p"}); }, 1), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("Add", {"x", "row"}, {"p"}); }, 1), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { b.node("Mul", {"x", "scale"}, {"p"}); }, 1), 1);
  EXPECT_EQ(build([](OnnxBuilder& b) { setInt(b.node("Softmax", {"x"}, {"p"}), "axis", 1); }, 1), 0);
  EXPECT_EQ(build([](OnnxBuilder& b) { setInt(b.node("Softmax", {"x"}, {"p"}), "axis", 2); }, 1), 1);
}

// Multi-head self-attention as torchvision's ViT exports it: one in-projection,
// q/k/v Slices of it, head Reshapes and Transposes, q divided by sqrt(d),
// MatMul, Softmax, MatMul, the heads merged back and an out-projection.
// `variant` changes one thing that must stop the fusion.
enum class AttentionVariant { kPlain, kProbabilitiesAlsoOutput, kMaskAdded };

// The attention part of torch's export, from the in-projection of "x"
// ("w_in", [E][3E]) to the merged heads "merged" [T, N*H, d]: q/k/v Slices
// of one projection, head Reshapes to "heads_shape" and Transposes, q
// divided by "root_d", MatMul, Softmax (of the scores + "mask" when
// `masked`), MatMul, Transpose.
void addExportedAttention(OnnxBuilder& b, int64_t e, bool masked) {
  b.node("MatMul", {"x", "w_in"}, {"qkv"});
  const char* parts[3] = {"q", "k", "v"};
  for (int64_t i = 0; i < 3; ++i) {
    const std::string p = parts[i];
    b.initializerInt64(p + "_begin", {1}, {i * e});
    b.initializerInt64(p + "_end", {1}, {(i + 1) * e});
    b.node("Slice", {"qkv", p + "_begin", p + "_end", "axis"}, {p + "_cols"});
    b.node("Reshape", {p + "_cols", "heads_shape"}, {p + "_split"});
  }
  setInts(b.node("Transpose", {"q_split"}, {"q_heads"}), "perm", {1, 0, 2});
  setInts(b.node("Transpose", {"k_split"}, {"k_heads"}), "perm", {1, 2, 0});
  setInts(b.node("Transpose", {"v_split"}, {"v_heads"}), "perm", {1, 0, 2});
  b.node("Div", {"q_heads", "root_d"}, {"q_scaled"});
  b.node("MatMul", {"q_scaled", "k_heads"}, {"scores"});
  std::string logits = "scores";
  if (masked) {
    b.node("Add", {"scores", "mask"}, {"masked"});
    logits = "masked";
  }
  setInt(b.node("Softmax", {logits}, {"probabilities"}), "axis", -1);
  b.node("MatMul", {"probabilities", "v_heads"}, {"attended"});
  setInts(b.node("Transpose", {"attended"}, {"merged"}), "perm", {1, 0, 2});
}

struct SelfAttention {
  int64_t tokens = 7, heads = 3, headDim = 4;
  int64_t width() const { return heads * headDim; }
  std::vector<float> inProj = randomFloats(width() * 3 * width(), 41), outProj = randomFloats(width() * width(), 42);

  Graph build(AttentionVariant variant, ConvertReport* report) const {
    const int64_t e = width();
    OnnxBuilder b(17);
    b.input("x", {tokens, 1, e});
    b.initializer("w_in", {e, 3 * e}, inProj);
    b.initializer("w_out", {e, e}, outProj);
    b.initializerInt64("axis", {1}, {-1});
    b.initializerInt64("heads_shape", {3}, {tokens, heads, headDim});
    b.initializerInt64("merged_shape", {2}, {tokens, e});
    b.scalar("root_d", std::sqrt(static_cast<float>(headDim)));
    b.initializer("mask", {tokens}, randomFloats(tokens, 43));
    addExportedAttention(b, e, variant == AttentionVariant::kMaskAdded);
    b.node("Reshape", {"merged", "merged_shape"}, {"flat"});
    b.node("MatMul", {"flat", "w_out"}, {"y"});
    b.output("y");
    if (variant == AttentionVariant::kProbabilitiesAlsoOutput) b.output("probabilities");
    return importOnnx(b.model, {}, report);
  }
};

TEST(FuseAttention, ExportedSelfAttentionBecomesOneNodeWithTheSameResult) {
  const SelfAttention attention;
  ConvertReport report, unfusedReport;
  const Graph fused = attention.build(AttentionVariant::kPlain, &report);
  const Graph unfused = attention.build(AttentionVariant::kProbabilitiesAlsoOutput, &unfusedReport);
  EXPECT_EQ(report.fusedAttentions, 1);
  EXPECT_EQ(unfusedReport.fusedAttentions, 0);  // the probabilities are wanted: they must be made
  const Node& node = test::onlyNode(fused, "PetrelAttention");
  // It reads the in-projection's output three times, at the column of each part.
  const int64_t e = attention.width();
  EXPECT_EQ(fused.values[node.inputs[0]].name, "qkv");
  EXPECT_EQ(node.inputs[1], node.inputs[0]);
  EXPECT_EQ(node.inputs[2], node.inputs[0]);
  EXPECT_EQ(node.getInt("heads", 0), attention.heads);
  EXPECT_EQ(node.getInt("head_dim", 0), attention.headDim);
  EXPECT_EQ(node.getInt("q_start", -1), 0);
  EXPECT_EQ(node.getInt("k_start", -1), e);
  EXPECT_EQ(node.getInt("v_start", -1), 2 * e);
  EXPECT_NEAR(node.getFloat("scale", 0.0f), 0.5f, 1e-7);  // 1 / sqrt(4)
  for (const char* gone : {"Slice", "Transpose", "Softmax", "Div"}) EXPECT_EQ(countOp(fused, gone), 0) << gone;
  EXPECT_EQ(countOp(fused, "MatMul"), 2);  // the two projections

  const std::vector<float> x = randomFloats(attention.tokens * e, 44);
  for (int threads : {1, 2}) {
    SessionConfig config;
    config.threads = threads;
    Session fast(Model::fromGraph(fused), config), slow(Model::fromGraph(unfused), config);
    const std::map<std::string, Tensor> inputs = {{"x", Tensor({attention.tokens, 1, e}, x)}};
    const std::vector<float> got = fast.run(inputs).at("y").data, want = slow.run(inputs).at("y").data;
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  }
}

TEST(FuseAttention, AMaskedSoftmaxIsLeftAlone) {
  ConvertReport report;
  const Graph g = SelfAttention().build(AttentionVariant::kMaskAdded, &report);
  EXPECT_EQ(report.fusedAttentions, 0);
  EXPECT_EQ(countOp(g, "PetrelAttention"), 0);
  EXPECT_EQ(countOp(g, "Softmax"), 1);
}

// Self-attention as torch's nn.MultiheadAttention exports it inside ViT, with
// a dynamic batch N on axis 1: x [T, N, E] -> one in-projection, q/k/v
// Slices, head Reshapes and Transposes, attention, heads merged into
// [T*N, E], the out-projection as a Gemm, split back into [T, N, E] and
// transposed to [N, T, E]. "y" is that output; with `tokens` given, the
// output is instead "cls", the Gather of those tokens (ViT's class token).
struct BatchedSelfAttention {
  int64_t tokens = 6, heads = 2, headDim = 4;
  int64_t width() const { return heads * headDim; }
  std::vector<float> inProj = randomFloats(width() * 3 * width(), 51), outProj = randomFloats(width() * width(), 52),
                     outBias = randomFloats(width(), 53);

  // `indices` empty: no Gather. `indicesShape` {} for a scalar index.
  Graph build(const std::vector<int64_t>& indicesShape, const std::vector<int64_t>& indices, bool splitAlsoOutput,
              ConvertReport* report) const {
    const int64_t e = width();
    OnnxBuilder b(17);
    b.input("x", {tokens, -1, e});
    b.initializer("w_in", {e, 3 * e}, inProj);
    b.initializer("w_out", {e, e}, outProj);  // [out][in]: the Gemm has transB = 1
    b.initializer("b_out", {e}, outBias);
    b.initializerInt64("axis", {1}, {-1});
    b.initializerInt64("heads_shape", {3}, {tokens, -1, headDim});
    b.initializerInt64("merged_shape", {2}, {-1, e});
    b.initializerInt64("split_shape", {3}, {tokens, -1, e});
    b.scalar("root_d", std::sqrt(static_cast<float>(headDim)));
    addExportedAttention(b, e, false);
    b.node("Reshape", {"merged", "merged_shape"}, {"flat"});
    setInt(b.node("Gemm", {"flat", "w_out", "b_out"}, {"projected"}), "transB", 1);
    b.node("Reshape", {"projected", "split_shape"}, {"split"});
    setInts(b.node("Transpose", {"split"}, {"y"}), "perm", {1, 0, 2});
    if (indices.empty()) {
      b.output("y");
    } else {
      b.initializerInt64("tokens", indicesShape, indices);
      setInt(b.node("Gather", {"y", "tokens"}, {"cls"}), "axis", 1);
      b.output("cls");
    }
    if (splitAlsoOutput) b.output("split");
    return importOnnx(b.model, {}, report);
  }
};

TEST(GatherAttentionQueries, AClassTokenGatherNarrowsTheAttentionAndItsProjectionAtEveryBatch) {
  const BatchedSelfAttention attention;
  const int64_t t = attention.tokens, e = attention.width();
  const Graph whole = attention.build({}, {}, false, nullptr);
  struct Case {
    std::vector<int64_t> shape, indices;
  };
  // A scalar index (ViT's x[:, 0]); two tokens out of order, one counted from the end.
  for (const Case& c : {Case{{}, {0}}, Case{{2}, {3, -1}}}) {
    ConvertReport report;
    const Graph narrowed = attention.build(c.shape, c.indices, false, &report);
    EXPECT_EQ(report.fusedAttentions, 1);
    ASSERT_EQ(report.gatheredAttentionQueries, 1);
    const Node& node = test::onlyNode(narrowed, "PetrelAttention");
    EXPECT_EQ(narrowed.values[node.outputs[0]].shape[0], static_cast<int64_t>(c.indices.size()));
    EXPECT_EQ(narrowed.values[node.inputs[1]].name, "qkv");  // K and V keep every token

    for (int64_t batch : {1, 3}) {
      for (int threads : {1, 2}) {
        SessionConfig config;
        config.threads = threads;
        Session fast(Model::fromGraph(narrowed), config), full(Model::fromGraph(whole), config);
        fast.resize({{"x", {t, batch, e}}});
        full.resize({{"x", {t, batch, e}}});
        const std::map<std::string, Tensor> inputs = {
            {"x", Tensor({t, batch, e}, randomFloats(t * batch * e, 54 + static_cast<uint32_t>(batch)))}};
        const Tensor got = fast.run(inputs).at("cls");
        const Tensor y = full.run(inputs).at("y");  // [batch, t, e]
        const int64_t count = static_cast<int64_t>(c.indices.size());
        ASSERT_EQ(got.data.size(), static_cast<size_t>(batch * count * e));
        for (int64_t n = 0; n < batch; ++n)
          for (int64_t i = 0; i < count; ++i) {
            const int64_t token = (c.indices[i] + t) % t;
            for (int64_t j = 0; j < e; ++j)
              EXPECT_NEAR(got.data[(n * count + i) * e + j], y.data[(n * t + token) * e + j], 1e-5)
                  << "batch " << batch << " image " << n << " token " << token << " column " << j;
          }
      }
    }
  }
}

TEST(GatherAttentionQueries, AValueInTheChainReadElsewhereKeepsEveryToken) {
  ConvertReport report;
  const Graph g = BatchedSelfAttention().build({}, {0}, true, &report);
  EXPECT_EQ(report.fusedAttentions, 1);
  EXPECT_EQ(report.gatheredAttentionQueries, 0);
  const Node& node = test::onlyNode(g, "PetrelAttention");
  EXPECT_EQ(g.values[node.outputs[0]].shape[0], BatchedSelfAttention().tokens);
}

TEST(FuseActivations, NotFusedWhenTheProducerOutputIsReadElsewhere) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8});
  b.initializer("w", {4, 3, 1, 1}, randomFloats(12, 4));
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Relu", {"c"}, {"y"});
  b.output("y");
  b.output("c");  // the conv's own output is wanted too
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Conv", "Relu"}));
  EXPECT_FALSE(g.nodes[0].has("activation"));
  EXPECT_EQ(report.fusedActivations, 0);
}

TEST(FuseActivations, NotFusedIntoOtherOpsOrWithRuntimeBounds) {
  {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 8, 8});
    auto& pool = b.node("MaxPool", {"x"}, {"p"});
    setInts(pool, "kernel_shape", {2, 2});
    b.node("Relu", {"p"}, {"y"});
    b.output("y");
    EXPECT_EQ(opsOf(importOnnx(b.model)), (std::vector<std::string>{"MaxPool", "Relu"}));
  }
  {
    Graph g = convThen([](OnnxBuilder& b) {
      b.input("lo", {});
      b.node("Clip", {"c", "lo"}, {"y"});
    });
    EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Conv", "Clip"}));
  }
  {
    // Only the first of two activations fuses.
    Graph g = convThen([](OnnxBuilder& b) {
      b.node("Relu", {"c"}, {"r"});
      b.node("Sigmoid", {"r"}, {"y"});
    });
    EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Conv", "Sigmoid"}));
    EXPECT_EQ(g.nodes[0].getString("activation", ""), activationName(Activation::kRelu));
  }
}

// ---------------------------------------------------------------------------
// fuseGelu

enum class GeluOrder { kHalfLast, kHalfFirst, kHalfWithErf };

// h = MatMul(x, w) + b, then the erf Gelu of h in the given order.
onnx::ModelProto matmulGelu(GeluOrder order, bool divide, float half = 0.5f) {
  OnnxBuilder b(13);
  b.input("x", {2, 8});
  b.initializer("w", {8, 8}, randomFloats(64, 5));
  b.initializer("b", {8}, randomFloats(8, 6));
  b.scalar("sqrt2", 1.4142135381698608f);
  b.scalar("rsqrt2", 0.7071067690849304f);
  b.scalar("one", 1.0f);
  b.scalar("half", half);
  b.node("MatMul", {"x", "w"}, {"mm"});
  b.node("Add", {"mm", "b"}, {"h"});
  if (divide)
    b.node("Div", {"h", "sqrt2"}, {"d"});
  else
    b.node("Mul", {"rsqrt2", "h"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"one", "e"}, {"a"});
  switch (order) {
    case GeluOrder::kHalfLast:  // (h * (1 + erf)) * 0.5
      b.node("Mul", {"h", "a"}, {"m"});
      b.node("Mul", {"m", "half"}, {"y"});
      break;
    case GeluOrder::kHalfFirst:  // (h * 0.5) * (1 + erf)
      b.node("Mul", {"h", "half"}, {"hh"});
      b.node("Mul", {"hh", "a"}, {"y"});
      break;
    case GeluOrder::kHalfWithErf:  // h * ((1 + erf) * 0.5)
      b.node("Mul", {"a", "half"}, {"m"});
      b.node("Mul", {"h", "m"}, {"y"});
      break;
  }
  b.output("y");
  return b.model;
}

// MatMul + bias Add + Gelu: the bias and then the Gelu fuse into the MatMul.
TEST(FuseGelu, ErfPatternsBecomeGeluFusedIntoTheLinearLayer) {
  for (GeluOrder order : {GeluOrder::kHalfLast, GeluOrder::kHalfFirst, GeluOrder::kHalfWithErf})
    for (bool divide : {true, false}) {
      SCOPED_TRACE("order " + std::to_string(static_cast<int>(order)) + (divide ? " Div" : " Mul"));
      ConvertReport report;
      Graph g = importOnnx(matmulGelu(order, divide), {}, &report);
      ASSERT_EQ(opsOf(g), (std::vector<std::string>{"MatMul"}));
      EXPECT_EQ(g.nodes[0].inputs.size(), 3u);
      EXPECT_EQ(g.nodes[0].getString("activation", ""), activationName(Activation::kGelu));
      EXPECT_EQ(outputName(g, 0), "y");
      EXPECT_EQ(report.fusedBiasAdds, 1);
      EXPECT_EQ(report.fusedActivations, 1);
    }
}

TEST(FuseGelu, WrongConstantIsNotAGelu) {
  Graph g = importOnnx(matmulGelu(GeluOrder::kHalfLast, true, 0.6f));
  EXPECT_EQ(countOp(g, "Erf"), 1);
  EXPECT_EQ(countOp(g, "Gelu"), 0);
}

TEST(FuseGelu, GeluOnAGraphInputStaysAGeluNode) {
  OnnxBuilder b(13);
  b.input("h", {4});
  b.scalar("sqrt2", 1.41421356f);
  b.scalar("one", 1.0f);
  b.scalar("half", 0.5f);
  b.node("Div", {"h", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"a"});
  b.node("Mul", {"h", "a"}, {"m"});
  b.node("Mul", {"m", "half"}, {"y"});
  b.output("y");
  Graph g = importOnnx(b.model);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Gelu"});
  EXPECT_EQ(g.values[g.nodes[0].inputs[0]].name, "h");
  EXPECT_EQ(outputName(g, 0), "y");
  EXPECT_EQ(g.values.size(), 2u);  // the pattern's constants and intermediates are gone
}

// ---------------------------------------------------------------------------
// Passes on hand-built graphs

int addValue(Graph& g, const std::string& name, Shape shape = {2}) {
  Value v;
  v.name = name;
  v.shape = std::move(shape);
  return g.addValue(std::move(v));
}

int addConst(Graph& g, const std::string& name, const std::vector<float>& values) {
  Value v;
  v.name = name;
  v.shape = {static_cast<int64_t>(values.size())};
  v.constant = ConstantData::fromFloats(v.shape, values);
  return g.addValue(std::move(v));
}

Node makeNode(const std::string& name, const std::string& op, std::vector<int> inputs, std::vector<int> outputs) {
  Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

TEST(Passes, RemoveDeadNodesDropsUnreachableNodesAndValues) {
  Graph g;
  const int x = addValue(g, "x");
  const int unusedInput = addValue(g, "unused_input");
  const int w = addConst(g, "w", {1, 2});
  const int deadWeight = addConst(g, "dead_w", {3, 4});
  const int a = addValue(g, "a"), d1 = addValue(g, "d1"), d2 = addValue(g, "d2"), y = addValue(g, "y");
  g.inputs = {x, unusedInput};
  g.nodes.push_back(makeNode("relu", "Relu", {x}, {a}));
  g.nodes.push_back(makeNode("dead1", "Mul", {a, deadWeight}, {d1}));
  g.nodes.push_back(makeNode("add", "Add", {a, w}, {y}));
  g.nodes.push_back(makeNode("dead2", "Relu", {d1}, {d2}));
  g.outputs = {y};
  EXPECT_EQ(removeDeadNodes(g), 2);
  g.validate();
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Relu", "Add"}));
  EXPECT_EQ(g.findValue("dead_w"), -1);
  EXPECT_EQ(g.findValue("d1"), -1);
  EXPECT_NE(g.findValue("unused_input"), -1);  // inputs are the model's interface
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");
  EXPECT_EQ(g.values[g.nodes[1].inputs[1]].name, "w");
}

TEST(Passes, SortTopologicallyRestoresOrderAndKeepsSortedGraphs) {
  Graph g;
  const int x = addValue(g, "x"), a = addValue(g, "a"), b = addValue(g, "b"), c = addValue(g, "c");
  const int y = addValue(g, "y");
  g.inputs = {x};
  g.outputs = {y};
  g.nodes.push_back(makeNode("n4", "Add", {b, c}, {y}));
  g.nodes.push_back(makeNode("n3", "Relu", {a}, {c}));
  g.nodes.push_back(makeNode("n2", "Relu", {a}, {b}));
  g.nodes.push_back(makeNode("n1", "Relu", {x}, {a}));
  EXPECT_THROW(g.validate(), Error);
  sortTopologically(g);
  g.validate();
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"n1", "n3", "n2", "n4"}));
  sortTopologically(g);  // already sorted: unchanged
  names.clear();
  for (const Node& n : g.nodes) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"n1", "n3", "n2", "n4"}));

  Graph cyclic;
  const int p = addValue(cyclic, "p"), q = addValue(cyclic, "q");
  cyclic.outputs = {q};
  cyclic.nodes.push_back(makeNode("c1", "Relu", {q}, {p}));
  cyclic.nodes.push_back(makeNode("c2", "Relu", {p}, {q}));
  EXPECT_THROW(sortTopologically(cyclic), Error);
}

TEST(Passes, FoldConstantsRespectsTheSizeLimit) {
  auto build = [] {
    Graph g;
    const int x = addValue(g, "x", {6});
    const int c = addConst(g, "c", {-1, 2, -3, 4, -5, 6});
    const int r = addValue(g, "r", {6});
    const int y = addValue(g, "y", {6});
    g.inputs = {x};
    g.outputs = {y};
    g.nodes.push_back(makeNode("relu", "Relu", {c}, {r}));
    g.nodes.push_back(makeNode("add", "Add", {x, r}, {y}));
    return g;
  };
  Graph small = build();
  EXPECT_EQ(foldConstants(small, 5), 0);
  EXPECT_EQ(opsOf(small), (std::vector<std::string>{"Relu", "Add"}));
  Graph g = build();
  EXPECT_EQ(foldConstants(g), 1);
  EXPECT_EQ(opsOf(g), std::vector<std::string>{"Add"});
  EXPECT_EQ(constFloats(g, g.nodes[0].inputs[1]), (std::vector<float>{0, 2, 0, 4, 0, 6}));
}

TEST(Passes, RemoveNoOpsKeepsCastsThatChangeTheType) {
  Graph g;
  const int x = addValue(g, "x");
  const int i = addValue(g, "i");
  g.values[i].dtype = DType::kInt64;
  const int y = addValue(g, "y");
  g.inputs = {x};
  g.outputs = {y};
  Node toInt = makeNode("to_int", "Cast", {x}, {i});
  toInt.attributes["to"] = int64_t{7};  // INT64
  Node toFloat = makeNode("to_float", "Cast", {i}, {y});
  toFloat.attributes["to"] = int64_t{1};  // FLOAT
  g.nodes = {toInt, toFloat};
  EXPECT_EQ(removeNoOps(g), 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

}  // namespace
}  // namespace petrel::test

// ---------------------------------------------------------------------------
// rewriteEinsum

namespace petrel::test {
namespace {

// Imports a one-Einsum model and runs it.
std::vector<float> runEinsum(const std::string& equation, const std::vector<int64_t>& aShape,
                             const std::vector<int64_t>& bShape, const std::vector<float>& a,
                             const std::vector<float>& b, std::vector<std::string>* ops) {
  OnnxBuilder builder(13);
  builder.input("a", aShape);
  builder.input("b", bShape);
  setString(builder.node("Einsum", {"a", "b"}, {"y"}, "einsum"), "equation", equation);
  builder.output("y");
  Graph g = importOnnx(builder.model);
  *ops = opsOf(g);
  Session session(Model::fromGraph(std::move(g)));
  auto out = session.run({{"a", Tensor(aShape, a)}, {"b", Tensor(bShape, b)}});
  return out.at("y").data;
}

TEST(RewriteEinsum, BatchedMatrixProductsBecomeMatMul) {
  const std::vector<float> a = randomFloats(2 * 3 * 4, 1), b = randomFloats(2 * 4 * 5, 2), bt = randomFloats(2 * 5 * 4, 3);
  std::vector<std::string> ops;
  // "b i j, b j k -> b i k"
  std::vector<float> y = runEinsum("b i j, b j k -> b i k", {2, 3, 4}, {2, 4, 5}, a, b, &ops);
  EXPECT_EQ(ops, (std::vector<std::string>{"MatMul"}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        double sum = 0;
        for (int j = 0; j < 4; ++j) sum += a[(n * 3 + i) * 4 + j] * b[(n * 4 + j) * 5 + k];
        EXPECT_NEAR(y[(n * 3 + i) * 5 + k], sum, 1e-5);
      }
  // "b i d, b j d -> b i j": the second operand is transposed first.
  y = runEinsum("bid,bjd->bij", {2, 3, 4}, {2, 5, 4}, a, bt, &ops);
  EXPECT_EQ(ops, (std::vector<std::string>{"Transpose", "MatMul"}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 5; ++j) {
        double sum = 0;
        for (int d = 0; d < 4; ++d) sum += a[(n * 3 + i) * 4 + d] * bt[(n * 5 + j) * 4 + d];
        EXPECT_NEAR(y[(n * 3 + i) * 5 + j], sum, 1e-5);
      }
}

TEST(RewriteEinsum, OtherEquationsAreNamedErrors) {
  std::vector<std::string> ops;
  const std::vector<float> a(32, 1.0f), b(32, 1.0f);
  for (const char* equation : {"bij,bjk->bki", "bij,bij->bij", "bij,bjk"}) {
    try {
      runEinsum(equation, {2, 4, 4}, {2, 4, 4}, a, b, &ops);
      ADD_FAILURE() << equation << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("einsum"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace petrel::test
