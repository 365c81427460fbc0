#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/aligned_buffer.h"
#include "kernels/depthwise.h"
#include "runtime/thread_pool.h"
#include "support/test_support.h"

namespace petrel {
namespace {

struct DepthwiseCase {
  Conv2dGeometry g;
  int64_t batch = 1;
  bool bias = true;
  ActivationParams activation;
  int threads = 1;
};

void runCase(const DepthwiseCase& c, Isa isa) {
  const Conv2dGeometry& g = c.g;
  std::ostringstream what;
  what << isaName(isa) << " C=" << g.channels << " in=" << g.inH << "x" << g.inW << " out=" << g.outH << "x"
       << g.outW << " k=" << g.kernelH << "x" << g.kernelW << " s=" << g.strideH << "," << g.strideW
       << " d=" << g.dilationH << "," << g.dilationW << " pad=" << g.padTop << "," << g.padLeft
       << " act=" << activationName(c.activation.kind) << " threads=" << c.threads;
  SCOPED_TRACE(what.str());
  const int64_t planes = c.batch * g.channels;
  const std::vector<float> in = test::randomFloats(planes * g.inPixels(), 1);
  const std::vector<float> w = test::randomFloats(g.channels * g.kernelH * g.kernelW, 2);
  const std::vector<float> bias = test::randomFloats(g.channels, 3);
  std::vector<float> out(planes * g.outPixels() + 1, -123.0f);
  ThreadPool pool(c.threads);
  const size_t scratchBytes = depthwiseScratchBytes(g, c.threads, isa);
  AlignedFloats scratch(scratchBytes / sizeof(float) + 1);  // 64-byte aligned, as depthwiseConv2d asks
  std::fill(scratch.data(), scratch.data() + scratch.size(), 99.0f);  // garbage: the kernel must clear it
  depthwiseConv2d(g, c.batch, in.data(), w.data(), c.bias ? bias.data() : nullptr, c.activation, out.data(),
                  scratch.data(), scratchBytes, &pool, isa);
  ASSERT_EQ(out.back(), -123.0f) << "wrote past the output";
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t ch = p % g.channels;
    for (int64_t oh = 0; oh < g.outH; ++oh)
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        double sum = c.bias ? bias[ch] : 0.0, magnitude = std::fabs(sum);
        for (int64_t kh = 0; kh < g.kernelH; ++kh)
          for (int64_t kw = 0; kw < g.kernelW; ++kw) {
            const int64_t ih = oh * g.strideH - g.padTop + kh * g.dilationH;
            const int64_t iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
            if (ih < 0 || ih >= g.inH || iw < 0 || iw >= g.inW) continue;
            const double t = double(in[(p * g.inH + ih) * g.inW + iw]) * w[(ch * g.kernelH + kh) * g.kernelW + kw];
            sum += t;
            magnitude += std::fabs(t);
          }
        const double want = applyActivation(c.activation, static_cast<float>(sum));
        ASSERT_NEAR(out[(p * g.outH + oh) * g.outW + ow], want, 4e-6 * magnitude + 2e-6 * std::fabs(want) + 1e-7)
            << "plane " << p << " at " << oh << "," << ow;
      }
  }
}

int64_t outSize(int64_t in, int64_t k, int64_t s, int64_t d, int64_t padBegin, int64_t padEnd) {
  return (in + padBegin + padEnd - ((k - 1) * d + 1)) / s + 1;
}

class DepthwiseTest : public ::testing::TestWithParam<Isa> {};

TEST_P(DepthwiseTest, KernelsStridesDilationsPads) {
  int variant = 0;
  for (int64_t k : {1, 3, 5, 7})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2})
        for (int64_t width : {1, 7, 8, 9, 17, 40, 57}) {
          DepthwiseCase c;
          Conv2dGeometry& g = c.g;
          g.channels = 3;
          g.inH = 3 + variant % 9;
          g.inW = width;
          g.kernelH = k;
          g.kernelW = variant % 5 == 0 ? std::max<int64_t>(1, k - 2) : k;
          g.strideH = s;
          g.strideW = s;
          g.dilationH = d;
          g.dilationW = d;
          const int64_t pad = (k / 2) * d;
          g.padTop = pad;
          g.padLeft = variant % 3 == 0 ? 0 : pad;
          const int64_t padBottom = variant % 4 == 0 ? 0 : pad, padRight = variant % 2 ? pad + 1 : pad;
          g.outH = outSize(g.inH, g.kernelH, s, d, g.padTop, padBottom);
          g.outW = outSize(g.inW, g.kernelW, s, d, g.padLeft, padRight);
          c.batch = 1 + variant % 2;
          c.bias = variant % 3 != 1;
          c.threads = 1 + variant % 2;
          ++variant;
          if (g.outH <= 0 || g.outW <= 0) continue;
          runCase(c, GetParam());
          if (HasFatalFailure()) return;
        }
}

