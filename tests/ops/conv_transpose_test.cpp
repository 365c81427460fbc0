// ConvTranspose against a plain scatter reference.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "ops/op_harness.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::HarnessInput;

struct ConvTCase {
  int64_t n = 1, c = 3, h = 5, w = 6, mg = 2;  // mg: output channels per group
  int64_t kh = 3, kw = 3, group = 1;
  int64_t strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  int64_t outPadH = 0, outPadW = 0;
  std::vector<int64_t> outputShape;  // attribute, if set
  std::string autoPad;
  bool bias = true;
  ActivationParams activation;
  int threads = 1;

  std::string describe() const {
    std::ostringstream s;
    s << "N" << n << " C" << c << " " << h << "x" << w << " Mg" << mg << " k" << kh << "x" << kw << " g" << group
      << " s" << strideH << "," << strideW << " d" << dilationH << "," << dilationW << " pads " << padTop << ","
      << padLeft << "," << padBottom << "," << padRight << " outpad " << outPadH << "," << outPadW << " auto_pad '"
      << autoPad << "' threads " << threads;
    return s.str();
  }
};

// Output size and leading pad on one axis, per the ONNX ConvTranspose rules.
void axis(int64_t in, int64_t k, int64_t s, int64_t d, int64_t outPad, int64_t explicitOut, const std::string& autoPad,
          int64_t padBegin, int64_t padEnd, int64_t* out, int64_t* begin) {
  const int64_t full = s * (in - 1) + outPad + (k - 1) * d + 1;
  const bool same = autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER";
  if (explicitOut >= 0 || same) {
    *out = explicitOut >= 0 ? explicitOut : in * s;
    const int64_t total = full - *out;
    *begin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
  } else {
    if (autoPad == "VALID") padBegin = padEnd = 0;
    *out = full - padBegin - padEnd;
    *begin = padBegin;
  }
}

void checkConvTranspose(const ConvTCase& c) {
  SCOPED_TRACE(c.describe());
  const int64_t m = c.mg * c.group, cg = c.c / c.group;
  const std::vector<float> x = test::randomFloats(c.n * c.c * c.h * c.w, 21);
  const std::vector<float> w = test::randomFloats(c.c * c.mg * c.kh * c.kw, 22);
  const std::vector<float> b = test::randomFloats(m, 23);
  int64_t oh, ow, pt, pl;
  axis(c.h, c.kh, c.strideH, c.dilationH, c.outPadH, c.outputShape.empty() ? -1 : c.outputShape[0], c.autoPad,
       c.padTop, c.padBottom, &oh, &pt);
  axis(c.w, c.kw, c.strideW, c.dilationW, c.outPadW, c.outputShape.empty() ? -1 : c.outputShape[1], c.autoPad,
       c.padLeft, c.padRight, &ow, &pl);
  std::vector<double> acc(c.n * m * oh * ow, 0.0);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t ci = 0; ci < c.c; ++ci) {
      const int64_t g = ci / cg;
      for (int64_t co = 0; co < c.mg; ++co)
        for (int64_t ih = 0; ih < c.h; ++ih)
          for (int64_t iw = 0; iw < c.w; ++iw)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t y = ih * c.strideH - pt + i * c.dilationH;
                const int64_t xo = iw * c.strideW - pl + j * c.dilationW;
                if (y < 0 || y >= oh || xo < 0 || xo >= ow) continue;
                acc[((n * m + g * c.mg + co) * oh + y) * ow + xo] +=
                    double(x[((n * c.c + ci) * c.h + ih) * c.w + iw]) * w[((ci * c.mg + co) * c.kh + i) * c.kw + j];
              }
    }
  std::vector<float> want(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t ch = static_cast<int64_t>(i / (oh * ow)) % m;
    want[i] = applyActivation(c.activation, static_cast<float>(acc[i] + (c.bias ? b[ch] : 0.0)));
  }

  std::map<std::string, AttributeValue> attrs;
  attrs["strides"] = std::vector<int64_t>{c.strideH, c.strideW};
  attrs["dilations"] = std::vector<int64_t>{c.dilationH, c.dilationW};
  if (c.group != 1) attrs["group"] = c.group;
  if (c.outPadH || c.outPadW) attrs["output_padding"] = std::vector<int64_t>{c.outPadH, c.outPadW};
  if (!c.outputShape.empty()) attrs["output_shape"] = c.outputShape;
  if (!c.autoPad.empty())
    attrs["auto_pad"] = c.autoPad;
  else
    attrs["pads"] = std::vector<int64_t>{c.padTop, c.padLeft, c.padBottom, c.padRight};
  if (c.activation.kind != Activation::kNone) attrs["activation"] = std::string(activationName(c.activation.kind));
  std::vector<HarnessInput> inputs{HarnessInput::runtime({c.n, c.c, c.h, c.w}, x),
                                   HarnessInput::constant({c.c, c.mg, c.kh, c.kw}, w)};
  if (c.bias) inputs.push_back(HarnessInput::constant({m}, b));
  const SessionConfig config = test::withThreads(c.threads);
  const test::HarnessResult r = test::runOp(test::makeNode("ConvTranspose", attrs), inputs, config);
  EXPECT_EQ(r.kernel, "conv_transpose.sgemm.col2im[fp32]");
  ASSERT_EQ(r.shapes.at(0), (Shape{c.n, m, oh, ow}));
  EXPECT_LE(test::relativeL2(r.outputs[0], want), 1e-5);
}

