// SGEMM (scalar and AVX2 micro-kernels, all operand kinds) against a plain
// triple loop in double precision.
#include "kernels/sgemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <sstream>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/im2col.h"
#include "kernels/sgemm_internal.h"
#include "runtime/thread_pool.h"
#include "support/test_support.h"

namespace petrel {
namespace {

enum class LhsKind { kMatrix, kTransposed, kPacked, kPackedFromTransposed };
enum class RhsKind { kMatrix, kTransposed, kPacked, kPackedFromTransposed };

struct GemmCase {
  int64_t m = 1, n = 1, k = 1;
  LhsKind lhs = LhsKind::kMatrix;
  RhsKind rhs = RhsKind::kMatrix;
  int64_t ldExtra = 0;  // extra elements per stored row of A, B and C
  float alpha = 1.0f;
  bool accumulate = false;
  SgemmBias bias = SgemmBias::kNone;
  ActivationParams activation;
  int threads = 1;

  std::string describe() const {
    std::ostringstream s;
    s << "m=" << m << " n=" << n << " k=" << k << " lhs=" << int(lhs) << " rhs=" << int(rhs) << " ldExtra=" << ldExtra
      << " alpha=" << alpha << " acc=" << accumulate << " bias=" << int(bias)
      << " act=" << activationName(activation.kind) << " threads=" << threads;
    return s.str();
  }
};

// Stored operand: a row-major matrix of `rows` x `cols` with row stride ld.
struct Stored {
  std::vector<float> data;
  int64_t ld = 0;
};

Stored makeStored(int64_t rows, int64_t cols, int64_t extra, uint32_t seed) {
  Stored s;
  s.ld = cols + extra;
  s.data = test::randomFloats(static_cast<size_t>(std::max<int64_t>(rows * s.ld, 1)), seed);
  return s;
}

void runCase(const GemmCase& c, Isa isa) {
  SCOPED_TRACE(c.describe() + " isa=" + isaName(isa));
  const bool transA = c.lhs == LhsKind::kTransposed || c.lhs == LhsKind::kPackedFromTransposed;
  const bool transB = c.rhs == RhsKind::kTransposed || c.rhs == RhsKind::kPackedFromTransposed;
  // A is M x K: stored [M][K], or [K][M] when transposed.
  const Stored a = transA ? makeStored(c.k, c.m, c.ldExtra, 1) : makeStored(c.m, c.k, c.ldExtra, 1);
  const Stored b = transB ? makeStored(c.n, c.k, c.ldExtra, 2) : makeStored(c.k, c.n, c.ldExtra, 2);
  auto A = [&](int64_t i, int64_t k) { return transA ? a.data[k * a.ld + i] : a.data[i * a.ld + k]; };
  auto B = [&](int64_t k, int64_t j) { return transB ? b.data[j * b.ld + k] : b.data[k * b.ld + j]; };
  const int64_t ldc = c.n + c.ldExtra;
  const std::vector<float> c0 = test::randomFloats(static_cast<size_t>(c.m * ldc), 3);
  const std::vector<float> bias = test::randomFloats(static_cast<size_t>(c.bias == SgemmBias::kPerRow ? c.m : c.n), 4);

  SgemmProblem p;
  const SgemmMatrix matA{a.data.data(), a.ld, transA};
  const SgemmMatrix matB{b.data.data(), b.ld, transB};
  std::unique_ptr<SgemmPackedLhs> packedA;
  std::unique_ptr<SgemmPackedRhs> packedB;
  if (c.lhs == LhsKind::kPacked || c.lhs == LhsKind::kPackedFromTransposed) {
    packedA = std::make_unique<SgemmPackedLhs>(matA, c.m, c.k);
    p.lhs.packed = packedA.get();
  } else {
    p.lhs.matrix = matA;
  }
  if (c.rhs == RhsKind::kPacked || c.rhs == RhsKind::kPackedFromTransposed) {
    packedB = std::make_unique<SgemmPackedRhs>(matB, c.k, c.n);
    p.rhs.packed = packedB.get();
  } else {
    p.rhs.matrix = matB;
  }
  std::vector<float> out = c0;
  p.c = out.data();
  p.bias = c.bias == SgemmBias::kNone ? nullptr : bias.data();

  SgemmEpilogue ep;
  ep.alpha = c.alpha;
  ep.accumulate = c.accumulate;
  ep.bias = c.bias;
  ep.activation = c.activation;
  const size_t scratchBytes = sgemmScratchBytes(c.m, c.n, c.k, packedA != nullptr, packedB != nullptr, c.threads);
  std::vector<float> scratch(scratchBytes / sizeof(float) + 16);
  ThreadPool pool(c.threads);
  sgemm(c.m, c.n, c.k, p, ldc, ep, scratch.data(), scratchBytes, &pool, isa);

  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = out[i * ldc + j];
      if (j >= c.n) {  // the gap past N must be untouched
        ASSERT_EQ(got, c0[i * ldc + j]) << "wrote past N at " << i << "," << j;
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < c.k; ++k) {
        sum += double(A(i, k)) * B(k, j);
        magnitude += std::fabs(double(A(i, k)) * B(k, j));
      }
      double v = c.alpha * sum;
      magnitude *= std::fabs(c.alpha);
      if (c.accumulate) v += c0[i * ldc + j], magnitude += std::fabs(c0[i * ldc + j]);
      if (c.bias == SgemmBias::kPerRow) v += bias[i], magnitude += std::fabs(bias[i]);
      if (c.bias == SgemmBias::kPerColumn) v += bias[j], magnitude += std::fabs(bias[j]);
      const double want = applyActivation(c.activation, static_cast<float>(v));
      const double tol = 4e-6 * magnitude + 2e-6 * std::fabs(want) + 1e-7;
      ASSERT_NEAR(got, want, tol) << "at " << i << "," << j;
    }
  }
}

