// Add, Sub, Mul, Div, Pow (with numpy broadcasting and fused activations),
// and the planning-time int64 forms, Equal and Where, against plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/cpu.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"
#include "ops/row_kernels.h"

namespace petrel::test {
namespace {

float reference(const std::string& op, float a, float b) {
  if (op == "Add") return a + b;
  if (op == "Sub") return a - b;
  if (op == "Mul") return a * b;
  if (op == "Div") return a / b;
  if (op == "Pow") return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  ADD_FAILURE() << "no reference for " << op;
  return 0.0f;
}

struct BroadcastCase {
  Shape a, b, out;
  const char* operands;  // kernel suffix: which operand is a repeated scalar in the inner loop
};

const std::vector<BroadcastCase>& broadcastCases() {
  static const std::vector<BroadcastCase> cases = {
      {{2, 3, 5, 7}, {2, 3, 5, 7}, {2, 3, 5, 7}, "vv"},          // same shape
      {{13}, {13}, {13}, "vv"},                                  // odd flat size
      {{}, {3, 4, 5}, {3, 4, 5}, "sv"},                          // scalar left
      {{3, 4, 5}, {}, {3, 4, 5}, "vs"},                          // scalar right
      {{17}, {1}, {17}, "vs"},                                   // one-element vector
      {{2, 3, 5, 7}, {3, 1, 1}, {2, 3, 5, 7}, "vs"},             // [C,1,1]
      {{2, 3, 5, 7}, {1, 3, 1, 1}, {2, 3, 5, 7}, "vs"},          // per-channel bias
      {{1, 3, 1, 1}, {2, 3, 5, 7}, {2, 3, 5, 7}, "sv"},          // per-channel, left
      {{2, 3, 1, 1}, {2, 3, 5, 7}, {2, 3, 5, 7}, "sv"},          // squeeze-excitation scale
      {{2, 7, 13}, {13}, {2, 7, 13}, "vv"},                      // last-axis (ViT bias)
      {{13}, {2, 7, 13}, {2, 7, 13}, "vv"},
      {{5, 1}, {2, 3, 1, 4}, {2, 3, 5, 4}, "sv"},                // different ranks
      {{4}, {3, 1}, {3, 4}, "vs"},                               // both broadcast
      {{3, 1, 5}, {1, 4, 1}, {3, 4, 5}, "vs"},
      {{2, 1, 4, 1}, {3, 1, 5}, {2, 3, 4, 5}, "sv"},
      {{1, 1, 1}, {1, 5, 1}, {1, 5, 1}, "sv"},                   // size-1 dims
      {{1, 1}, {1}, {1, 1}, "ss"},                               // a single element
      {{2, 1, 3}, {2, 4, 3}, {2, 4, 3}, "vv"},                   // middle broadcast
      {{0, 3}, {3}, {0, 3}, "vv"},                               // empty
      {{2, 64, 32, 33}, {1, 64, 1, 1}, {2, 64, 32, 33}, "vs"},   // large: threads split rows
      {{70001}, {70001}, {70001}, "vv"},                         // large flat, odd
      {{1, 197, 768}, {768}, {1, 197, 768}, "vv"},               // ViT-sized bias add
  };
  return cases;
}

TEST(Elementwise, BinaryOpsBroadcastAgainstReference) {
  const std::vector<std::string> ops = {"Add", "Sub", "Mul", "Div", "Pow"};
  uint32_t seed = 1;
  for (int threads : {1, 2}) {
    for (const BroadcastCase& c : broadcastCases()) {
      for (const std::string& op : ops) {
        SCOPED_TRACE(op + " " + shapeToString(c.a) + " , " + shapeToString(c.b) + " threads " +
                     std::to_string(threads));
        // Pow needs a positive base; Div a divisor away from 0.
        const bool positive = op == "Pow" || op == "Div";
        const std::vector<float> a =
            randomFloats(shapeElements(c.a), seed++, positive ? 0.5f : -2.0f, 2.0f);
        const std::vector<float> b =
            randomFloats(shapeElements(c.b), seed++, positive ? 0.5f : -2.0f, 2.0f);
        // The right operand alternates between a run-time value and a weight.
        const HarnessInput bInput =
            seed % 4 == 0 ? HarnessInput::constant(c.b, b) : HarnessInput::runtime(c.b, b);
        HarnessResult r = runOp(makeNode(op), {HarnessInput::runtime(c.a, a), bInput}, withThreads(threads));
        ASSERT_EQ(r.shapes[0], c.out);
        std::vector<float> expected(shapeElements(c.out));
        for (int64_t i = 0; i < static_cast<int64_t>(expected.size()); ++i)
          expected[i] = reference(op, a[broadcastSourceIndex(c.a, c.out, i)], b[broadcastSourceIndex(c.b, c.out, i)]);
        expectClose(r.outputs[0], expected, 1e-6);
        EXPECT_NE(r.kernel.find(std::string(".f32.") + c.operands), std::string::npos) << r.kernel;
      }
    }
  }
}

TEST(Elementwise, PowSpecialExponents) {
  const Shape shape = {3, 37};
  const std::vector<float> base = randomFloats(shapeElements(shape), 7, 0.1f, 3.0f);
  for (float exponent : {2.0f, 0.5f, 1.0f, 3.0f, -1.5f}) {
    SCOPED_TRACE(exponent);
    HarnessResult r = runOp(makeNode("Pow"), {HarnessInput::runtime(shape, base), HarnessInput::constant({}, {exponent})});
    std::vector<float> expected(base.size());
    for (size_t i = 0; i < base.size(); ++i) expected[i] = std::pow(base[i], exponent);
    expectClose(r.outputs[0], expected, 1e-6);
  }
  // An int64 exponent (Pow allows a different exponent type).
  HarnessResult r = runOp(makeNode("Pow"), {HarnessInput::runtime(shape, base), HarnessInput::int64s({1}, {3})});
  std::vector<float> expected(base.size());
  for (size_t i = 0; i < base.size(); ++i) expected[i] = base[i] * base[i] * base[i];
  expectClose(r.outputs[0], expected, 1e-6);
}

TEST(Elementwise, AddWithEveryFusedActivation) {
  const std::vector<ActivationParams> activations = {
      {Activation::kNone},          {Activation::kRelu},
      {Activation::kClip, -0.5f, 0.75f}, {Activation::kSigmoid},
      {Activation::kHardSigmoid, 0.2f, 0.5f}, {Activation::kHardSwish},
      {Activation::kSilu},          {Activation::kTanh},
      {Activation::kGelu},
  };
  struct Case {
    Shape a, b, out;
  };
  // Sizes around the activation block (1024) and the threading threshold.
  const std::vector<Case> cases = {{{2, 3, 5, 7}, {2, 3, 5, 7}, {2, 3, 5, 7}},
                                   {{1, 5, 17, 31}, {1, 5, 1, 1}, {1, 5, 17, 31}},
                                   {{3, 1030}, {1030}, {3, 1030}},
                                   {{2, 3, 1, 1}, {2, 3, 11, 11}, {2, 3, 11, 11}},
                                   {{1, 40, 41, 41}, {40, 1, 1}, {1, 40, 41, 41}},
                                   {{70001}, {70001}, {70001}}};
  uint32_t seed = 100;
  for (int threads : {1, 2}) {
    for (const Case& c : cases) {
      for (const ActivationParams& act : activations) {
        const std::string name = activationName(act.kind);
        SCOPED_TRACE(name + " " + shapeToString(c.a) + " + " + shapeToString(c.b) + " threads " +
                     std::to_string(threads));
        const Shape& out = c.out;
        const std::vector<float> a = randomFloats(shapeElements(c.a), seed++, -4.0f, 4.0f);
        const std::vector<float> b = randomFloats(shapeElements(c.b), seed++, -4.0f, 4.0f);
        Node node = makeNode("Add", {{"activation", name},
                                     {"activation_alpha", act.alpha},
                                     {"activation_beta", act.beta}});
        HarnessResult r =
            runOp(node, {HarnessInput::runtime(c.a, a), HarnessInput::runtime(c.b, b)}, withThreads(threads));
        ASSERT_EQ(r.shapes[0], out);
        std::vector<float> expected(shapeElements(out));
        for (int64_t i = 0; i < static_cast<int64_t>(expected.size()); ++i)
          expected[i] = applyActivation(act, a[broadcastSourceIndex(c.a, out, i)] + b[broadcastSourceIndex(c.b, out, i)]);
        // The vectorised activations are polynomial approximations.
        expectClose(r.outputs[0], expected, 2e-6);
        if (act.kind != Activation::kNone) {
          EXPECT_NE(r.kernel.find(name), std::string::npos) << r.kernel;
        }
      }
    }
  }
}

// The AVX2 row kernels against their scalar twins: IEEE arithmetic rounds the
// same in every lane, so they must agree bit for bit, remainders included, and
// also when the output overwrites an input.
TEST(Elementwise, RowKernelTwinsAgree) {
  if (!isaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this machine";
  uint32_t seed = 500;
  for (char op : {'+', '-', '*', '/', '^'}) {
    for (int kinds = 1; kinds < 4; ++kinds) {
      const bool vectorA = kinds & 1, vectorB = kinds & 2;
      BinaryRowKernel scalar = binaryRowKernel(op, vectorA, vectorB, Isa::kScalar);
      BinaryRowKernel avx2 = binaryRowKernel(op, vectorA, vectorB, Isa::kAvx2);
      ASSERT_NE(scalar, nullptr);
      ASSERT_NE(avx2, nullptr);
      if (op != '^') {
        EXPECT_NE(scalar, avx2) << op << " has no AVX2 twin";
      }
      for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 1000}) {
        SCOPED_TRACE(std::string(1, op) + " kinds " + std::to_string(kinds) + " n " + std::to_string(n));
        const std::vector<float> a = randomFloats(n + 1, seed++, 0.5f, 2.0f);
        const std::vector<float> b = randomFloats(n + 1, seed++, 0.5f, 2.0f);
        std::vector<float> expected(n), actual(n);
        scalar(a.data(), b.data(), expected.data(), n);
        avx2(a.data(), b.data(), actual.data(), n);
        EXPECT_EQ(actual, expected);
        if (vectorA) {  // in place: out == a
          std::vector<float> inPlace(a.begin(), a.begin() + n);
          inPlace.push_back(a[n]);
          avx2(inPlace.data(), b.data(), inPlace.data(), n);
          inPlace.pop_back();
          EXPECT_EQ(inPlace, expected);
        }
      }
    }
  }
}

// --- int64 shape arithmetic, evaluated at planning ------------------------------

std::vector<int64_t> staticInts(const HarnessResult& r) {
  EXPECT_TRUE(r.statics[0].has_value());
  if (!r.statics[0]) return {};
  EXPECT_EQ(r.statics[0]->dtype, DType::kInt64);
  EXPECT_EQ(r.statics[0]->shape, r.shapes[0]);
  return r.statics[0]->i64;
}

TEST(Elementwise, Int64ArithmeticIsStatic) {
  const HarnessInput a = HarnessInput::int64s({2, 1}, {7, -7});
  const HarnessInput b = HarnessInput::int64s({3}, {2, 3, -4});
  struct Case {
    std::string op;
    std::vector<int64_t> expected;  // [2, 3]
  };
  const std::vector<Case> cases = {
      {"Add", {9, 10, 3, -5, -4, -11}},
      {"Sub", {5, 4, 11, -9, -10, -3}},
      {"Mul", {14, 21, -28, -14, -21, 28}},
      {"Div", {3, 2, -1, -3, -2, 1}},  // truncates toward zero
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    HarnessResult r = runOp(makeNode(c.op), {a, b});
    EXPECT_TRUE(r.kernel.empty());
    EXPECT_EQ(r.shapes[0], (Shape{2, 3}));
    EXPECT_EQ(staticInts(r), c.expected);
  }
  // Typical exported shape arithmetic: batch * channels, a scalar times a vector.
  HarnessResult r = runOp(makeNode("Mul"), {HarnessInput::int64s({}, {4}), HarnessInput::int64s({2}, {3, 5})});
  EXPECT_EQ(r.shapes[0], (Shape{2}));
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{12, 20}));
  r = runOp(makeNode("Pow"), {HarnessInput::int64s({3}, {2, 3, -2}), HarnessInput::int64s({}, {3})});
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{8, 27, -8}));
}

