// Conv against a plain 7-loop reference, and the kernel-selection table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "ops/op_harness.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::HarnessInput;

struct ConvCase {
  int64_t n = 1, c = 3, h = 9, w = 9, m = 4;
  int64_t kh = 3, kw = 3;
  int64_t group = 1;
  int64_t strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  std::string autoPad;  // "" = attribute absent
  bool bias = true;
  ActivationParams activation;
  int threads = 1;
  bool oneD = false;  // [N, C, W] input (h must be 1, kh 1)
  bool residual = false;  // input 3: R of the output's shape, added before the activation
  MemoryMode memory = MemoryMode::kNormal;
  // A MaxPool the Conv absorbed (attributes pool_*), square: 0 = none.
  int64_t poolKernel = 0, poolStride = 1, poolPadBegin = 0, poolPadEnd = 0;
  bool poolCeil = false;

  std::string describe() const {
    std::ostringstream s;
    s << "N" << n << " C" << c << " " << h << "x" << w << " M" << m << " k" << kh << "x" << kw << " g" << group
      << " s" << strideH << "," << strideW << " d" << dilationH << "," << dilationW << " pads " << padTop << ","
      << padLeft << "," << padBottom << "," << padRight << " auto_pad '" << autoPad << "' bias " << bias << " act "
      << activationName(activation.kind) << " threads " << threads << (oneD ? " 1-D" : "")
      << (residual ? " residual" : "") << " memory " << toString(memory);
    if (poolKernel)
      s << " maxpool k" << poolKernel << " s" << poolStride << " pads " << poolPadBegin << "," << poolPadEnd
        << (poolCeil ? " ceil" : "");
    return s.str();
  }
};

// Resolves auto_pad the ONNX way (for the reference).
void resolvePads(int64_t in, int64_t k, int64_t s, int64_t d, const std::string& autoPad, int64_t* begin,
                 int64_t* end) {
  if (autoPad == "VALID") *begin = *end = 0;
  if (autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER") return;
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
  *begin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
  *end = total - *begin;
}

struct Reference {
  Shape shape;
  std::vector<float> data;
};

Reference referenceConv(ConvCase c, const std::vector<float>& x, const std::vector<float>& w,
                        const std::vector<float>& b, const std::vector<float>* residual = nullptr) {
  resolvePads(c.h, c.kh, c.strideH, c.dilationH, c.autoPad, &c.padTop, &c.padBottom);
  resolvePads(c.w, c.kw, c.strideW, c.dilationW, c.autoPad, &c.padLeft, &c.padRight);
  const int64_t oh = (c.h + c.padTop + c.padBottom - ((c.kh - 1) * c.dilationH + 1)) / c.strideH + 1;
  const int64_t ow = (c.w + c.padLeft + c.padRight - ((c.kw - 1) * c.dilationW + 1)) / c.strideW + 1;
  const int64_t cg = c.c / c.group, mg = c.m / c.group;
  Reference r;
  r.shape = c.oneD ? Shape{c.n, c.m, ow} : Shape{c.n, c.m, oh, ow};
  r.data.resize(c.n * c.m * oh * ow);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t m = 0; m < c.m; ++m)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          const int64_t g = m / mg;
          double sum = c.bias ? b[m] : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t ih = y * c.strideH - c.padTop + i * c.dilationH;
                const int64_t iw = xo * c.strideW - c.padLeft + j * c.dilationW;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                sum += double(x[((n * c.c + g * cg + ci) * c.h + ih) * c.w + iw]) *
                       w[((m * cg + ci) * c.kh + i) * c.kw + j];
              }
          const int64_t o = ((n * c.m + m) * oh + y) * ow + xo;
          if (residual) sum += (*residual)[o];
          r.data[o] = applyActivation(c.activation, static_cast<float>(sum));
        }
  return r;
}

