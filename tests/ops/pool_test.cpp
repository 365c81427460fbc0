// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool against direct
// loops over each window, plus hand-checked values from PyTorch for the
// ceil_mode / count_include_pad corner cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"
#include "ops/row_kernels.h"

namespace petrel::test {
namespace {

struct PoolConfig {
  std::vector<int64_t> kernel, strides, pads, dilations;  // pads: begins then ends
  bool ceilMode = false;
  std::string autoPad = "NOTSET";
};

// ONNX output size of one axis with explicit pads; ceil_mode drops a last
// window that would start in the right padding.
int64_t outputSize(int64_t in, int64_t k, int64_t s, int64_t padBegin, int64_t padEnd, int64_t d, bool ceil) {
  const int64_t extent = d * (k - 1) + 1;
  const double windows = static_cast<double>(in + padBegin + padEnd - extent) / s;
  int64_t out = static_cast<int64_t>(ceil ? std::ceil(windows) : std::floor(windows)) + 1;
  if (ceil && (out - 1) * s >= in + padBegin) --out;
  return out;
}

// Explicit pads that auto_pad stands for (SAME_* / VALID), per axis.
void resolveAutoPad(const PoolConfig& c, const Shape& spatial, std::vector<int64_t>& pads) {
  const size_t n = spatial.size();
  for (size_t i = 0; i < n; ++i) {
    if (c.autoPad == "VALID") {
      pads[i] = pads[n + i] = 0;
    } else if (c.autoPad != "NOTSET") {
      const int64_t out = (spatial[i] + c.strides[i] - 1) / c.strides[i];
      const int64_t extent = c.dilations[i] * (c.kernel[i] - 1) + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * c.strides[i] + extent - spatial[i]);
      pads[i] = c.autoPad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      pads[n + i] = total - pads[i];
    }
  }
}

// Reference pooling over a 2-D NCHW input (a 1-D input is given with H = 1
// and a 1-row kernel).
std::vector<float> referencePool(bool isMax, const std::vector<float>& x, const Shape& shape, const PoolConfig& c,
                                 bool countIncludePad, Shape* outShape) {
  const int64_t N = shape[0], C = shape[1];
  const bool oneD = shape.size() == 3;
  const int64_t H = oneD ? 1 : shape[2], W = shape.back();
  std::vector<int64_t> pads = c.pads;
  resolveAutoPad(c, Shape(shape.begin() + 2, shape.end()), pads);
  const size_t n = c.kernel.size();
  const int64_t kh = oneD ? 1 : c.kernel[0], kw = c.kernel[n - 1];
  const int64_t sh = oneD ? 1 : c.strides[0], sw = c.strides[n - 1];
  const int64_t dh = oneD ? 1 : c.dilations[0], dw = c.dilations[n - 1];
  const int64_t ph0 = oneD ? 0 : pads[0], pw0 = pads[n - 1];
  const int64_t ph1 = oneD ? 0 : pads[n], pw1 = pads[2 * n - 1];
  int64_t OH, OW;
  if (c.autoPad == "NOTSET" || c.autoPad == "VALID") {
    OH = outputSize(H, kh, sh, ph0, ph1, dh, c.ceilMode && c.autoPad == "NOTSET");
    OW = outputSize(W, kw, sw, pw0, pw1, dw, c.ceilMode && c.autoPad == "NOTSET");
  } else {
    OH = (H + sh - 1) / sh;
    OW = (W + sw - 1) / sw;
  }
  *outShape = oneD ? Shape{N, C, OW} : Shape{N, C, OH, OW};
  std::vector<float> y;
  for (int64_t p = 0; p < N * C; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
        int64_t inside = 0, padded = 0;
        for (int64_t i = 0; i < kh; ++i) {
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t ih = oh * sh - ph0 + i * dh;
            const int64_t iw = ow * sw - pw0 + j * dw;
            if (ih < H + ph1 && iw < W + pw1) ++padded;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const float v = x[(p * H + ih) * W + iw];
            acc = isMax ? std::max<double>(acc, v) : acc + v;
            ++inside;
          }
        }
        if (!isMax) {
          const int64_t count = countIncludePad ? padded : inside;
          acc = count ? acc / count : 0.0;
        }
        y.push_back(static_cast<float>(acc));
      }
    }
  }
  return y;
}