TEST(Elementwise, EqualIsStaticInt64) {
  HarnessResult r = runOp(makeNode("Equal"),
                          {HarnessInput::int64s({2, 1}, {1, 3}), HarnessInput::int64s({3}, {1, 2, 3})});
  EXPECT_EQ(r.shapes[0], (Shape{2, 3}));
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{1, 0, 0, 0, 0, 1}));
  // Small float constants are known at planning too.
  r = runOp(makeNode("Equal"),
            {HarnessInput::constant({3}, {1.0f, 2.5f, -1.0f}), HarnessInput::constant({}, {2.5f})});
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{0, 1, 0}));
}

TEST(Elementwise, ModIsStaticWithBothSignConventions) {
  const HarnessInput a = HarnessInput::int64s({4}, {7, -7, 7, -7});
  const HarnessInput b = HarnessInput::int64s({4}, {3, 3, -3, -3});
  // fmod = 0 (default): the divisor's sign, as Python's %.
  EXPECT_EQ(staticInts(runOp(makeNode("Mod"), {a, b})), (std::vector<int64_t>{1, 2, -2, -1}));
  // fmod = 1: the dividend's sign, as C's fmod.
  EXPECT_EQ(staticInts(runOp(makeNode("Mod", {{"fmod", int64_t{1}}}), {a, b})), (std::vector<int64_t>{1, -1, 1, -1}));
  HarnessResult r = runOp(makeNode("Mod", {{"fmod", int64_t{1}}}),
                          {HarnessInput::constant({2}, {5.5f, -5.5f}), HarnessInput::constant({}, {2.0f})});
  EXPECT_EQ(r.outputs[0], (std::vector<float>{1.5f, -1.5f}));
  expectError([&] { runOp(makeNode("Mod"), {a, HarnessInput::int64s({}, {0})}); }, {"modulo by zero"});
  expectError([&] { runOp(makeNode("Mod"), {HarnessInput::runtime({2}, {1.0f, 2.0f}), HarnessInput::constant({}, {2.0f})}); },
              {"known at planning"});
}