// ONNX MaxPool of a [N, C, H, W] reference with the case's square window:
// padding never wins, a ceil_mode window must start inside the input or the
// leading padding.
Reference referenceMaxPool(const ConvCase& c, const Reference& in) {
  const int64_t n = in.shape[0], ch = in.shape[1], h = in.shape[2], w = in.shape[3];
  auto outSize = [&](int64_t size) {
    const int64_t span = size + c.poolPadBegin + c.poolPadEnd - c.poolKernel;
    int64_t out = (c.poolCeil ? (span + c.poolStride - 1) / c.poolStride : span / c.poolStride) + 1;
    if (c.poolCeil && (out - 1) * c.poolStride >= size + c.poolPadBegin) --out;
    return out;
  };
  const int64_t oh = outSize(h), ow = outSize(w);
  Reference r;
  r.shape = {n, ch, oh, ow};
  for (int64_t p = 0; p < n * ch; ++p)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < c.poolKernel; ++i)
          for (int64_t j = 0; j < c.poolKernel; ++j) {
            const int64_t iy = y * c.poolStride - c.poolPadBegin + i, ix = x * c.poolStride - c.poolPadBegin + j;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) best = std::max(best, in.data[(p * h + iy) * w + ix]);
          }
        r.data.push_back(best);
      }
  return r;
}

Node convNode(const ConvCase& c) {
  std::map<std::string, AttributeValue> attrs;
  if (c.group != 1) attrs["group"] = c.group;
  if (c.oneD) {
    attrs["strides"] = std::vector<int64_t>{c.strideW};
    attrs["dilations"] = std::vector<int64_t>{c.dilationW};
    attrs["kernel_shape"] = std::vector<int64_t>{c.kw};
  } else {
    attrs["strides"] = std::vector<int64_t>{c.strideH, c.strideW};
    attrs["dilations"] = std::vector<int64_t>{c.dilationH, c.dilationW};
    attrs["kernel_shape"] = std::vector<int64_t>{c.kh, c.kw};
  }
  if (!c.autoPad.empty()) {
    attrs["auto_pad"] = c.autoPad;
  } else if (c.oneD) {
    attrs["pads"] = std::vector<int64_t>{c.padLeft, c.padRight};
  } else {
    attrs["pads"] = std::vector<int64_t>{c.padTop, c.padLeft, c.padBottom, c.padRight};
  }
  if (c.activation.kind != Activation::kNone) {
    attrs["activation"] = std::string(activationName(c.activation.kind));
    attrs["activation_alpha"] = c.activation.alpha;
    attrs["activation_beta"] = c.activation.beta;
  }
  if (c.poolKernel) {
    attrs["pool_kernel_shape"] = std::vector<int64_t>{c.poolKernel, c.poolKernel};
    attrs["pool_strides"] = std::vector<int64_t>{c.poolStride, c.poolStride};
    attrs["pool_pads"] = std::vector<int64_t>{c.poolPadBegin, c.poolPadBegin, c.poolPadEnd, c.poolPadEnd};
    attrs["pool_ceil_mode"] = int64_t{c.poolCeil ? 1 : 0};
  }
  return test::makeNode("Conv", attrs);
}

// Runs the case through the Conv planner/executor and checks it; returns the kernel name.
std::string checkConv(const ConvCase& c) {
  SCOPED_TRACE(c.describe());
  const int64_t cg = c.c / c.group;
  const std::vector<float> x = test::randomFloats(c.n * c.c * c.h * c.w, 11);
  const std::vector<float> w = test::randomFloats(c.m * cg * c.kh * c.kw, 12);
  const std::vector<float> b = test::randomFloats(c.m, 13);
  const Shape xShape = c.oneD ? Shape{c.n, c.c, c.w} : Shape{c.n, c.c, c.h, c.w};
  const Shape wShape = c.oneD ? Shape{c.m, cg, c.kw} : Shape{c.m, cg, c.kh, c.kw};
  std::vector<HarnessInput> inputs{HarnessInput::runtime(xShape, x), HarnessInput::constant(wShape, w)};
  if (c.bias) inputs.push_back(HarnessInput::constant({c.m}, b));
  std::vector<float> residual;
  if (c.residual) {
    const Shape outShape = referenceConv(c, x, w, b).shape;
    residual = test::randomFloats(shapeElements(outShape), 14);
    if (!c.bias) inputs.push_back(HarnessInput::absent());
    inputs.push_back(HarnessInput::runtime(outShape, residual));
  }
  SessionConfig config;
  config.threads = c.threads;
  config.memory = c.memory;
  const test::HarnessResult r = test::runOp(convNode(c), inputs, config);
  Reference want = referenceConv(c, x, w, b, c.residual ? &residual : nullptr);
  if (c.poolKernel) want = referenceMaxPool(c, want);
  EXPECT_EQ(r.shapes.at(0), want.shape);
  if (r.outputs.at(0).size() != want.data.size()) {
    ADD_FAILURE() << "output size " << r.outputs[0].size() << " want " << want.data.size();
    return r.kernel;
  }
  EXPECT_LE(test::relativeL2(r.outputs[0], want.data), 1e-5) << "kernel " << r.kernel;
  return r.kernel;
}

