// The direct few-channel convolution (kernels/conv_direct.h) against a plain
// convolution loop in double precision.
#include "kernels/conv_direct.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/sgemm.h"
#include "runtime/thread_pool.h"
#include "support/test_support.h"

namespace petrel {
namespace {

struct DirectCase {
  Conv2dGeometry g;
  int64_t m = 8;
  bool bias = true;
  ActivationParams activation;
  int threads = 1;
};

void runCase(const DirectCase& c) {
  const Conv2dGeometry& g = c.g;
  std::ostringstream what;
  what << "C=" << g.channels << " M=" << c.m << " in=" << g.inH << "x" << g.inW << " out=" << g.outH << "x" << g.outW
       << " k=" << g.kernelH << "x" << g.kernelW << " s=" << g.strideW << " pad=" << g.padTop << "," << g.padLeft
       << " act=" << activationName(c.activation.kind) << " threads=" << c.threads;
  SCOPED_TRACE(what.str());
  ASSERT_TRUE(convDirectApplies(g, Isa::kAvx2));
  const int64_t k = g.depth();
  const std::vector<float> image = test::randomFloats(g.channels * g.inPixels(), 1);
  const std::vector<float> w = test::randomFloats(c.m * k, 2);
  const std::vector<float> bias = test::randomFloats(c.m, 3);
  const SgemmPackedLhs packed(SgemmMatrix{w.data(), k, false}, c.m, k);
  std::vector<float> out(c.m * g.outPixels() + 1, -123.0f);
  ThreadPool pool(c.threads);
  const size_t scratchBytes = convDirectScratchBytes(g, c.m, c.threads);
  std::vector<float> scratch(scratchBytes / sizeof(float) + 16, 99.0f);  // garbage: every float read is written first
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  convDirect(g, packed, image.data(), c.bias ? bias.data() : nullptr, c.activation, out.data(), aligned, scratchBytes,
             &pool);
  ASSERT_EQ(out.back(), -123.0f) << "wrote past the output";
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t oh = 0; oh < g.outH; ++oh)
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        double sum = c.bias ? bias[i] : 0.0, magnitude = std::fabs(sum);
        for (int64_t ch = 0; ch < g.channels; ++ch)
          for (int64_t kh = 0; kh < g.kernelH; ++kh)
            for (int64_t kw = 0; kw < g.kernelW; ++kw) {
              const int64_t ih = oh * g.strideH - g.padTop + kh, iw = ow * g.strideW - g.padLeft + kw;
              if (ih < 0 || ih >= g.inH || iw < 0 || iw >= g.inW) continue;
              const double t = double(image[(ch * g.inH + ih) * g.inW + iw]) *
                               w[i * k + (ch * g.kernelH + kh) * g.kernelW + kw];
              sum += t;
              magnitude += std::fabs(t);
            }
        const double want = applyActivation(c.activation, static_cast<float>(sum));
        ASSERT_NEAR(out[i * g.outPixels() + oh * g.outW + ow], want, 4e-6 * magnitude + 2e-6 * std::fabs(want) + 1e-7)
            << "channel " << i << " at " << oh << "," << ow;
      }
}

int64_t outSize(int64_t in, int64_t k, int64_t s, int64_t padBegin, int64_t padEnd) {
  return (in + padBegin + padEnd - k) / s + 1;
}

class ConvDirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isaSupported(Isa::kAvx2)) GTEST_SKIP() << "the direct convolution is AVX2 only";
  }
};

TEST_F(ConvDirectTest, KernelsStridesPadsAndWidths) {
  int variant = 0;
  for (int64_t kernel : {3, 5, 7})
    for (int64_t stride : {1, 2})
      for (int64_t width : {31, 40, 57}) {  // whole strips of 16 and a last partial one
        DirectCase c;
        Conv2dGeometry& g = c.g;
        g.channels = 1 + variant % 4;
        g.inH = 9 + variant % 5;
        g.inW = width;
        g.kernelH = g.kernelW = kernel;
        g.strideH = g.strideW = stride;
        g.padTop = kernel / 2;
        g.padLeft = variant % 3 == 0 ? 0 : kernel / 2 + variant % 2;
        const int64_t padBottom = variant % 2, padRight = kernel / 2;
        g.outH = outSize(g.inH, kernel, stride, g.padTop, padBottom);
        g.outW = outSize(g.inW, kernel, stride, g.padLeft, padRight);
        c.m = 1 + 7 * (variant % 4);  // 1, 8, 15, 22: last row panels of 1 to 4 rows
        c.bias = variant % 3 != 1;
        c.threads = 1 + variant % 2;
        ++variant;
        if (g.outW < kSgemmNR) continue;
        runCase(c);
        if (HasFatalFailure()) return;
      }
}