TEST(Elementwise, WhereIsStaticWithBroadcasting) {
  // condition [2,1], X [3], Y scalar -> [2,3]
  HarnessResult r = runOp(makeNode("Where"), {HarnessInput::int64s({2, 1}, {1, 0}),
                                             HarnessInput::int64s({3}, {10, 20, 30}),
                                             HarnessInput::int64s({}, {-1})});
  EXPECT_EQ(r.shapes[0], (Shape{2, 3}));
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{10, 20, 30, -1, -1, -1}));
  // Equal -> Where, as in exported Reshape targets: replace -1 entries by a value.
  const HarnessInput shape = HarnessInput::int64s({4}, {1, -1, 7, -1});
  HarnessResult mask = runOp(makeNode("Equal"), {shape, HarnessInput::int64s({}, {-1})});
  ASSERT_TRUE(mask.statics[0]);
  r = runOp(makeNode("Where"), {HarnessInput::int64s(mask.shapes[0], mask.statics[0]->i64),
                                HarnessInput::int64s({}, {5}), shape});
  EXPECT_EQ(staticInts(r), (std::vector<int64_t>{1, 5, 7, 5}));
  // Float values.
  r = runOp(makeNode("Where"), {HarnessInput::int64s({3}, {0, 1, 0}), HarnessInput::constant({1}, {9.0f}),
                                HarnessInput::constant({3}, {1.0f, 2.0f, 3.0f})});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.statics[0]->dtype, DType::kFloat32);
  EXPECT_EQ(r.outputs[0], (std::vector<float>{1.0f, 9.0f, 3.0f}));
}

