// Unary operators against formulas evaluated in double.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"
#include "ops/row_kernels.h"

namespace petrel::test {
namespace {

struct UnaryCase {
  std::string name;
  Node node;
  std::function<double(double)> reference;
  float lo = -5.0f, hi = 5.0f;  // input range
  std::vector<HarnessInput> extraInputs = {};
};

std::vector<UnaryCase> unaryCases() {
  const double inf = std::numeric_limits<double>::infinity();
  auto clip = [](double lo, double hi) { return [=](double x) { return std::min(std::max(x, lo), hi); }; };
  auto hardSigmoid = [](double a, double b) {
    return [=](double x) { return std::max(0.0, std::min(1.0, a * x + b)); };
  };
  return {
      {"Relu", makeNode("Relu"), [](double x) { return x > 0 ? x : 0.0; }},
      {"Clip(min, max inputs)", makeNode("Clip"), clip(-1.5, 2.25), -5, 5,
       {HarnessInput::constant({}, {-1.5f}), HarnessInput::constant({}, {2.25f})}},
      {"Clip(0..6 as Relu6)", makeNode("Clip"), clip(0.0, 6.0), -10, 10,
       {HarnessInput::constant({}, {0.0f}), HarnessInput::constant({}, {6.0f})}},
      {"Clip(min only)", makeNode("Clip"), clip(0.5, inf), -5, 5, {HarnessInput::constant({1}, {0.5f})}},
      {"Clip(max only)", makeNode("Clip"), clip(-inf, -0.5), -5, 5,
       {HarnessInput::absent(), HarnessInput::constant({}, {-0.5f})}},
      {"Clip(no bounds)", makeNode("Clip"), clip(-inf, inf)},
      {"Clip(attributes)", makeNode("Clip", {{"min", -1.0f}, {"max", 1.0f}}), clip(-1.0, 1.0)},
      {"Sigmoid", makeNode("Sigmoid"), [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -20, 20},
      {"HardSigmoid(default)", makeNode("HardSigmoid"), hardSigmoid(0.2, 0.5)},
      {"HardSigmoid(1/6, 0.5)", makeNode("HardSigmoid", {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}}),
       hardSigmoid(1.0 / 6.0, 0.5), -8, 8},
      {"HardSwish", makeNode("HardSwish"),
       [](double x) { return x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5)); }, -8, 8},
      {"Tanh", makeNode("Tanh"), [](double x) { return std::tanh(x); }},
      {"Sqrt", makeNode("Sqrt"), [](double x) { return std::sqrt(x); }, 0, 50},
      {"Erf", makeNode("Erf"), [](double x) { return std::erf(x); }, -3, 3},
      {"Exp", makeNode("Exp"), [](double x) { return std::exp(x); }, -10, 10},
      {"Neg", makeNode("Neg"), [](double x) { return -x; }},
      {"Gelu", makeNode("Gelu"), [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }, -6, 6},
      {"Gelu(tanh)", makeNode("Gelu", {{"approximate", std::string("tanh")}}),
       [](double x) {
         return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
       },
       -6, 6},
  };
}

TEST(Unary, EveryOpAgainstReference) {
  // Sizes around the SIMD width, the activation block (1024) and the
  // threading threshold (64K elements).
  const std::vector<Shape> shapes = {{1}, {7}, {2, 3, 5, 7}, {1023}, {1025}, {3, 1, 4097}, {70001}};
  uint32_t seed = 1;
  for (const UnaryCase& c : unaryCases()) {
    for (int threads : {1, 2}) {
      for (const Shape& shape : shapes) {
        SCOPED_TRACE(c.name + " " + shapeToString(shape) + " threads " + std::to_string(threads));
        const std::vector<float> x = randomFloats(shapeElements(shape), seed++, c.lo, c.hi);
        std::vector<HarnessInput> inputs = {HarnessInput::runtime(shape, x)};
        inputs.insert(inputs.end(), c.extraInputs.begin(), c.extraInputs.end());
        HarnessResult r = runOp(c.node, inputs, withThreads(threads));
        ASSERT_EQ(r.shapes[0], shape);
        EXPECT_FALSE(r.kernel.empty());
        std::vector<double> expected(x.size());
        for (size_t i = 0; i < x.size(); ++i) expected[i] = c.reference(x[i]);
        expectClose(r.outputs[0], expected, 2e-6);
      }
    }
  }
}