TEST_F(ConvDirectTest, NetworkStemsWithActivations) {
  // MobileNet (32, 3x3, pad 1), SqueezeNet (64, 3x3, pad 0), ResNet (64, 7x7, pad 3) on a smaller image.
  const int64_t stems[][3] = {{32, 3, 1}, {64, 3, 0}, {64, 7, 3}};
  int variant = 0;
  for (const auto& s : stems)
    for (const ActivationParams& act : {ActivationParams{Activation::kRelu, 0, 0},
                                        ActivationParams{Activation::kClip, 0.0f, 6.0f},
                                        ActivationParams{Activation::kHardSwish, 0, 0}}) {
      DirectCase c;
      Conv2dGeometry& g = c.g;
      g.channels = 3;
      g.inH = g.inW = 45;
      g.kernelH = g.kernelW = s[1];
      g.strideH = g.strideW = 2;
      g.padTop = g.padLeft = s[2];
      g.outH = g.outW = outSize(45, s[1], 2, s[2], s[2]);
      c.m = s[0];
      c.activation = act;
      c.threads = 1 + variant++ % 2;
      runCase(c);
      if (HasFatalFailure()) return;
    }
}

TEST_F(ConvDirectTest, ImagesTallerThanAWindow) {
  // The padded copy is made a window of rows at a time: 2.5 windows of
  // output rows cross two window boundaries and end in a partial window (in
  // both threads' bands at 2 threads).
  int variant = 0;
  for (int64_t kernel : {3, 7})
    for (int64_t stride : {1, 2}) {
      DirectCase c;
      Conv2dGeometry& g = c.g;
      g.channels = 3;
      g.inW = 150;
      g.kernelH = g.kernelW = kernel;
      g.strideH = g.strideW = stride;
      g.padTop = g.padLeft = kernel / 2;
      g.outW = outSize(g.inW, kernel, stride, g.padLeft, kernel / 2);
      c.m = 10;
      c.threads = 1 + variant++ % 2;
      g.outH = 1000;
      const int64_t chunkRows = convDirectLayout(g, c.m).chunkRows;  // the most that fit the width: below 1000
      g.outH = c.threads * (2 * chunkRows + chunkRows / 2);
      g.inH = (g.outH - 1) * stride + kernel - 2 * (kernel / 2);
      ASSERT_EQ(convDirectLayout(g, c.m).chunkRows, chunkRows);
      ASSERT_GT(chunkRows, 1);
      runCase(c);
      if (HasFatalFailure()) return;
    }
}

TEST_F(ConvDirectTest, ServesOnlyWhatItIsBuiltFor) {
  Conv2dGeometry g;
  g.channels = 3, g.inH = g.inW = 32, g.kernelH = g.kernelW = 3, g.strideH = g.strideW = 2, g.padTop = g.padLeft = 1;
  g.outH = g.outW = 16;
  EXPECT_TRUE(convDirectApplies(g, Isa::kAvx2));
  EXPECT_FALSE(convDirectApplies(g, Isa::kScalar));
  Conv2dGeometry wide = g;
  wide.channels = 5;
  EXPECT_FALSE(convDirectApplies(wide, Isa::kAvx2));
  Conv2dGeometry narrow = g;
  narrow.outW = 15;
  EXPECT_FALSE(convDirectApplies(narrow, Isa::kAvx2));
  Conv2dGeometry dilated = g;
  dilated.dilationW = 2;
  EXPECT_FALSE(convDirectApplies(dilated, Isa::kAvx2));
  Conv2dGeometry stride3 = g;
  stride3.strideH = stride3.strideW = 3;
  EXPECT_FALSE(convDirectApplies(stride3, Isa::kAvx2));
}

}  // namespace
}  // namespace petrel