// --- errors ---------------------------------------------------------------------------

TEST(Elementwise, IncompatibleBroadcastNamesNodeAndShapes) {
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow"}) {
    Node node = makeNode(op);
    node.name = "block3/" + std::string(op);
    auto run = [&] {
      runOp(node, {HarnessInput::runtime({2, 3}, std::vector<float>(6)),
                   HarnessInput::runtime({4}, std::vector<float>(4))});
    };
    EXPECT_THROW(run(), Error);
    expectError(run, {node.describe(), "[2, 3]", "[4]"});
  }
  expectError([] { runOp(makeNode("Add"), {HarnessInput::runtime({2, 3, 4}, std::vector<float>(24)),
                                           HarnessInput::runtime({2, 1}, std::vector<float>(2))}); },
              {"test_Add", "broadcast"});
  expectError([] { runOp(makeNode("Where"), {HarnessInput::int64s({2}, {1, 0}), HarnessInput::int64s({3}, {1, 2, 3}),
                                             HarnessInput::int64s({}, {0})}); },
              {"test_Where", "[2]", "[3]"});
}

TEST(Elementwise, OtherErrors) {
  expectError([] { runOp(makeNode("Div"), {HarnessInput::int64s({2}, {4, 5}), HarnessInput::int64s({}, {0})}); },
              {"test_Div", "division by zero"});
  expectError([] { runOp(makeNode("Add"), {HarnessInput::int64s({2}, {4, 5}),
                                           HarnessInput::constant({2}, {1.0f, 2.0f})}); },
              {"test_Add", "int64", "float32"});
  expectError([] { runOp(makeNode("Add", {{"activation", std::string("swish2")}}),
                         {HarnessInput::runtime({2}, {1, 2}), HarnessInput::runtime({2}, {1, 2})}); },
              {"test_Add", "swish2"});
  expectError([] { runOp(makeNode("Equal"), {HarnessInput::runtime({2}, {1, 2}), HarnessInput::runtime({2}, {1, 2})}); },
              {"test_Equal", "planning"});
  expectError([] { runOp(makeNode("Add"), {HarnessInput::runtime({2}, {1, 2})}); }, {"test_Add", "2 inputs"});
}

}  // namespace
}  // namespace petrel::test