TEST(ConvTranspose, StridesPadsDilations) {
  int variant = 0;
  for (int64_t k : {1, 2, 3, 4})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2}) {
        ConvTCase c;
        c.n = 1 + variant % 2;
        c.c = 3 + variant % 3;
        c.mg = 2 + variant % 3;
        c.h = 4 + variant % 4;
        c.w = 5 + variant % 3;
        c.kh = c.kw = k;
        c.strideH = c.strideW = s;
        c.dilationH = c.dilationW = d;
        c.padTop = variant % 2;
        c.padLeft = (k - 1) / 2;
        c.padBottom = (variant / 2) % 2;
        c.padRight = 0;
        c.outPadH = s > 1 ? variant % s : 0;
        c.threads = 1 + variant % 2;
        c.bias = variant % 3 != 0;
        ++variant;
        checkConvTranspose(c);
      }
}

TEST(ConvTranspose, GroupsAndActivation) {
  for (int64_t group : {2, 3})
    for (int threads : {1, 2}) {
      ConvTCase c;
      c.group = group;
      c.c = group * 2;
      c.mg = 3;
      c.strideH = c.strideW = 2;
      c.padTop = c.padLeft = c.padBottom = c.padRight = 1;
      c.outPadH = c.outPadW = 1;
      c.threads = threads;
      c.activation = {Activation::kRelu};
      checkConvTranspose(c);
    }
}

TEST(ConvTranspose, OutputShapeAndAutoPad) {
  ConvTCase c;
  c.kh = c.kw = 3, c.strideH = c.strideW = 2;
  c.outputShape = {10, 12};  // natural size is 11 x 13
  checkConvTranspose(c);
  c.outputShape.clear();
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    c.autoPad = mode;
    checkConvTranspose(c);
  }
}

TEST(ConvTranspose, LargerLayer) {
  ConvTCase c;
  c.c = 64, c.mg = 32, c.h = c.w = 14, c.kh = c.kw = 4, c.strideH = c.strideW = 2;
  c.padTop = c.padLeft = c.padBottom = c.padRight = 1, c.threads = 2;
  checkConvTranspose(c);
}

TEST(ConvTranspose, Errors) {
  // W rows must match the input channels.
  EXPECT_THROW(test::runOp(test::makeNode("ConvTranspose"),
                           {HarnessInput::runtime({1, 4, 5, 5}, std::vector<float>(100)),
                            HarnessInput::constant({3, 2, 3, 3}, std::vector<float>(54))}),
               Error);
  // output_padding must be below the stride.
  EXPECT_THROW(test::runOp(test::makeNode("ConvTranspose", {{"output_padding", std::vector<int64_t>{1, 1}}}),
                           {HarnessInput::runtime({1, 4, 5, 5}, std::vector<float>(100)),
                            HarnessInput::constant({4, 2, 3, 3}, std::vector<float>(72))}),
               Error);
}

}  // namespace
}  // namespace petrel