// One layer for each convolution executor, with the kernel it selects.
struct NamedCase {
  ConvCase c;
  std::string kernel;
};
std::vector<NamedCase> oneLayerPerExecutor() {
  std::vector<NamedCase> cases;
  ConvCase pointwise;
  pointwise.c = 8, pointwise.m = 12, pointwise.kh = pointwise.kw = 1;
  cases.push_back({pointwise, "conv.pointwise.sgemm[fp32]"});
  ConvCase general;
  general.c = 5, general.m = 7, general.padTop = general.padLeft = general.padBottom = general.padRight = 1;
  cases.push_back({general, "conv.im2col.sgemm[fp32]"});
  ConvCase grouped = general;
  grouped.c = 6, grouped.m = 9, grouped.group = 3;
  cases.push_back({grouped, "conv.grouped.im2col.sgemm[fp32]"});
  ConvCase depthwise = general;
  depthwise.c = depthwise.m = depthwise.group = 11;
  cases.push_back({depthwise, "conv.depthwise[fp32]"});
  ConvCase winograd = general;
  winograd.c = 32, winograd.m = 33, winograd.h = 13, winograd.w = 11, winograd.memory = MemoryMode::kHigh;
  cases.push_back({winograd, "conv.winograd.f4x4[fp32]"});
  ConvCase small = winograd;
  small.c = small.m = 128, small.h = small.w = 7;
  cases.push_back({small, "conv.winograd.f2x2[fp32]"});
  ConvCase stored = general;
  stored.memory = MemoryMode::kLow;
  cases.push_back({stored, "conv.im2col.sgemm.stored[fp32]"});
  return cases;
}

// The residual summand (input 3, from the fuseResidualAdds pass) in every
// executor: added before the activation. Depthwise adds it in a second pass;
// the Winograd kernels add it as they store each tile.
TEST(Conv, ResidualInputInEveryExecutor) {
  for (NamedCase& named : oneLayerPerExecutor())
    for (int threads : {1, 2})
      for (bool bias : {true, false}) {
        named.c.residual = true;
        named.c.threads = threads;
        named.c.bias = bias;
        named.c.activation = {Activation::kRelu};
        const bool secondPass = named.kernel == "conv.depthwise[fp32]";
        EXPECT_EQ(checkConv(named.c), named.kernel + (secondPass ? "+residual" : ""));
      }
}