Node poolNode(const std::string& op, const PoolConfig& c, bool countIncludePad) {
  std::map<std::string, AttributeValue> attributes = {
      {"kernel_shape", c.kernel},
      {"strides", c.strides},
      {"dilations", c.dilations},
      {"ceil_mode", int64_t{c.ceilMode}},
      {"auto_pad", c.autoPad},
  };
  if (c.autoPad == "NOTSET") attributes["pads"] = c.pads;
  if (op == "AveragePool") attributes["count_include_pad"] = int64_t{countIncludePad};
  return makeNode(op, attributes);
}

TEST(Pool, MaxAndAverage2dAgainstReference) {
  const std::vector<PoolConfig> configs = {
      {{3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}},              // ResNet stem MaxPool
      {{2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}},
      {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true},        // SqueezeNet: ceil_mode
      {{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
      {{2, 2}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
      {{2, 3}, {1, 2}, {0, 1, 1, 0}, {1, 1}, true},        // asymmetric everything
      {{3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}},              // dilation
      {{3, 2}, {2, 3}, {2, 0, 1, 1}, {2, 1}, true},        // dilation + ceil + uneven pads
      {{5, 5}, {3, 3}, {2, 2, 2, 2}, {1, 1}, true},
      {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, false, "SAME_UPPER"},
      {{2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, false, "SAME_LOWER"},
      {{4, 4}, {3, 3}, {0, 0, 0, 0}, {1, 1}, false, "SAME_LOWER"},
      {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, false, "VALID"},
  };
  const std::vector<Shape> shapes = {{1, 1, 7, 7}, {2, 3, 9, 11}, {1, 2, 8, 8}, {1, 1, 6, 5}};
  uint32_t seed = 1;
  for (const PoolConfig& c : configs) {
    for (const Shape& shape : shapes) {
      for (const char* op : {"MaxPool", "AveragePool"}) {
        for (bool includePad : {false, true}) {
          if (std::string(op) == "MaxPool" && includePad) continue;
          SCOPED_TRACE(std::string(op) + " " + shapeToString(shape) + " kernel " + shapeToString(c.kernel) +
                       " strides " + shapeToString(c.strides) + " pads " + shapeToString(c.pads) + " dilations " +
                       shapeToString(c.dilations) + " ceil " + std::to_string(c.ceilMode) + " " + c.autoPad +
                       " count_include_pad " + std::to_string(includePad));
          const std::vector<float> x = randomFloats(shapeElements(shape), seed++, -3.0f, 3.0f);
          Shape expectedShape;
          const std::vector<float> expected =
              referencePool(std::string(op) == "MaxPool", x, shape, c, includePad, &expectedShape);
          HarnessResult r = runOp(poolNode(op, c, includePad), {HarnessInput::runtime(shape, x)});
          ASSERT_EQ(r.shapes[0], expectedShape);
          expectClose(r.outputs[0], expected, 1e-6);
        }
      }
    }
  }
}

TEST(Pool, LargeInputsWithTwoThreads) {
  const PoolConfig stem = {{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}};
  const PoolConfig ceil = {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true};
  const Shape shape = {1, 64, 56, 57};
  const std::vector<float> x = randomFloats(shapeElements(shape), 42, -3.0f, 3.0f);
  for (int threads : {1, 2}) {
    for (const PoolConfig* c : {&stem, &ceil}) {
      for (const char* op : {"MaxPool", "AveragePool"}) {
        SCOPED_TRACE(std::string(op) + " threads " + std::to_string(threads));
        Shape expectedShape;
        const std::vector<float> expected =
            referencePool(std::string(op) == "MaxPool", x, shape, *c, true, &expectedShape);
        HarnessResult r = runOp(poolNode(op, *c, true), {HarnessInput::runtime(shape, x)}, withThreads(threads));
        ASSERT_EQ(r.shapes[0], expectedShape);
        expectClose(r.outputs[0], expected, 1e-6);
      }
    }
  }
}

TEST(Pool, OneDimensional) {
  const Shape shape = {2, 3, 10};
  const std::vector<float> x = randomFloats(shapeElements(shape), 9);
  for (bool ceilMode : {false, true}) {
    const PoolConfig c = {{3}, {2}, {1, 0}, {1}, ceilMode};
    for (const char* op : {"MaxPool", "AveragePool"}) {
      SCOPED_TRACE(std::string(op) + " ceil " + std::to_string(ceilMode));
      Shape expectedShape;
      const std::vector<float> expected = referencePool(std::string(op) == "MaxPool", x, shape, c, false, &expectedShape);
      HarnessResult r = runOp(poolNode(op, c, false), {HarnessInput::runtime(shape, x)});
      ASSERT_EQ(r.shapes[0], expectedShape);
      expectClose(r.outputs[0], expected, 1e-6);
    }
  }
}

// Values from torch.nn.functional.{max,avg}_pool2d on x[i] = (7 i mod 11) - 5.
std::vector<float> pattern(int64_t n) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((7 * i) % 11 - 5);
  return x;
}

TEST(Pool, HandCheckedAgainstPyTorch) {
  const std::vector<float> x5 = pattern(25), x6 = pattern(36);
  struct Case {
    const char* what;
    std::string op;
    PoolConfig config;
    bool includePad;
    const std::vector<float>* x;
    Shape in, out;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // 5 + 2 pad, k2 s2, ceil: 4 windows, but the 4th starts in the right pad -> 3.
      {"max k2 s2 p1 ceil", "MaxPool", {{2, 2}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true}, false, &x5,
       {1, 1, 5, 5}, {1, 1, 3, 3}, {-5, 2, 5, -1, 4, 5, 3, 4, 2}},
      {"avg k2 s2 p1 ceil include", "AveragePool", {{2, 2}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true}, true, &x5,
       {1, 1, 5, 5}, {1, 1, 3, 3}, {-1.25f, 0, 1.5f, -1, 0.25f, 0.5f, 1, -1.25f, -1}},
      {"avg k2 s2 p1 ceil exclude", "AveragePool", {{2, 2}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true}, false, &x5,
       {1, 1, 5, 5}, {1, 1, 3, 3}, {-5, 0, 3, -2, 0.25f, 0.5f, 2, -1.25f, -1}},
      {"avg k3 s2 p1 ceil include", "AveragePool", {{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, true}, true, &x5,
       {1, 1, 5, 5}, {1, 1, 3, 3},
       {-0.2222222239f, 0.5555555820f, 0.5555555820f, -0.7777777910f, -0.4444444478f, -0.2222222239f, 0.0f,
        -0.3333333433f, -0.4444444478f}},
      {"max k3 s2 p1 d2 ceil", "MaxPool", {{3, 3}, {2, 2}, {1, 1, 1, 1}, {2, 2}, true}, false, &x5,
       {1, 1, 5, 5}, {1, 1, 2, 2}, {4, 4, 4, 4}},
      // The last window overhangs the input with no padding: the divisor is
      // what lies inside (input plus explicit pads), here 2 or 4 elements.
      {"avg k3 s2 p0 ceil include", "AveragePool", {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true}, true, &x6,
       {1, 1, 6, 6}, {1, 1, 3, 3},
       {0.0f, 0.5555555820f, -1.1666666269f, 0.8888888955f, 0.2222222239f, 0.3333333433f, 0.3333333433f,
        -0.3333333433f, 1.0f}},
      {"max k3 s2 p0 ceil", "MaxPool", {{3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true}, false, &x6,
       {1, 1, 6, 6}, {1, 1, 3, 3}, {5, 5, 4, 5, 5, 4, 5, 4, 4}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    HarnessResult r = runOp(poolNode(c.op, c.config, c.includePad), {HarnessInput::runtime(c.in, *c.x)});
    ASSERT_EQ(r.shapes[0], c.out);
    expectClose(r.outputs[0], c.expected, 1e-6);
  }
}

TEST(Pool, GlobalPools) {
  const std::vector<Shape> shapes = {{2, 3, 5, 7}, {1, 512, 7, 7}, {2, 3, 4}, {1, 1, 1, 1},
                                     {2, 4, 3, 3, 3}, {1, 256, 16, 17}};
  uint32_t seed = 5;
  for (int threads : {1, 2}) {
    for (const Shape& shape : shapes) {
      const std::vector<float> x = randomFloats(shapeElements(shape), seed++, -2.0f, 2.0f);
      const int64_t planes = shape[0] * shape[1];
      const int64_t size = shapeElements(shape) / planes;
      Shape outShape(shape.size(), 1);
      outShape[0] = shape[0];
      outShape[1] = shape[1];
      for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
        SCOPED_TRACE(std::string(op) + " " + shapeToString(shape) + " threads " + std::to_string(threads));
        std::vector<float> expected(planes);
        for (int64_t p = 0; p < planes; ++p) {
          double acc = std::string(op) == "GlobalMaxPool" ? -1e30 : 0.0;
          for (int64_t i = 0; i < size; ++i)
            acc = std::string(op) == "GlobalMaxPool" ? std::max<double>(acc, x[p * size + i]) : acc + x[p * size + i];
          expected[p] = static_cast<float>(std::string(op) == "GlobalMaxPool" ? acc : acc / size);
        }
        HarnessResult r = runOp(makeNode(op), {HarnessInput::runtime(shape, x)}, withThreads(threads));
        ASSERT_EQ(r.shapes[0], outShape);
        expectClose(r.outputs[0], expected, 2e-6);
      }
    }
  }
}

// Max and add are exact: every twin must match the plain loop (rows
// combined first, then taps) bit for bit, for 1 to 3 window rows, strides and
// dilations with and without a vector path, outputs around the vector width,
// and runs of 1 or 3 output rows (each window 2 input rows below the last).
TEST(Pool, WindowsTwinsAgree) {
  uint32_t seed = 400;
  for (Isa isa : supportedIsas()) {
    for (bool isMax : {false, true}) {
      for (int64_t rows : {1, 2, 3})
        for (int64_t stride : {1, 2, 3})
          for (int64_t kernel : {1, 2, 3, 5})
            for (int64_t dilation : {1, 2})
              for (int64_t n : {1, 7, 8, 9, 10, 16, 17, 27, 55})
                for (int64_t count : {1, 3}) {
                  SCOPED_TRACE(std::string(isaName(isa)) + (isMax ? " max" : " add") + " rows " +
                               std::to_string(rows) + " stride " + std::to_string(stride) + " kernel " +
                               std::to_string(kernel) + " dilation " + std::to_string(dilation) + " n " +
                               std::to_string(n) + " count " + std::to_string(count));
                  // Exactly the taps the outputs read in the last row, so reading past them lands outside the
                  // vector; the rows are one column wider than that, so reading past a row's taps is caught too.
                  const int64_t span = (n - 1) * stride + (kernel - 1) * dilation + 1, rowStride = span + 1;
                  const int64_t inputRows = 2 * (count - 1) + rows, outStep = n + 2;
                  std::vector<float> in = randomFloats((inputRows - 1) * rowStride + span, seed++);
                  for (int64_t r = 0; r + 1 < inputRows; ++r) in[r * rowStride + span] = isMax ? 1e30f : 1e20f;
                  std::vector<float> expected(count * outStep, -7.0f);
                  for (int64_t j = 0; j < count; ++j)
                    for (int64_t o = 0; o < n; ++o) {
                      float acc = 0.0f;
                      for (int64_t t = 0; t < kernel; ++t) {
                        const float* tap = in.data() + 2 * j * rowStride + o * stride + t * dilation;
                        float column = tap[0];
                        for (int64_t r = 1; r < rows; ++r) {
                          const float x = tap[r * rowStride];
                          column = isMax ? std::max(column, x) : column + x;
                        }
                        acc = t == 0 ? column : isMax ? std::max(acc, column) : acc + column;
                      }
                      expected[j * outStep + o] = acc;
                    }
                  std::vector<float> out(count * outStep, -7.0f);  // the 2 floats after each row stay
                  PoolWindowRows w;
                  w.first = in.data(), w.rowStride = rowStride, w.rows = rows;
                  w.out = out.data(), w.n = n;
                  w.stride = stride, w.kernel = kernel, w.dilation = dilation;
                  w.count = count, w.inStep = 2 * rowStride, w.outStep = outStep;
                  poolWindows(isMax, isa)(w);
                  EXPECT_EQ(out, expected);
                }
    }
  }
}

TEST(Pool, Errors) {
  const HarnessInput x = HarnessInput::runtime({1, 1, 4, 4}, std::vector<float>(16));
  expectError([&] { runOp(makeNode("MaxPool", {{"kernel_shape", std::vector<int64_t>{5, 5}}}), {x}); },
              {"test_MaxPool", "exceeds"});
  expectError([&] { runOp(makeNode("MaxPool", {{"kernel_shape", std::vector<int64_t>{2, 2}}}), {x}, {}, 2); },
              {"test_MaxPool", "Indices"});
  expectError([&] { runOp(makeNode("AveragePool", {{"kernel_shape", std::vector<int64_t>{2, 2, 2}}}), {x}); },
              {"test_AveragePool", "kernel_shape"});
  expectError([&] { runOp(makeNode("MaxPool", {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                               {"auto_pad", std::string("SAME")}}), {x}); },
              {"test_MaxPool", "SAME"});
  expectError([&] { runOp(makeNode("GlobalAveragePool"), {HarnessInput::runtime({4, 4}, std::vector<float>(16))}); },
              {"test_GlobalAveragePool", "[4, 4]"});
}

}  // namespace
}  // namespace petrel::test