TEST_P(DepthwiseTest, MobileNetShapesWithActivations) {
  const int64_t shapes[][4] = {{32, 112, 3, 1}, {96, 112, 3, 2}, {144, 56, 3, 1}, {40, 28, 5, 1}, {72, 56, 5, 2}};
  int variant = 0;
  for (const auto& s : shapes) {
    for (const ActivationParams& act : test::everyActivation()) {
      DepthwiseCase c;
      Conv2dGeometry& g = c.g;
      g.channels = s[0] / 4;  // fewer channels keep the reference fast
      g.inH = g.inW = s[1];
      g.kernelH = g.kernelW = s[2];
      g.strideH = g.strideW = s[3];
      g.padTop = g.padLeft = s[2] / 2;
      g.outH = g.outW = outSize(s[1], s[2], s[3], 1, s[2] / 2, s[2] / 2);
      c.activation = act;
      c.threads = 1 + variant++ % 2;
      runCase(c, GetParam());
      if (HasFatalFailure()) return;
    }
  }
}

// The per-plane path computes tall planes a band of output rows at a time
// (depthwisePaddedPlane(g).bandRows): planes of two or more bands, the last
// one whole or cut anywhere in the kernel's blocks of 4 (or 2) rows, with or
// without padding above and below, and rows wide enough for bands of 4.
TEST_P(DepthwiseTest, BandsOfRowsOnTallPlanes) {
  const std::vector<ActivationParams> activations = test::everyActivation();
  int variant = 0, tested = 0;
  for (int64_t width : {29, 57, 300, 1500})
    for (int64_t k : {3, 5})
      for (int64_t s : {1, 2})
        for (int64_t lastBand : {0, 1, 2, 3, 5}) {
          DepthwiseCase c;
          Conv2dGeometry& g = c.g;
          g.channels = 2;
          g.inW = width;
          g.kernelH = g.kernelW = k;
          g.strideH = g.strideW = s;
          g.padTop = variant % 3 == 0 ? 0 : k / 2;
          g.padLeft = variant % 2 ? 0 : k / 2;
          const int64_t padBottom = variant % 4 == 1 ? 0 : k / 2, padRight = k / 2;
          g.outW = outSize(g.inW, k, s, 1, g.padLeft, padRight);
          g.inH = g.outH = 4096;  // a band's height depends on the row's width only, up to the plane's height
          const int64_t bandRows = depthwisePaddedPlane(g).bandRows;
          const int64_t wholeBands = lastBand == 0 ? 2 : 1 + variant % 2;
          g.outH = wholeBands * bandRows + lastBand;
          g.inH = (g.outH - 1) * s + k - g.padTop - padBottom;
          ASSERT_EQ(outSize(g.inH, k, s, 1, g.padTop, padBottom), g.outH);
          c.activation = activations[variant % activations.size()];
          c.threads = 1 + variant / 3 % 2;
          c.batch = 1 + variant / 5 % 2;
          ++variant;
          if (width * g.inH > 60000) continue;  // keeps the reference fast
          if (GetParam() == Isa::kAvx2) {
            ASSERT_LT(depthwisePaddedPlane(g).bandRows, g.outH);
            ASSERT_FALSE(depthwiseUsesChannelBlocks(g, GetParam()));
          }
          runCase(c, GetParam());
          if (HasFatalFailure()) return;
          ++tested;
        }
  EXPECT_GT(tested, 50);
}

// Planes of input rows up to 28 take the 8-channel path on AVX2: channel
// counts that leave a partial block of 8, rows that leave a partial block
// of 8 outputs, one-pixel planes, both strides and filters, uneven padding.
TEST_P(DepthwiseTest, EightChannelBlocksOnSmallPlanes) {
  const std::vector<ActivationParams> activations = test::everyActivation();
  int variant = 0;
  for (int64_t channels : {5, 8, 13, 24})
    for (int64_t width : {1, 2, 7, 9, 14, 28})
      for (int64_t k : {3, 5})
        for (int64_t s : {1, 2}) {
          DepthwiseCase c;
          Conv2dGeometry& g = c.g;
          g.channels = channels;
          g.inW = width;
          g.inH = variant % 3 == 0 ? width : 1 + variant % 6;
          g.kernelH = g.kernelW = k;
          g.strideH = g.strideW = s;
          g.padTop = k / 2;
          g.padLeft = variant % 4 == 0 ? 0 : k / 2;
          const int64_t padBottom = variant % 5 == 0 ? 0 : k / 2, padRight = variant % 2 ? k / 2 + 1 : k / 2;
          g.outH = outSize(g.inH, k, s, 1, g.padTop, padBottom);
          g.outW = outSize(g.inW, k, s, 1, g.padLeft, padRight);
          c.batch = 1 + variant % 2;
          c.bias = variant % 3 != 2;
          c.activation = activations[variant % activations.size()];
          c.threads = 1 + variant / 2 % 2;
          ++variant;
          if (g.outH <= 0 || g.outW <= 0) continue;
          if (GetParam() == Isa::kAvx2) {
            ASSERT_TRUE(depthwiseUsesChannelBlocks(g, GetParam()));
          }
          runCase(c, GetParam());
          if (HasFatalFailure()) return;
        }
  Conv2dGeometry wide;
  wide.channels = 8;
  wide.inH = wide.outH = 4;
  wide.inW = wide.outW = 29;
  wide.kernelH = wide.kernelW = 3;
  wide.padTop = wide.padLeft = 1;
  EXPECT_FALSE(depthwiseUsesChannelBlocks(wide, GetParam())) << "rows wider than 28 keep the per-plane path";
}

INSTANTIATE_TEST_SUITE_P(Isas, DepthwiseTest, ::testing::ValuesIn(test::testedIsas()),
                         [](const ::testing::TestParamInfo<Isa>& info) { return test::isaParamName(info.param); });

}  // namespace
}  // namespace petrel
