// Winograd F(4x4, 3x3) and F(2x2, 3x3) convolutions against a plain direct
// convolution in double: awkward sizes (tiles cut by the edges, images
// smaller than a tile, odd channel counts), pads 0 and 1, batches, bias,
// residual and every activation, each Isa, 1 and 2 threads and every way of
// splitting the tiles into blocks. Also measures the error on ResNet-sized
// layers against the fp64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv_geometry.h"
#include "kernels/sgemm.h"
#include "kernels/winograd.h"
#include "kernels/winograd_f2.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"
#include "support/test_support.h"

namespace petrel {
namespace {

struct WinogradCase {
  int64_t channels = 1, outChannels = 1;
  int64_t inH = 1, inW = 1;
  int64_t pad = 1;  // on every side
  int64_t batch = 1;
  bool bias = true;
  bool residual = false;  // a summand laid out as the output, added before the activation
  ActivationParams activation;
  int threads = 1;
  int64_t tilesPerBlock = 0;  // 0: the planner's choice
  int split = 0;              // planWinograd's split knob
  bool f2 = false;            // F(2x2, 3x3) (WinogradF2Conv) instead of F(4x4, 3x3)
};

Conv2dGeometry geometryOf(const WinogradCase& c) {
  Conv2dGeometry g;
  g.channels = c.channels;
  g.inH = c.inH;
  g.inW = c.inW;
  g.kernelH = g.kernelW = 3;
  g.padTop = g.padLeft = c.pad;
  g.outH = c.inH + 2 * c.pad - 2;
  g.outW = c.inW + 2 * c.pad - 2;
  return g;
}

// Direct convolution in double, before bias and activation; also the sum of
// the terms' magnitudes (the scale of the rounding error) per output.
void directReference(const Conv2dGeometry& g, int64_t batch, int64_t outChannels, const std::vector<float>& in,
                     const std::vector<float>& w, std::vector<double>* out, std::vector<double>* magnitude) {
  out->assign(batch * outChannels * g.outPixels(), 0.0);
  magnitude->assign(out->size(), 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < outChannels; ++o)
      for (int64_t c = 0; c < g.channels; ++c)
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            const double weight = w[((o * g.channels + c) * 3 + kh) * 3 + kw];
            const float* plane = in.data() + (n * g.channels + c) * g.inPixels();
            double* dst = out->data() + (n * outChannels + o) * g.outPixels();
            double* mag = magnitude->data() + (n * outChannels + o) * g.outPixels();
            for (int64_t oh = 0; oh < g.outH; ++oh) {
              const int64_t ih = oh - g.padTop + kh;
              if (ih < 0 || ih >= g.inH) continue;
              for (int64_t ow = 0; ow < g.outW; ++ow) {
                const int64_t iw = ow - g.padLeft + kw;
                if (iw < 0 || iw >= g.inW) continue;
                const double t = weight * plane[ih * g.inW + iw];
                dst[oh * g.outW + ow] += t;
                mag[oh * g.outW + ow] += std::fabs(t);
              }
            }
          }
}

// Runs the Winograd convolution of case c; returns the output.
std::vector<float> runWinograd(const WinogradCase& c, const std::vector<float>& in, const std::vector<float>& w,
                               const std::vector<float>& bias, const std::vector<float>& residual, Isa isa) {
  const Conv2dGeometry g = geometryOf(c);
  const WinogradShape s = winogradShape(g, c.batch, c.outChannels);
  const WinogradWeights weights(w.data(), c.outChannels, c.channels);
  const WinogradBlocking blocking = planWinograd(s, c.threads, c.tilesPerBlock, c.split);
  std::optional<WinogradF2Conv> f2;
  if (c.f2) f2.emplace(g, c.batch, c.outChannels, w.data());
  ThreadPool pool(c.threads);
  const size_t scratchBytes = f2 ? f2->scratchBytes(c.threads) : blocking.scratchBytes();
  // Garbage in the scratch: the kernel must not depend on its contents.
  std::vector<float> scratch(scratchBytes / sizeof(float) + 16, std::nanf(""));
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  std::vector<float> out(c.batch * c.outChannels * g.outPixels() + 1, -123.0f);
  WinogradEpilogue epilogue;
  epilogue.bias = c.bias ? bias.data() : nullptr;
  epilogue.residual = c.residual ? residual.data() : nullptr;
  epilogue.activation = c.activation;
  if (f2)
    f2->run(in.data(), epilogue, out.data(), aligned, scratchBytes, &pool, isa);
  else
    winogradConv2d(s, blocking, in.data(), weights, epilogue, out.data(), aligned, scratchBytes, &pool, isa);
  EXPECT_EQ(out.back(), -123.0f) << "wrote past the output";
  out.pop_back();
  return out;
}

void runCase(const WinogradCase& c, Isa isa) {
  std::ostringstream what;
  what << isaName(isa) << " C=" << c.channels << "->" << c.outChannels << " in=" << c.inH << "x" << c.inW
       << " pad=" << c.pad << " batch=" << c.batch << " bias=" << c.bias << " residual=" << c.residual
       << " act=" << activationName(c.activation.kind) << " threads=" << c.threads
       << " tilesPerBlock=" << c.tilesPerBlock << " split=" << c.split << " f2=" << c.f2;
  SCOPED_TRACE(what.str());
  const Conv2dGeometry g = geometryOf(c);
  const std::vector<float> in = test::randomFloats(c.batch * c.channels * g.inPixels(), 11);
  const std::vector<float> w = test::randomFloats(c.outChannels * c.channels * 9, 12);
  const std::vector<float> bias = test::randomFloats(c.outChannels, 13);
  const std::vector<float> residual = test::randomFloats(c.batch * c.outChannels * g.outPixels(), 14);
  const std::vector<float> out = runWinograd(c, in, w, bias, residual, isa);
  std::vector<double> want, magnitude;
  directReference(g, c.batch, c.outChannels, in, w, &want, &magnitude);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t o = static_cast<int64_t>(i / g.outPixels()) % c.outChannels;
    const double pre = want[i] + (c.bias ? bias[o] : 0.0f) + (c.residual ? residual[i] : 0.0f);
    const double expected = applyActivation(c.activation, static_cast<float>(pre));
    // F(4,3) rounds more than a direct sum: allow 1e-5 of the terms' magnitude.
    ASSERT_NEAR(out[i], expected, 1e-5 * (magnitude[i] + std::fabs(pre)) + 1e-6)
        << "output " << i << " (channel " << o << ", pixel " << i % g.outPixels() << ")";
  }
}