class SgemmTest : public ::testing::TestWithParam<Isa> {};

// Sizes around the register tile (6 x 16) and the K block (256); last row
// panels of 1 to 6 rows (1 to 4 have their own kernels).
TEST_P(SgemmTest, ShapesAndOperandKinds) {
  const int64_t ms[] = {1, 2, 3, 4, 5, 6, 7, 13, 15, 16, 37, 44, 130};
  const int64_t ns[] = {1, 15, 16, 17, 25, 47, 150};
  const int64_t ks[] = {1, 7, 256, 257, 600};
  int variant = 0;
  for (int64_t m : ms)
    for (int64_t n : ns)
      for (int64_t k : ks) {
        GemmCase c;
        c.m = m, c.n = n, c.k = k;
        c.lhs = static_cast<LhsKind>(variant % 4);
        c.rhs = static_cast<RhsKind>((variant / 4) % 4);
        c.ldExtra = variant % 3 == 0 ? 3 : 0;  // odd ld / ldc
        c.threads = 1 + variant % 2;
        ++variant;
        runCase(c, GetParam());
        if (HasFatalFailure()) return;
      }
}

TEST_P(SgemmTest, EveryOperandKindOnOneShape) {
  for (int lhs = 0; lhs < 4; ++lhs)
    for (int rhs = 0; rhs < 4; ++rhs) {
      GemmCase c;
      c.m = 19, c.n = 35, c.k = 300;
      c.lhs = static_cast<LhsKind>(lhs);
      c.rhs = static_cast<RhsKind>(rhs);
      c.ldExtra = 1;
      runCase(c, GetParam());
      if (HasFatalFailure()) return;
    }
}