// A MaxPool the Conv absorbed (fuseConvMaxPool). The direct kernel of a first
// layer (few channels, stride 2) pools its rows as it makes them: layers of
// 64 channels and 56 or 57 outputs a side take several buffers per thread
// (rows carried from one to the next) and both threads; every other executor
// pools the whole output after it.
TEST(Conv, AbsorbedMaxPoolInEveryExecutor) {
  struct Pool {
    int64_t kernel, stride, padBegin, padEnd;
    bool ceil;
  };
  const Pool pools[] = {{3, 2, 0, 0, true}, {3, 2, 1, 1, false}, {2, 2, 0, 0, false}, {3, 1, 1, 1, false},
                        {5, 3, 2, 0, true}};
  ConvCase stem;
  stem.c = 3, stem.m = 64, stem.h = 113, stem.w = 115, stem.strideH = stem.strideW = 2;
  ConvCase padded = stem;
  padded.m = 20, padded.h = padded.w = 41, padded.kh = padded.kw = 7;
  padded.padTop = padded.padLeft = padded.padBottom = padded.padRight = 3;
  for (const ConvCase& layer : {stem, padded})
    for (const Pool& p : pools)
      for (int threads : {1, 2}) {
        ConvCase c = layer;
        c.poolKernel = p.kernel, c.poolStride = p.stride, c.poolPadBegin = p.padBegin, c.poolPadEnd = p.padEnd;
        c.poolCeil = p.ceil;
        c.threads = threads;
        c.n = threads;  // a batch of two images too
        c.bias = threads == 1;
        c.activation = {Activation::kRelu};
        EXPECT_EQ(checkConv(c), "conv.im2col.sgemm[fp32]+maxpool.fused");
      }

  std::vector<NamedCase> cases = oneLayerPerExecutor();
  for (NamedCase& named : cases) named.kernel += "+maxpool";
  ConvCase narrow = stem;
  narrow.h = narrow.w = 29;  // 14 outputs a row: too few for the direct kernel
  cases.push_back({narrow, "conv.im2col.sgemm[fp32]+maxpool"});
  ConvCase stored = stem;
  stored.memory = MemoryMode::kLow;
  cases.push_back({stored, "conv.im2col.sgemm.stored[fp32]+maxpool"});
  for (NamedCase& named : cases)
    for (int threads : {1, 2}) {
      named.c.poolKernel = 3, named.c.poolStride = 2, named.c.poolCeil = true;
      named.c.threads = threads;
      named.c.activation = {Activation::kRelu};
      EXPECT_EQ(checkConv(named.c), named.kernel);
    }
}

TEST(Conv, DenseKernelsStridesPadsDilations) {
  int variant = 0;
  for (int64_t k : {1, 3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t d : {1, 2}) {
        ConvCase c;
        c.n = 1 + variant % 2;
        c.c = 3 + 2 * (variant % 3);  // odd channels
        c.m = 5 + variant % 4;
        c.h = 11 + variant % 5;
        c.w = 13 + variant % 3;
        c.kh = c.kw = k;
        c.strideH = c.strideW = s;
        c.dilationH = c.dilationW = d;
        c.padTop = k / 2;
        c.padLeft = (k / 2 + variant) % 3;  // asymmetric
        c.padBottom = variant % 2;
        c.padRight = k / 2;
        c.threads = 1 + variant % 2;
        c.bias = variant % 3 != 2;
        ++variant;
        checkConv(c);
      }
}

TEST(Conv, NonSquareKernelsAndStrides) {
  ConvCase c;
  c.c = 5, c.m = 7, c.h = 12, c.w = 17, c.kh = 3, c.kw = 5, c.strideH = 2, c.strideW = 1;
  c.dilationH = 1, c.dilationW = 2, c.padTop = 1, c.padBottom = 0, c.padLeft = 3, c.padRight = 2;
  checkConv(c);
  c.kh = 1, c.kw = 7, c.strideH = 1, c.strideW = 3, c.padTop = 0, c.padLeft = 3, c.padRight = 3;
  checkConv(c);
}

TEST(Conv, PointwiseUsesGemmOnInput) {
  for (int threads : {1, 2}) {
    ConvCase c;
    c.n = 2, c.c = 37, c.m = 70, c.h = 9, c.w = 11, c.kh = c.kw = 1, c.threads = threads;
    EXPECT_EQ(checkConv(c), "conv.pointwise.sgemm[fp32]");
    c.strideH = c.strideW = 2;  // strided 1x1 (ResNet downsample) goes through im2col
    EXPECT_EQ(checkConv(c), "conv.im2col.sgemm[fp32]");
    c.strideH = c.strideW = 1;
    c.padTop = 1;
    EXPECT_EQ(checkConv(c), "conv.im2col.sgemm[fp32]");
  }
}

TEST(Conv, Groups) {
  int variant = 0;
  for (int64_t group : {2, 4, 32})
    for (int64_t k : {1, 3})
      for (int threads : {1, 2}) {
        ConvCase c;
        c.group = group;
        c.c = group * (1 + variant % 3);
        c.m = group * (1 + (variant + 1) % 3);
        c.h = 10, c.w = 9;
        c.kh = c.kw = k;
        c.strideH = c.strideW = 1 + variant % 2;
        c.padTop = c.padLeft = k / 2;
        c.padBottom = c.padRight = (k / 2 + variant) % 2;
        c.n = 1 + variant % 2;
        c.threads = threads;
        ++variant;
        if (c.c == group && c.m == group) c.m = 2 * group;  // that would be depthwise
        EXPECT_EQ(checkConv(c), "conv.grouped.im2col.sgemm[fp32]");
      }
}

TEST(Conv, Depthwise) {
  int variant = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t d : {1, 2})
        for (int threads : {1, 2}) {
          ConvCase c;
          c.c = c.m = c.group = 3 + variant % 6;
          c.n = 1 + variant % 2;
          c.h = 14 + variant % 5;
          c.w = 19 + variant % 23;
          c.kh = c.kw = k;
          c.strideH = c.strideW = s;
          c.dilationH = c.dilationW = d;
          c.padTop = c.padLeft = (k / 2) * d;
          c.padBottom = variant % 2 ? 0 : (k / 2) * d;
          c.padRight = (k / 2) * d + variant % 2;
          c.threads = threads;
          c.bias = variant % 4 != 0;
          c.activation = variant % 3 ? ActivationParams{Activation::kClip, 0.0f, 6.0f} : ActivationParams{};
          ++variant;
          EXPECT_EQ(checkConv(c), "conv.depthwise[fp32]");
        }
  // Channel multiplier 2 (group == C, M == 2C) is a grouped convolution.
  ConvCase c;
  c.c = c.group = 6, c.m = 12;
  EXPECT_EQ(checkConv(c), "conv.grouped.im2col.sgemm[fp32]");
}