// A case from {channels, outChannels, inH, inW, pad, batch}.
WinogradCase caseOfShape(const int64_t (&shape)[6], int threads) {
  WinogradCase c;
  c.channels = shape[0];
  c.outChannels = shape[1];
  c.inH = shape[2];
  c.inW = shape[3];
  c.pad = shape[4];
  c.batch = shape[5];
  c.threads = threads;
  return c;
}

class WinogradTest : public ::testing::TestWithParam<Isa> {};

TEST_P(WinogradTest, AwkwardShapes) {
  // {channels, outChannels, inH, inW, pad, batch}
  const int64_t shapes[][6] = {
      {1, 1, 1, 1, 1, 1},   {1, 1, 3, 3, 0, 1},   {2, 3, 3, 3, 1, 1},   {3, 5, 5, 7, 1, 1},   {3, 5, 5, 7, 0, 2},
      {4, 4, 4, 4, 1, 1},   {5, 7, 6, 6, 0, 1},   {7, 9, 8, 8, 1, 2},   {9, 13, 9, 11, 1, 1}, {16, 8, 13, 6, 0, 1},
      {13, 17, 17, 15, 1, 2}, {8, 19, 2, 30, 1, 1}, {3, 4, 30, 2, 1, 1}, {17, 6, 7, 7, 1, 3}, {32, 32, 14, 14, 1, 1},
      {11, 33, 23, 21, 0, 1}, {6, 6, 1, 9, 1, 2},
  };
  for (const auto& shape : shapes)
    for (int threads : {1, 2}) {
      WinogradCase c = caseOfShape(shape, threads);
      c.residual = threads == 2;  // partial tiles read only their part of R too
      c.activation = {Activation::kRelu, 0, 0};
      runCase(c, GetParam());
    }
}

TEST_P(WinogradTest, BiasAndEveryActivation) {
  for (const ActivationParams& activation : test::everyActivation())
    for (bool bias : {false, true}) {
      WinogradCase c;
      c.residual = bias;
      c.channels = 5;
      c.outChannels = 11;
      c.inH = 10;
      c.inW = 9;
      c.pad = 1;
      c.batch = 2;
      c.bias = bias;
      c.activation = activation;
      runCase(c, GetParam());
    }
}

// Many small blocks: whole blocks, shared blocks and (split 0) rounds of
// whole blocks and then shared ones, on 1 and 2 threads.
TEST_P(WinogradTest, EveryBlocking) {
  for (int64_t tilesPerBlock : {5, 8, 13, 24, 0})
    for (int split : {0, 1, 2})
      for (int threads : {1, 2}) {
        WinogradCase c = caseOfShape({10, 14, 21, 19, 1, 2}, threads);
        c.tilesPerBlock = tilesPerBlock;
        c.split = split;
        c.activation = {Activation::kClip, -0.5f, 0.5f};
        runCase(c, GetParam());
      }
}

