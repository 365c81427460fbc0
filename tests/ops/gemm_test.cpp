// Gemm against a plain reference: every transA/transB, alpha/beta, C shape,
// constant and run-time B, fused activation.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::HarnessInput;

struct GemmCase {
  int64_t m = 5, n = 7, k = 9;
  bool transA = false, transB = false;
  float alpha = 1.0f, beta = 1.0f;
  Shape cShape;  // empty + hasC=false: no C
  bool hasC = false;
  bool constantB = true, constantC = true;
  ActivationParams activation;
  int threads = 1;

  std::string describe() const {
    std::ostringstream s;
    s << "m" << m << " n" << n << " k" << k << " tA" << transA << " tB" << transB << " alpha " << alpha << " beta "
      << beta << " C " << (hasC ? shapeToString(cShape) : "none") << " constB " << constantB << " constC "
      << constantC << " act " << activationName(activation.kind) << " threads " << threads;
    return s.str();
  }
};

void checkGemm(const GemmCase& c) {
  SCOPED_TRACE(c.describe());
  const std::vector<float> a = test::randomFloats(c.m * c.k, 31);
  const std::vector<float> b = test::randomFloats(c.k * c.n, 32);
  const std::vector<float> cv = test::randomFloats(std::max<int64_t>(shapeElements(c.cShape), 1), 33);
  auto A = [&](int64_t i, int64_t k) { return c.transA ? a[k * c.m + i] : a[i * c.k + k]; };
  auto B = [&](int64_t k, int64_t j) { return c.transB ? b[j * c.k + k] : b[k * c.n + j]; };
  const int64_t cRows = c.cShape.size() == 2 ? c.cShape[0] : 1;
  const int64_t cCols = c.cShape.empty() ? 1 : c.cShape.back();
  std::vector<float> want(c.m * c.n);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < c.k; ++k) sum += double(A(i, k)) * B(k, j);
      double v = c.alpha * sum;
      if (c.hasC) v += c.beta * cv[(cRows == 1 ? 0 : i) * cCols + (cCols == 1 ? 0 : j)];
      want[i * c.n + j] = applyActivation(c.activation, static_cast<float>(v));
    }

  std::map<std::string, AttributeValue> attrs;
  attrs["transA"] = int64_t{c.transA};
  attrs["transB"] = int64_t{c.transB};
  attrs["alpha"] = c.alpha;
  attrs["beta"] = c.beta;
  test::addActivationAttributes(attrs, c.activation);
  const Shape aShape = c.transA ? Shape{c.k, c.m} : Shape{c.m, c.k};
  const Shape bShape = c.transB ? Shape{c.n, c.k} : Shape{c.k, c.n};
  std::vector<HarnessInput> inputs{HarnessInput::runtime(aShape, a),
                                   c.constantB ? HarnessInput::constant(bShape, b) : HarnessInput::runtime(bShape, b)};
  if (c.hasC)
    inputs.push_back(c.constantC ? HarnessInput::constant(c.cShape, cv) : HarnessInput::runtime(c.cShape, cv));
  const SessionConfig config = test::withThreads(c.threads);
  const test::HarnessResult r = test::runOp(test::makeNode("Gemm", attrs), inputs, config);
  ASSERT_EQ(r.shapes.at(0), (Shape{c.m, c.n}));
  EXPECT_EQ(r.kernel, c.constantB ? "linear.sgemm[fp32]" : "gemm.sgemm");
  EXPECT_LE(test::relativeL2(r.outputs[0], want), 1e-5);
}

TEST(Gemm, TransposesAlphaBetaAndCShapes) {
  int variant = 0;
  for (bool transA : {false, true})
    for (bool transB : {false, true})
      for (int cKind = 0; cKind < 7; ++cKind) {
        GemmCase c;
        c.m = 7 + variant % 5;
        c.n = 13 + variant % 7;
        c.k = 11 + variant % 9;
        c.transA = transA;
        c.transB = transB;
        c.alpha = variant % 2 ? 0.5f : 1.0f;
        c.beta = variant % 3 == 0 ? 1.0f : -1.5f;
        c.hasC = cKind != 0;
        const Shape cShapes[] = {{}, {c.n}, {1, c.n}, {c.m, 1}, {c.m, c.n}, {}, {1}};
        c.cShape = cShapes[cKind];
        c.constantB = variant % 4 != 1;
        c.constantC = variant % 3 != 2;
        c.threads = 1 + variant % 2;
        ++variant;
        checkGemm(c);
      }
}

TEST(Gemm, LinearLayerShapes) {
  for (int threads : {1, 2}) {
    GemmCase c;
    c.m = 3, c.n = 1000, c.k = 512, c.transB = true, c.hasC = true, c.cShape = {1000}, c.threads = threads;
    checkGemm(c);
    c.m = 197, c.n = 300, c.k = 260, c.cShape = {300}, c.activation = {Activation::kGelu};
    checkGemm(c);
  }
}

TEST(Gemm, BetaZeroIgnoresC) {
  GemmCase c;
  c.hasC = true, c.cShape = {c.m, c.n}, c.beta = 0.0f;
  // The reference adds beta * C = 0.
  checkGemm(c);
}

TEST(Gemm, FusedActivations) {
  const ActivationParams acts[] = {{Activation::kRelu}, {Activation::kClip, -0.5f, 0.5f}, {Activation::kSigmoid},
                                   {Activation::kTanh}, {Activation::kHardSwish}};
  for (const ActivationParams& act : acts) {
    GemmCase c;
    c.m = 9, c.n = 33, c.k = 40, c.hasC = true, c.cShape = {c.n}, c.activation = act;
    checkGemm(c);
    c.cShape = {c.m, c.n};  // accumulate path: the activation still comes last
    checkGemm(c);
  }
}

TEST(Gemm, Errors) {
  EXPECT_THROW(test::runOp(test::makeNode("Gemm"), {HarnessInput::runtime({2, 3}, std::vector<float>(6)),
                                                    HarnessInput::constant({4, 5}, std::vector<float>(20))}),
               Error);
  EXPECT_THROW(test::runOp(test::makeNode("Gemm"), {HarnessInput::runtime({2, 3}, std::vector<float>(6)),
                                                    HarnessInput::constant({3, 5}, std::vector<float>(15)),
                                                    HarnessInput::constant({3}, std::vector<float>(3))}),
               Error);
}

}  // namespace
}  // namespace petrel