TEST(Conv, AutoPad) {
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"})
    for (int64_t k : {2, 3, 4})
      for (int64_t s : {1, 2}) {
        ConvCase c;
        c.c = 3, c.m = 5, c.h = 10, c.w = 11, c.kh = c.kw = k, c.strideH = c.strideW = s;
        c.autoPad = mode;
        checkConv(c);
        c.c = c.m = c.group = 4;  // depthwise too
        checkConv(c);
      }
}

TEST(Conv, EveryFusedActivation) {
  const ActivationParams acts[] = {{Activation::kRelu},        {Activation::kClip, 0.0f, 6.0f},
                                   {Activation::kSigmoid},     {Activation::kHardSigmoid, 0.2f, 0.5f},
                                   {Activation::kHardSwish},   {Activation::kSilu},
                                   {Activation::kTanh},        {Activation::kGelu}};
  for (const ActivationParams& act : acts) {
    ConvCase c;
    c.c = 8, c.m = 19, c.h = c.w = 10, c.padTop = c.padLeft = c.padBottom = c.padRight = 1;
    c.activation = act;
    checkConv(c);
    c.c = c.m = c.group = 8;
    checkConv(c);
  }
}

TEST(Conv, OneDimensional) {
  for (int64_t k : {1, 3, 4}) {
    ConvCase c;
    c.oneD = true;
    c.h = 1, c.kh = 1, c.w = 31, c.kw = k, c.c = 5, c.m = 6, c.strideW = 2, c.padLeft = 1, c.padRight = 2;
    checkConv(c);
    c.c = c.m = c.group = 5;
    checkConv(c);
  }
}

TEST(Conv, LargerLayers) {
  // ResNet-like shapes with enough work for several tiles and K blocks.
  ConvCase c;
  c.c = 64, c.m = 64, c.h = c.w = 28, c.padTop = c.padLeft = c.padBottom = c.padRight = 1, c.threads = 2;
  c.activation = {Activation::kRelu};
  EXPECT_EQ(checkConv(c), "conv.im2col.sgemm[fp32]");
  c = ConvCase{};
  c.c = 3, c.m = 16, c.h = c.w = 56, c.kh = c.kw = 7, c.strideH = c.strideW = 2;
  c.padTop = c.padLeft = c.padBottom = c.padRight = 3, c.threads = 2;
  checkConv(c);
  // A first layer of 3 channels (the direct kernel on AVX2): two images, a fused activation.
  c = ConvCase{};
  c.n = 2, c.c = 3, c.m = 20, c.h = 40, c.w = 37, c.kh = c.kw = 3, c.strideH = c.strideW = 2;
  c.padTop = c.padLeft = c.padBottom = c.padRight = 1, c.threads = 2;
  c.activation = {Activation::kClip, 0.0f, 6.0f};
  EXPECT_EQ(checkConv(c), "conv.im2col.sgemm[fp32]");
  c.threads = 1, c.strideH = c.strideW = 1, c.n = 1;
  checkConv(c);
  c = ConvCase{};
  c.c = 256, c.m = 130, c.h = c.w = 7, c.kh = c.kw = 1, c.threads = 2;
  EXPECT_EQ(checkConv(c), "conv.pointwise.sgemm[fp32]");
}