// Blocks of more tiles than the AVX2 transforms take per pass (16 groups of
// 8): a block's tiles are transformed in several passes, the last one short,
// with edge tiles (and their masks) in the later passes.
TEST_P(WinogradTest, BlocksLongerThanOneTransformPass) {
  for (int64_t tilesPerBlock : {200, 0})
    for (int threads : {1, 2}) {
      // 61x58: 16 x 15 tiles, those of the last row and column cut by the edge.
      WinogradCase c = caseOfShape({3, 5, 61, 58, 1, 1}, threads);
      c.tilesPerBlock = tilesPerBlock;
      c.residual = true;
      c.activation = {Activation::kRelu};
      runCase(c, GetParam());
    }
}

// A ResNet-sized layer, and a pool bigger than the plan (fewer threads work).
TEST_P(WinogradTest, ResnetLayerMoreThreadsThanPlanned) {
  WinogradCase c;
  c.channels = 64;
  c.outChannels = 64;
  c.inH = c.inW = 20;
  c.pad = 1;
  c.threads = 2;
  runCase(c, GetParam());
  const Conv2dGeometry g = geometryOf(c);
  const WinogradShape s = winogradShape(g, 1, 64);
  const WinogradBlocking blocking = planWinograd(s, 1);
  const std::vector<float> in = test::randomFloats(64 * g.inPixels(), 1);
  const std::vector<float> w = test::randomFloats(64 * 64 * 9, 2);
  const WinogradWeights weights(w.data(), 64, 64);
  std::vector<float> scratch(blocking.scratchBytes() / sizeof(float) + 16);
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  std::vector<float> one(64 * g.outPixels()), three(64 * g.outPixels());
  winogradConv2d(s, blocking, in.data(), weights, {}, one.data(), aligned, blocking.scratchBytes(), nullptr,
                 GetParam());
  ThreadPool pool(3);
  winogradConv2d(s, blocking, in.data(), weights, {}, three.data(), aligned, blocking.scratchBytes(), &pool,
                 GetParam());
  EXPECT_EQ(one, three);
}

// F(2x2): tiles cut by the edges (odd sides), images smaller than a tile,
// more than one group of 8 tiles, batches, pads 0 and 1, with and without
// bias and residual, several activations, 1 and 2 threads.
TEST_P(WinogradTest, F2x2AwkwardShapes) {
  // {channels, outChannels, inH, inW, pad, batch}
  const int64_t shapes[][6] = {
      {1, 1, 1, 1, 1, 1},  {3, 5, 7, 7, 1, 1},   {4, 6, 5, 6, 0, 2}, {9, 13, 9, 11, 1, 1},
      {6, 6, 2, 9, 1, 2},  {17, 19, 8, 8, 1, 1}, {8, 3, 3, 3, 0, 3}, {20, 7, 13, 4, 1, 1},
  };
  const ActivationParams activations[] = {{Activation::kNone}, {Activation::kRelu}, {Activation::kClip, -0.3f, 0.5f}};
  int variant = 0;
  for (const auto& shape : shapes)
    for (int threads : {1, 2}) {
      WinogradCase c = caseOfShape(shape, threads);
      c.f2 = true;
      c.bias = variant % 2 == 0;
      c.residual = variant % 3 != 1;
      c.activation = activations[variant % 3];
      ++variant;
      runCase(c, GetParam());
    }
}

INSTANTIATE_TEST_SUITE_P(Isas, WinogradTest, ::testing::ValuesIn(test::testedIsas()),
                         [](const auto& info) { return test::isaParamName(info.param); });

// F(2x2) is chosen only where F(4x4) has too few tiles and it has a whole
// panel of them, with many channels.
TEST(WinogradShapeTest, F2x2PaysOnlyOnSmallPlanesWithManyChannels) {
  EXPECT_TRUE(winogradF2Pays(sameSize3x3(512, 7), 1, 512));  // ResNet's last stage: 16 tiles
  EXPECT_TRUE(winogradF2Pays(sameSize3x3(128, 7), 1, 256));
  EXPECT_FALSE(winogradF2Pays(sameSize3x3(64, 7), 1, 64));  // too few channels
  EXPECT_FALSE(winogradF2Pays(sameSize3x3(512, 5), 1, 512));  // 9 tiles
  EXPECT_FALSE(winogradF2Pays(sameSize3x3(256, 14), 1, 256));  // F(4x4) pays
  EXPECT_FALSE(winogradF2Pays(sameSize3x3(512, 7), 2, 512));  // 2 images: F(4x4) has 8 tiles
  Conv2dGeometry strided = sameSize3x3(512, 7);
  strided.strideH = strided.strideW = 2;
  strided.outH = strided.outW = 4;
  EXPECT_FALSE(winogradF2Pays(strided, 1, 512));
}