// Both twins of every map kernel, on every length up to a few vectors.
TEST(Unary, MapKernelTwinsAgainstReference) {
  struct Map {
    const char* name;
    double (*reference)(double);
    float lo, hi;
  };
  const std::vector<Map> maps = {
      {"exp", [](double x) { return std::exp(x); }, -80, 80},
      {"erf", [](double x) { return std::erf(x); }, -5, 5},
      {"sqrt", [](double x) { return std::sqrt(x); }, 0, 1000},
      {"neg", [](double x) { return -x; }, -5, 5},
      {"gelu_tanh",
       [](double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }, -6,
       6},
  };
  const std::vector<Isa> isas = supportedIsas();
  uint32_t seed = 900;
  for (const Map& m : maps) {
    for (Isa isa : isas) {
      MapRow row = unaryMapKernel(m.name, isa);
      ASSERT_NE(row, nullptr) << m.name;
      for (int64_t n = 0; n <= 35; ++n) {
        SCOPED_TRACE(std::string(m.name) + " " + isaName(isa) + " n " + std::to_string(n));
        const std::vector<float> x = randomFloats(n, seed++, m.lo, m.hi);
        std::vector<float> y(n);
        row(x.data(), y.data(), n);
        std::vector<double> expected(n);
        for (int64_t i = 0; i < n; ++i) expected[i] = m.reference(x[i]);
        expectClose(y, expected, 2e-6);
      }
    }
  }
  EXPECT_EQ(unaryMapKernel("no_such_map", Isa::kScalar), nullptr);
}

// Exp keeps IEEE limits in every twin: overflow to inf, underflow to (nearly) 0, NaN.
TEST(Unary, ExpLimits) {
  const std::vector<Isa> isas = supportedIsas();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {100.0f, -100.0f, inf, -inf, 0.0f, 88.0f, -87.0f, std::nanf("")};
  for (Isa isa : isas) {
    SCOPED_TRACE(isaName(isa));
    std::vector<float> y(x.size());
    unaryMapKernel("exp", isa)(x.data(), y.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(y[0], inf);
    EXPECT_GE(y[1], 0.0f);  // e^-100 is subnormal: kept or flushed to 0
    EXPECT_LT(y[1], 1e-40f);
    EXPECT_EQ(y[2], inf);
    EXPECT_EQ(y[3], 0.0f);
    EXPECT_EQ(y[4], 1.0f);
    EXPECT_NEAR(y[5], std::exp(88.0), std::exp(88.0) * 1e-6);
    EXPECT_NEAR(y[6], std::exp(-87.0), std::exp(-87.0) * 1e-6);
    EXPECT_TRUE(std::isnan(y[7]));
  }
}

TEST(Unary, IdentityAliasesItsInput) {
  const std::vector<float> x = randomFloats(60, 3);
  HarnessResult r = runOp(makeNode("Identity"), {HarnessInput::runtime({3, 4, 5}, x)});
  EXPECT_TRUE(r.aliased);
  EXPECT_EQ(r.shapes[0], (Shape{3, 4, 5}));
  EXPECT_EQ(r.outputs[0], x);
}

TEST(Unary, Int64ValuesAreStatic) {
  const HarnessInput x = HarnessInput::int64s({5}, {-3, -1, 0, 2, 9});
  struct Case {
    Node node;
    std::vector<HarnessInput> extra;
    std::vector<int64_t> expected;
  };
  const std::vector<Case> cases = {
      {makeNode("Neg"), {}, {3, 1, 0, -2, -9}},
      {makeNode("Relu"), {}, {0, 0, 0, 2, 9}},
      {makeNode("Clip"), {HarnessInput::int64s({}, {-1}), HarnessInput::int64s({}, {4})}, {-1, -1, 0, 2, 4}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.node.op);
    std::vector<HarnessInput> inputs = {x};
    inputs.insert(inputs.end(), c.extra.begin(), c.extra.end());
    HarnessResult r = runOp(c.node, inputs);
    ASSERT_TRUE(r.statics[0]);
    EXPECT_EQ(r.statics[0]->dtype, DType::kInt64);
    EXPECT_EQ(r.shapes[0], (Shape{5}));
    EXPECT_EQ(r.statics[0]->i64, c.expected);
  }
}

TEST(Unary, Errors) {
  const HarnessInput x = HarnessInput::runtime({4}, {1, 2, 3, 4});
  // Clip bounds must be known at planning.
  expectError([&] { runOp(makeNode("Clip"), {x, HarnessInput::runtime({}, {0.0f})}); }, {"test_Clip", "input 1"});
  expectError([&] { runOp(makeNode("Clip"), {x, HarnessInput::constant({2}, {0.0f, 1.0f})}); },
              {"test_Clip", "scalar"});
  expectError([&] { runOp(makeNode("Gelu", {{"approximate", std::string("fast")}}), {x}); }, {"test_Gelu", "fast"});
  expectError([&] { runOp(makeNode("Sqrt"), {HarnessInput::int64s({2}, {4, 9})}); }, {"test_Sqrt", "int64"});
  expectError([&] { runOp(makeNode("Relu"), {}); }, {"test_Relu"});
}

TEST(Unary, NotOnStaticBooleans) {
  HarnessResult r = runOp(makeNode("Not"), {HarnessInput::int64s({4}, {0, 1, 1, 0})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{1, 0, 0, 1}));
  expectNodeError([] { runOp(makeNode("Not"), {HarnessInput::runtime({1}, {1.0f})}); }, "Not");
}

}  // namespace
}  // namespace petrel::test