TEST_P(SgemmTest, EpilogueBiasAlphaAccumulateAndActivations) {
  for (const ActivationParams& act : test::everyActivation())
    for (SgemmBias bias : {SgemmBias::kNone, SgemmBias::kPerRow, SgemmBias::kPerColumn})
      for (bool accumulate : {false, true}) {
        GemmCase c;
        c.bias = bias;
        c.accumulate = accumulate;
        c.alpha = accumulate ? 0.75f : 1.0f;
        c.activation = act;
        c.ldExtra = 5;
        // Edges in M and N, two K blocks: last column panels of 5 columns;
        // of 1 to 4 (the few-columns kernel); of 9 and 12 (8 columns, then
        // that kernel). Last row panels of 2 rows (m = 14), 1, 3 and 4.
        c.lhs = LhsKind::kPacked;
        c.k = 270;
        for (int64_t n : {37, 33, 34, 35, 36, 41, 44, 16, 17, 18}) {
          c.n = n;
          c.m = n == 16 ? 13 : n == 17 ? 15 : n == 18 ? 16 : 14;
          runCase(c, GetParam());
          if (HasFatalFailure()) return;
        }
        c.lhs = LhsKind::kMatrix;
        c.rhs = RhsKind::kPacked;
        c.m = 6, c.n = 16, c.k = 20;  // one full register tile
        runCase(c, GetParam());
        if (HasFatalFailure()) return;
      }
}

TEST_P(SgemmTest, ZeroDepthGivesBiasAndActivation) {
  GemmCase c;
  c.m = 7, c.n = 18, c.k = 0;
  c.bias = SgemmBias::kPerColumn;
  c.activation = {Activation::kRelu};
  runCase(c, GetParam());
}

// Includes tiles of unequal sizes: N = 196 is 13 panels in 4 tiles at 2
// threads, N = 3136 196 panels in 13 tiles at 1; and one-column products
// (a squeeze-excitation block's 1x1 convolutions) split by rows at 2.
TEST_P(SgemmTest, LargerThreadedShapes) {
  const int64_t shapes[][3] = {{256, 256, 256}, {64, 3136, 147}, {512, 49, 1200}, {197, 768, 768}, {1, 1000, 512},
                               {96, 196, 576},   {576, 1, 144},   {144, 1, 576}};
  int variant = 0;
  for (const auto& s : shapes)
    for (int threads : {1, 2}) {
      GemmCase c;
      c.m = s[0], c.n = s[1], c.k = s[2];
      c.lhs = variant % 2 ? LhsKind::kPacked : LhsKind::kMatrix;
      c.rhs = variant % 2 ? RhsKind::kMatrix : RhsKind::kPackedFromTransposed;
      c.bias = SgemmBias::kPerRow;
      c.activation = {Activation::kRelu};
      c.threads = threads;
      ++variant;
      runCase(c, GetParam());
      if (HasFatalFailure()) return;
    }
}

// A single product with a run-time B hands its tiles out in one run per
// worker, each worker helping with the others' runs once its own is done: on
// 2 to 4 threads, with tile counts the runs do not divide, tiles split by
// rows, and a pool larger than the workers a small product gets. C is
// accumulated into, so a tile computed twice or never shows.
TEST_P(SgemmTest, TilesHandedOutInRunsAreEachComputedOnce) {
  const int64_t shapes[][3] = {{64, 3136, 64}, {100, 1000, 40}, {130, 50, 300}, {30, 200, 20}, {16, 3025, 16}};
  int variant = 0;
  for (const auto& s : shapes)
    for (int threads : {2, 3, 4}) {
      GemmCase c;
      c.m = s[0], c.n = s[1], c.k = s[2];
      c.lhs = variant % 2 ? LhsKind::kPacked : LhsKind::kMatrix;
      c.rhs = RhsKind::kMatrix;
      c.accumulate = true;
      c.alpha = 0.5f;
      c.threads = threads;
      ++variant;
      runCase(c, GetParam());
      if (HasFatalFailure()) return;
    }
}

// A product of a few columns (1 to kSgemmFewColumns) reads a plain B in
// place whatever M and K (a squeeze-excitation block's 1x1 convolutions on
// one pixel): rows of B and C longer than N, three K blocks, 1 and 2 threads.
TEST_P(SgemmTest, FewColumnProductsReadBInPlace) {
  int variant = 0;
  for (int64_t n = 1; n <= kSgemmFewColumns; ++n)
    for (int threads : {1, 2}) {
      GemmCase c;
      c.m = 130, c.n = n, c.k = 600;
      c.lhs = variant % 2 ? LhsKind::kPacked : LhsKind::kMatrix;
      c.ldExtra = 3;
      c.bias = n % 2 ? SgemmBias::kPerRow : SgemmBias::kPerColumn;
      c.accumulate = variant % 3 == 0;
      c.activation = {Activation::kRelu};
      c.threads = threads;
      ++variant;
      runCase(c, GetParam());
      if (HasFatalFailure()) return;
    }
}

