// MatMul (numpy semantics) against a plain reference: 1-D promotion, batched,
// broadcast batch dims, constant and run-time B, fused activation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/activation.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::HarnessInput;

// Reference: promotes 1-D operands, broadcasts the batch dims.
std::pair<Shape, std::vector<float>> referenceMatMul(const Shape& as, const std::vector<float>& a, const Shape& bs,
                                                     const std::vector<float>& b, const ActivationParams& act) {
  const Shape pa = as.size() == 1 ? Shape{1, as[0]} : as;
  const Shape pb = bs.size() == 1 ? Shape{bs[0], 1} : bs;
  const int64_t m = pa[pa.size() - 2], k = pa.back(), n = pb.back();
  const size_t rank = std::max(pa.size(), pb.size());
  Shape batch(rank - 2);
  auto dimOf = [&](const Shape& s, size_t i) {  // batch dim i (of rank-2) right-aligned, 1 if missing
    const size_t lead = rank - s.size();
    return i < lead ? int64_t{1} : s[i - lead];
  };
  for (size_t i = 0; i < batch.size(); ++i) batch[i] = std::max(dimOf(pa, i), dimOf(pb, i));
  const int64_t count = shapeElements(batch);
  std::vector<float> out(count * m * n);
  for (int64_t bi = 0; bi < count; ++bi) {
    // Decompose bi into batch indices; map to each operand (0 where it broadcasts).
    int64_t rest = bi, offA = 0, offB = 0, strideA = m * k, strideB = k * n;
    for (size_t i = batch.size(); i-- > 0;) {
      const int64_t idx = rest % batch[i];
      rest /= batch[i];
      const int64_t da = dimOf(pa, i), db = dimOf(pb, i);
      offA += (da == 1 ? 0 : idx) * strideA;
      offB += (db == 1 ? 0 : idx) * strideB;
      strideA *= da;
      strideB *= db;
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) sum += double(a[offA + i * k + kk]) * b[offB + kk * n + j];
        out[(bi * m + i) * n + j] = applyActivation(act, static_cast<float>(sum));
      }
  }
  Shape shape = batch;
  if (as.size() != 1) shape.push_back(m);
  if (bs.size() != 1) shape.push_back(n);
  return {shape, out};
}

void checkMatMul(const Shape& as, const Shape& bs, bool constantB, int threads = 1,
                 ActivationParams act = {}, const std::string& expectKernel = "") {
  SCOPED_TRACE("A " + shapeToString(as) + " B " + shapeToString(bs) + (constantB ? " constant B" : " run-time B") +
               " threads " + std::to_string(threads));
  const std::vector<float> a = test::randomFloats(shapeElements(as), 41);
  const std::vector<float> b = test::randomFloats(shapeElements(bs), 42);
  std::map<std::string, AttributeValue> attrs;
  test::addActivationAttributes(attrs, act);
  const SessionConfig config = test::withThreads(threads);
  const test::HarnessResult r = test::runOp(
      test::makeNode("MatMul", attrs),
      {HarnessInput::runtime(as, a), constantB ? HarnessInput::constant(bs, b) : HarnessInput::runtime(bs, b)}, config);
  const auto [shape, want] = referenceMatMul(as, a, bs, b, act);
  ASSERT_EQ(r.shapes.at(0), shape);
  if (!expectKernel.empty()) {
    EXPECT_EQ(r.kernel, expectKernel);
  }
  EXPECT_LE(test::relativeL2(r.outputs[0], want), 1e-5);
}

TEST(MatMul, TwoDimensional) {
  for (bool constantB : {true, false})
    for (int threads : {1, 2}) {
      checkMatMul({7, 9}, {9, 13}, constantB, threads);
      checkMatMul({1, 300}, {300, 17}, constantB, threads);
      checkMatMul({130, 70}, {70, 150}, constantB, threads);
    }
}

TEST(MatMul, OneDimensionalPromotion) {
  for (bool constantB : {true, false}) {
    checkMatMul({9}, {9, 13}, constantB);        // -> [13]
    checkMatMul({7, 9}, {9}, constantB);         // -> [7]
    checkMatMul({9}, {9}, constantB);            // -> []
    checkMatMul({2, 3, 7, 9}, {9}, constantB);   // -> [2, 3, 7]
    checkMatMul({9}, {4, 9, 5}, constantB);      // -> [4, 5]
  }
}