TEST(Conv, WithoutBiasInputAndWithAbsentBias) {
  ConvCase c;
  c.bias = false;
  checkConv(c);
  // An explicitly absent third input.
  const std::vector<float> x = test::randomFloats(1 * 3 * 9 * 9, 1), w = test::randomFloats(4 * 3 * 3 * 3, 2);
  const test::HarnessResult r =
      test::runOp(convNode(c), {HarnessInput::runtime({1, 3, 9, 9}, x), HarnessInput::constant({4, 3, 3, 3}, w),
                                HarnessInput::absent()});
  EXPECT_LE(test::relativeL2(r.outputs[0], referenceConv(c, x, w, {}).data), 1e-5);
}

TEST(Conv, Errors) {
  const std::vector<float> x(1 * 4 * 8 * 8), w(6 * 4 * 3 * 3);
  // Run-time weights.
  EXPECT_THROW(test::runOp(test::makeNode("Conv"), {HarnessInput::runtime({1, 4, 8, 8}, x),
                                                    HarnessInput::runtime({6, 4, 3, 3}, w)}),
               Error);
  // Channel mismatch.
  EXPECT_THROW(test::runOp(test::makeNode("Conv"), {HarnessInput::runtime({1, 4, 8, 8}, x),
                                                    HarnessInput::constant({6, 3, 3, 3}, std::vector<float>(162))}),
               Error);
  // Group that does not divide the output channels.
  EXPECT_THROW(test::runOp(test::makeNode("Conv", {{"group", int64_t{4}}}),
                           {HarnessInput::runtime({1, 4, 8, 8}, x),
                            HarnessInput::constant({6, 1, 3, 3}, std::vector<float>(54))}),
               Error);
  // Kernel larger than the padded input.
  EXPECT_THROW(test::runOp(test::makeNode("Conv"), {HarnessInput::runtime({1, 4, 2, 2}, std::vector<float>(16)),
                                                    HarnessInput::constant({6, 4, 3, 3}, w)}),
               Error);
  // Unknown activation.
  EXPECT_THROW(test::runOp(test::makeNode("Conv", {{"activation", std::string("swishy")}}),
                           {HarnessInput::runtime({1, 4, 8, 8}, x), HarnessInput::constant({6, 4, 3, 3}, w)}),
               Error);
  // A residual input and an absorbed MaxPool together.
  EXPECT_THROW(test::runOp(test::makeNode("Conv", {{"pool_kernel_shape", std::vector<int64_t>{2, 2}}}),
                           {HarnessInput::runtime({1, 4, 8, 8}, x), HarnessInput::constant({6, 4, 3, 3}, w),
                            HarnessInput::absent(), HarnessInput::runtime({1, 6, 6, 6}, std::vector<float>(216))}),
               Error);
  // An absorbed MaxPool larger than the output.
  EXPECT_THROW(test::runOp(test::makeNode("Conv", {{"pool_kernel_shape", std::vector<int64_t>{7, 7}}}),
                           {HarnessInput::runtime({1, 4, 8, 8}, x), HarnessInput::constant({6, 4, 3, 3}, w)}),
               Error);
  // 3-D convolution.
  EXPECT_THROW(test::runOp(test::makeNode("Conv"), {HarnessInput::runtime({1, 1, 4, 4, 4}, std::vector<float>(64)),
                                                    HarnessInput::constant({1, 1, 1, 1, 1}, {1.0f})}),
               Error);
}

}  // namespace
}  // namespace petrel