// With too little scratch for the pool, fewer threads work (still correct).
TEST_P(SgemmTest, ScratchForOneThreadWithTwoThreadPool) {
  const int64_t m = 50, n = 300, k = 100;
  const std::vector<float> a = test::randomFloats(m * k, 1), b = test::randomFloats(k * n, 2);
  std::vector<float> out(m * n), ref(m * n);
  SgemmProblem p;
  p.lhs.matrix = {a.data(), k, false};
  p.rhs.matrix = {b.data(), n, false};
  const size_t bytes = sgemmScratchBytes(m, n, k, false, false, 1);
  std::vector<float> scratch(bytes / 4);
  ThreadPool pool(2);
  p.c = out.data();
  sgemm(m, n, k, p, n, {}, scratch.data(), bytes, &pool, GetParam());
  p.c = ref.data();
  sgemm(m, n, k, p, n, {}, scratch.data(), bytes, nullptr, GetParam());
  EXPECT_EQ(out, ref);
}

// A product too small to split runs on one thread; the scratch sized for two
// (where B would be shared) must still do for one (where it is not).
TEST_P(SgemmTest, SmallProductOnATwoThreadPoolFitsItsScratch) {
  GemmCase c;
  c.m = 48, c.n = 20, c.k = 100;  // under the per-thread work minimum
  c.threads = 2;
  runCase(c, GetParam());
}

// B read straight from an image (packing im2col on the fly) equals B = im2col
// materialised; batched over images. With 2 threads and few columns, one
// image's B is packed once and shared by the threads; 3 images are shared out
// whole instead, each thread packing its own.
TEST_P(SgemmTest, Im2colOperandBatched) {
  Conv2dGeometry g;
  g.channels = 5, g.inH = 11, g.inW = 13, g.kernelH = 3, g.kernelW = 2, g.strideH = 2, g.strideW = 1;
  g.dilationH = 1, g.dilationW = 2, g.padTop = 1, g.padLeft = 2;
  g.outH = (g.inH + 2 - 3) / 2 + 1;
  g.outW = (g.inW + 2 + 1 - 3) / 1 + 1;
  const int64_t k = g.depth(), n = g.outPixels();
  for (int64_t images : {1, 3})
    for (int64_t m : {9, 100})
      for (int threads : {1, 2}) {
        SCOPED_TRACE("images=" + std::to_string(images) + " m=" + std::to_string(m) +
                     " threads=" + std::to_string(threads));
        const std::vector<float> w = test::randomFloats(m * k, 1);
        const std::vector<float> input = test::randomFloats(images * g.channels * g.inPixels(), 2);
        const SgemmPackedLhs packed({w.data(), k, false}, m, k);

        struct Images final : SgemmBatch {
          const SgemmPackedLhs* packed;
          const Conv2dGeometry* g;
          const float* input;
          float* out;
          int64_t m, images;
          int64_t count() const override { return images; }
          SgemmProblem problem(int64_t i) const override {
            SgemmProblem p;
            p.lhs.packed = packed;
            p.rhs.im2col = g;
            p.rhs.image = input + i * g->channels * g->inPixels();
            p.c = out + i * m * g->outPixels();
            return p;
          }
        };
        std::vector<float> out(images * m * n);
        Images batch;
        batch.packed = &packed, batch.g = &g, batch.input = input.data(), batch.out = out.data(), batch.m = m;
        batch.images = images;
        const size_t bytes = sgemmScratchBytes(m, n, k, true, false, threads);
        std::vector<float> scratch(bytes / 4);
        ThreadPool pool(threads);
        sgemmBatched(m, n, k, batch, n, {}, scratch.data(), bytes, &pool, GetParam());

        std::vector<float> col(k * n);
        for (int64_t i = 0; i < images; ++i) {
          im2col(g, input.data() + i * g.channels * g.inPixels(), col.data());
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) {
              double sum = 0;
              for (int64_t kk = 0; kk < k; ++kk) sum += double(w[r * k + kk]) * col[kk * n + j];
              ASSERT_NEAR(out[(i * m + r) * n + j], sum, 1e-5) << i << " " << r << " " << j;
            }
        }
      }
}

