// SGEMM with encoded weights as an operand (memory mode low): the weights are
// decoded into the packed panels block by block. The result must equal, bit
// for bit, the same SGEMM on the dequantized weights as a plain matrix: the
// decoders write exactly the panels the packer would, and the tiling never
// changes the order of the sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/sgemm.h"
#include "kernels/sgemm_internal.h"
#include "runtime/thread_pool.h"
#include "weights/decode.h"
#include "weights/fp16.h"
#include "weights_test_util.h"

namespace petrel {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> v{Isa::kScalar};
  if (fp16SimdUsable(Isa::kAvx2)) v.push_back(Isa::kAvx2);
  return v;
}

struct Shape3 {
  int64_t m, n, k;
};

// Shapes around the register tile (6 x 16), the K block (256) and the int4 blocks.
const Shape3 kShapes[] = {{1, 1, 1}, {7, 17, 33}, {6, 16, 256}, {13, 50, 257}, {37, 300, 150}, {130, 45, 600}};

std::vector<float> runGemm(int64_t m, int64_t n, int64_t k, const SgemmProblem& problem, bool rhsEncoded,
                           int threads, Isa isa) {
  std::vector<float> out(static_cast<size_t>(m * n), -7.0f);
  SgemmProblem p = problem;
  p.c = out.data();
  const size_t bytes = sgemmScratchBytes(m, n, k, false, false, threads, rhsEncoded);
  std::vector<float> scratch(bytes / sizeof(float) + 16);
  ThreadPool pool(threads);
  SgemmEpilogue epilogue;
  epilogue.bias = SgemmBias::kPerRow;
  epilogue.activation = {Activation::kRelu};
  sgemm(m, n, k, p, n, epilogue, scratch.data(), bytes, &pool, isa);
  return out;
}

// Encoded weights [rows][depth] (the awkward test matrix) and their dequantized values.
struct TestWeights {
  EncodedMatrix encoded;
  std::vector<float> dequantized;
};
TestWeights makeWeights(int64_t rows, int64_t depth, const WeightEncoding& e, uint32_t seed) {
  TestWeights w{encodeWeights(test::awkwardWeights(rows, depth, seed).data(), rows, depth, e, "w"), {}};
  w.dequantized.resize(static_cast<size_t>(rows * depth));
  decodeMatrix(w.encoded.view(), w.dequantized.data(), Isa::kScalar);
  return w;
}

// Calls fn(encoding, shape, isa, threads) for every combination, traced.
template <typename Fn>
void forEveryCase(Fn fn) {
  for (const WeightEncoding& e : test::everyEncoding())
    for (const Shape3& s : kShapes)
      for (Isa isa : isas())
        for (int threads : {1, 2}) {
          SCOPED_TRACE(test::describe(e) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                       " k=" + std::to_string(s.k) + " " + isaName(isa) + " threads=" + std::to_string(threads));
          fn(e, s, isa, threads);
          if (::testing::Test::HasFatalFailure()) return;
        }
}

TEST(SgemmEncoded, WeightsAsLhsEqualTheDequantizedMatrix) {
  forEveryCase([](const WeightEncoding& e, const Shape3& s, Isa isa, int threads) {
    const TestWeights w = makeWeights(s.m, s.k, e, 1);
    const std::vector<float> x = test::randomFloats(static_cast<size_t>(s.k * s.n), 2);
    const std::vector<float> bias = test::randomFloats(static_cast<size_t>(s.m), 3);
    const EncodedMatrixView view = w.encoded.view();

    SgemmProblem encoded;
    encoded.lhs.encoded = &view;
    encoded.rhs.matrix = {x.data(), s.n, false};
    encoded.bias = bias.data();
    SgemmProblem plain = encoded;
    plain.lhs.encoded = nullptr;
    plain.lhs.matrix = {w.dequantized.data(), s.k, false};
    ASSERT_EQ(runGemm(s.m, s.n, s.k, encoded, false, threads, isa), runGemm(s.m, s.n, s.k, plain, false, threads, isa));
  });
}