TEST(WinogradShapeTest, F2x2RefusesMoreTilesThanOneBlock) {
  const std::vector<float> w(4 * 4 * 9, 0.0f);
  EXPECT_THROW(WinogradF2Conv(sameSize3x3(4, 56), 1, 4, w.data()), Error);  // 784 tiles of 2x2
}

TEST(WinogradShapeTest, RefusesOtherConvolutions) {
  Conv2dGeometry g;
  g.channels = 4;
  g.inH = g.inW = 8;
  g.kernelH = g.kernelW = 3;
  g.outH = g.outW = 6;
  EXPECT_TRUE(winogradSupports(g));
  g.strideH = 2;
  EXPECT_FALSE(winogradSupports(g));
  EXPECT_THROW(winogradShape(g, 1, 4), Error);
  g.strideH = 1;
  g.kernelW = 5;
  EXPECT_FALSE(winogradSupports(g));
  g.kernelW = 3;
  g.dilationH = 2;
  EXPECT_FALSE(winogradSupports(g));
}

// The error of whole ResNet 3x3 layers against the fp64 direct convolution
// (relative L2 over the layer's output), printed for the record; bounded well
// below the 1e-4 whole-model budget.
TEST(WinogradAccuracyTest, ResnetLayersAgainstFp64) {
  const int64_t layers[][2] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};  // channels, side
  for (const auto& layer : layers) {
    WinogradCase c;
    c.channels = c.outChannels = layer[0];
    c.inH = c.inW = layer[1];
    c.pad = 1;
    c.bias = false;
    const Conv2dGeometry g = geometryOf(c);
    const std::vector<float> in = test::randomFloats(c.channels * g.inPixels(), 21);
    // Kaiming-like weights, so outputs are of the inputs' scale.
    std::vector<float> w = test::randomFloats(c.outChannels * c.channels * 9, 22);
    const float scale = std::sqrt(6.0f / (9 * c.channels));
    for (float& x : w) x *= scale;
    std::vector<double> want, magnitude;
    directReference(g, 1, c.outChannels, in, w, &want, &magnitude);
    {
      // For scale: the im2col + SGEMM path's error on the same layer.
      const SgemmPackedLhs packed(SgemmMatrix{w.data(), g.depth(), false}, c.outChannels, g.depth());
      const size_t scratchBytes = sgemmScratchBytes(c.outChannels, g.outPixels(), g.depth(), true, false, 1);
      std::vector<float> scratch(scratchBytes / sizeof(float) + 16);
      void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
      std::vector<float> out(c.outChannels * g.outPixels());
      SgemmProblem problem;
      problem.lhs.packed = &packed;
      problem.rhs.im2col = &g;
      problem.rhs.image = in.data();
      problem.c = out.data();
      sgemm(c.outChannels, g.outPixels(), g.depth(), problem, g.outPixels(), SgemmEpilogue{}, aligned, scratchBytes,
            nullptr);
      std::printf("im2col sgemm C=%lld %lldx%lld: relative L2 %.3g\n", static_cast<long long>(c.channels),
                  static_cast<long long>(c.inH), static_cast<long long>(c.inW), test::relativeL2(out, want));
    }
    for (Isa isa : test::testedIsas()) {
      const std::vector<float> out = runWinograd(c, in, w, {}, {}, isa);
      double maxRelative = 0;
      for (size_t i = 0; i < out.size(); ++i)
        maxRelative = std::max(maxRelative, std::fabs(out[i] - want[i]) / magnitude[i]);
      const double relativeL2 = test::relativeL2(out, want);
      std::printf("winograd F(4,3) %s C=%lld %lldx%lld: relative L2 %.3g, max |error| / sum|terms| %.3g\n",
                  isaName(isa), static_cast<long long>(c.channels), static_cast<long long>(c.inH),
                  static_cast<long long>(c.inW), relativeL2, maxRelative);
      EXPECT_LT(relativeL2, 1e-5) << isaName(isa) << " C=" << c.channels;
    }
    if (layer[1] == 7) {
      c.f2 = true;
      const std::vector<float> out = runWinograd(c, in, w, {}, {}, bestIsa());
      const double relativeL2 = test::relativeL2(out, want);
      std::printf("winograd F(2,2) C=%lld 7x7: relative L2 %.3g\n", static_cast<long long>(c.channels), relativeL2);
      EXPECT_LT(relativeL2, 2e-6);
    }
  }
}

}  // namespace
}  // namespace petrel