TEST(MatMul, ConstantWeightsFlattenTheBatch) {
  // ViT linear layer: X[B, T, K] * W[K, N], W packed once.
  for (int threads : {1, 2}) {
    checkMatMul({2, 197, 64}, {64, 96}, true, threads, {}, "linear.sgemm[fp32]");
    checkMatMul({3, 5, 33}, {1, 33, 17}, true, threads, {Activation::kGelu}, "linear.sgemm[fp32]");
  }
}

TEST(MatMul, BatchedAndBroadcast) {
  for (bool constantB : {false, true})
    for (int threads : {1, 2}) {
      // Attention: [B, heads, T, d] * [B, heads, d, T].
      checkMatMul({2, 3, 17, 8}, {2, 3, 8, 17}, constantB, threads, {}, "matmul.sgemm.batched");
      checkMatMul({2, 1, 5, 6}, {1, 4, 6, 7}, constantB, threads);  // both broadcast
      checkMatMul({5, 6}, {3, 6, 7}, constantB, threads);            // A broadcast over B's batch
      checkMatMul({3, 5, 6}, {1, 1, 6, 7}, constantB, threads);      // B batch all ones
      checkMatMul({4, 1, 5, 6}, {3, 6, 7}, constantB, threads);
    }
}

TEST(MatMul, FusedActivation) {
  checkMatMul({3, 17, 40}, {40, 20}, true, 1, {Activation::kRelu});
  checkMatMul({3, 17, 40}, {3, 40, 20}, false, 2, {Activation::kSilu});
}

// Input 2 (fused by the converter): a bias [N] added before the activation.
TEST(MatMul, FusedBias) {
  const Shape as{2, 9, 40}, bs{40, 21};
  const std::vector<float> a = test::randomFloats(shapeElements(as), 51), b = test::randomFloats(shapeElements(bs), 52);
  const std::vector<float> bias = test::randomFloats(21, 53);
  for (int threads : {1, 2}) {
    std::map<std::string, AttributeValue> attrs;
    test::addActivationAttributes(attrs, {Activation::kGelu});
    const test::HarnessResult r = test::runOp(
        test::makeNode("MatMul", attrs),
        {HarnessInput::runtime(as, a), HarnessInput::constant(bs, b), HarnessInput::constant({21}, bias)},
        test::withThreads(threads));
    auto [shape, want] = referenceMatMul(as, a, bs, b, {});
    for (size_t i = 0; i < want.size(); ++i)
      want[i] = applyActivation({Activation::kGelu}, want[i] + bias[i % 21]);
    ASSERT_EQ(r.shapes.at(0), shape);
    EXPECT_LE(test::relativeL2(r.outputs[0], want), 1e-5) << "threads " << threads;
  }
  // The bias must be a constant [N] on a constant 2-D B.
  test::expectError([&] {
    test::runOp(test::makeNode("MatMul"), {HarnessInput::runtime(as, a), HarnessInput::constant(bs, b),
                                           HarnessInput::constant({1, 21}, bias)});
  }, {"test_MatMul", "bias", "[21]"});
  test::expectError([&] {
    test::runOp(test::makeNode("MatMul"), {HarnessInput::runtime(as, a), HarnessInput::runtime(bs, b),
                                           HarnessInput::constant({21}, bias)});
  }, {"test_MatMul", "constant 2-D B"});
}

TEST(MatMul, Errors) {
  EXPECT_THROW(test::runOp(test::makeNode("MatMul"), {HarnessInput::runtime({2, 3}, std::vector<float>(6)),
                                                      HarnessInput::runtime({4, 5}, std::vector<float>(20))}),
               Error);
  EXPECT_THROW(test::runOp(test::makeNode("MatMul"), {HarnessInput::runtime({2, 2, 3}, std::vector<float>(12)),
                                                      HarnessInput::runtime({3, 3, 5}, std::vector<float>(45))}),
               Error);
}

}  // namespace
}  // namespace petrel