TEST(SgemmEncoded, WeightsAsRhsEqualTheDequantizedMatrix) {
  forEveryCase([](const WeightEncoding& e, const Shape3& s, Isa isa, int threads) {
    const TestWeights w = makeWeights(s.n, s.k, e, 4);  // linear layer: W [N][K], B = W^T
    const std::vector<float> x = test::randomFloats(static_cast<size_t>(s.m * s.k), 5);
    const std::vector<float> bias = test::randomFloats(static_cast<size_t>(s.m), 6);
    const EncodedMatrixView view = w.encoded.view();

    SgemmProblem encoded;
    encoded.lhs.matrix = {x.data(), s.k, false};
    encoded.rhs.encoded = &view;
    encoded.bias = bias.data();
    SgemmProblem plain = encoded;
    plain.rhs.encoded = nullptr;
    plain.rhs.matrix = {w.dequantized.data(), s.k, true};
    ASSERT_EQ(runGemm(s.m, s.n, s.k, encoded, true, threads, isa), runGemm(s.m, s.n, s.k, plain, false, threads, isa));
  });
}

// Packing ahead straight from the encoded weights (memory normal) gives the
// same panels as packing the dequantized matrix.
TEST(SgemmEncoded, PackedFromEncodedEqualsPackedFromTheDequantizedMatrix) {
  for (const WeightEncoding& e : test::everyEncoding())
    for (const Shape3& s : kShapes) {
      SCOPED_TRACE(test::describe(e) + " m=" + std::to_string(s.m) + " k=" + std::to_string(s.k));
      const TestWeights w = makeWeights(s.m, s.k, e, 7);
      const SgemmPackedLhs lhsFromEncoded(w.encoded.view()), lhsFromMatrix({w.dequantized.data(), s.k, false}, s.m, s.k);
      const SgemmPackedRhs rhsFromEncoded(w.encoded.view()), rhsFromMatrix({w.dequantized.data(), s.k, true}, s.k, s.m);
      ASSERT_EQ(lhsFromEncoded.bytes(), lhsFromMatrix.bytes());
      ASSERT_EQ(rhsFromEncoded.bytes(), rhsFromMatrix.bytes());
      const int64_t kb = sgemmDepthBlock(s.k);
      for (int64_t k0 = 0; k0 < s.k; k0 += kb) {  // each K block's panels, whole
        const int64_t kc = std::min(kb, s.k - k0);
        const size_t lhsFloats = static_cast<size_t>((s.m + kSgemmMR - 1) / kSgemmMR * kSgemmMR * kc);
        const size_t rhsFloats = static_cast<size_t>((s.m + kSgemmNR - 1) / kSgemmNR * kSgemmNR * kc);
        ASSERT_EQ(0, std::memcmp(lhsFromEncoded.panels(k0, 0), lhsFromMatrix.panels(k0, 0), lhsFloats * 4)) << k0;
        ASSERT_EQ(0, std::memcmp(rhsFromEncoded.panels(k0, 0), rhsFromMatrix.panels(k0, 0), rhsFloats * 4)) << k0;
      }
    }
}

// Encoded B is decoded per tile, never shared whole (a narrow run-time B is
// packed whole once for the threads): its scratch does not grow with K.
TEST(SgemmEncoded, EncodedRhsScratchStaysOneBlockPerThread) {
  EXPECT_LT(sgemmScratchBytes(512, 49, 2048, false, false, 2, true),
            sgemmScratchBytes(512, 49, 2048, false, false, 2, false));
  EXPECT_EQ(sgemmScratchBytes(512, 49, 2048, false, false, 2, true),
            sgemmScratchBytes(512, 49, 8192, false, false, 2, true));
}

}  // namespace
}  // namespace petrel