// Packs `size` floats with a portable packer and with its AVX2 twin into
// buffers of the same contents (gaps between padded panels stay as they
// were): the same bytes, and nothing written past them.
void expectTwinWritesThePortableBytes(size_t size, const std::function<void(float*)>& portable,
                                      const std::function<void(float*)>& twin) {
  std::vector<float> want(size, -7.0f), got(size + 8, -7.0f);
  portable(want.data());
  twin(got.data());
  for (size_t i = size; i < got.size(); ++i) ASSERT_EQ(got[i], -7.0f) << "wrote past the panels";
  got.resize(size);
  EXPECT_EQ(got, want);
}

// The AVX2 packer of a run-time A writes the portable packer's bytes, and
// nothing past them: whole and short panels, depths around the 8-k step,
// offsets into a larger matrix, transposed A.
TEST(SgemmPackLhs, Avx2TwinWritesThePortableBytes) {
  if (!isaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  const int64_t ld = 41;
  const std::vector<float> data = test::randomFloats(40 * ld, 77);
  for (bool transposed : {false, true})
    for (int64_t rows : {1, 5, 6, 7, 12, 13, 18})
      for (int64_t kc : {1, 7, 8, 9, 16, 23})
        for (int64_t offset : {0, 3}) {
          SCOPED_TRACE("transposed " + std::to_string(transposed) + " rows " + std::to_string(rows) + " kc " +
                       std::to_string(kc) + " offset " + std::to_string(offset));
          const SgemmMatrix a{data.data(), ld, transposed};
          expectTwinWritesThePortableBytes(
              static_cast<size_t>((rows + kSgemmMR - 1) / kSgemmMR * kSgemmMR * kc),
              [&](float* out) { sgemmPackLhs(a, offset, rows, offset + 1, kc, out); },
              [&](float* out) { sgemmPackLhsAvx2(a, offset, rows, offset + 1, kc, out); });
        }
}

// The same for B: whole and short panels (cols around 16), depths around the
// 8-k step, offsets into a larger matrix, both layouts, packed back to back
// or padded apart.
TEST(SgemmPackRhs, Avx2TwinWritesThePortableBytes) {
  if (!isaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  const int64_t ld = 41;
  const std::vector<float> data = test::randomFloats(40 * ld, 78);
  for (bool transposed : {false, true})
    for (int64_t cols : {1, 5, 15, 16, 17, 32, 37})
      for (int64_t kc : {1, 7, 8, 9, 16, 23})
        for (int64_t offset : {0, 3})
          for (int64_t padding : {0, 16}) {
            SCOPED_TRACE("transposed " + std::to_string(transposed) + " cols " + std::to_string(cols) + " kc " +
                         std::to_string(kc) + " offset " + std::to_string(offset) + " padding " +
                         std::to_string(padding));
            const SgemmMatrix b{data.data(), ld, transposed};
            const int64_t panelStride = kc * kSgemmNR + padding;
            expectTwinWritesThePortableBytes(
                static_cast<size_t>((cols + kSgemmNR - 1) / kSgemmNR * panelStride),
                [&](float* out) { sgemmPackRhs(b, offset + 1, kc, offset, cols, out, panelStride); },
                [&](float* out) { sgemmPackRhsAvx2(b, offset + 1, kc, offset, cols, out, panelStride); });
          }
}

INSTANTIATE_TEST_SUITE_P(Isas, SgemmTest, ::testing::ValuesIn(test::testedIsas()),
                         [](const ::testing::TestParamInfo<Isa>& info) { return test::isaParamName(info.param); });

}  // namespace
}  // namespace petrel
