// Encoders: error bounds, sizes, special rows, errors.
#include "weights/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "weights/decode.h"
#include "petrel/error.h"
#include "weights_test_util.h"

namespace petrel {
namespace {

using test::awkwardWeights;
using test::describe;
using test::everyEncoding;

const int64_t kShapes[][2] = {{1, 1}, {1, 7}, {3, 16}, {5, 33}, {6, 127}, {7, 128}, {9, 129}, {4, 300}, {13, 1000}};

std::vector<float> dequantize(const EncodedMatrix& m, Isa isa = Isa::kScalar) {
  std::vector<float> out(static_cast<size_t>(m.layout.rows * m.layout.depth));
  decodeMatrix(m.view(), out.data(), isa);
  return out;
}

TEST(Quantize, ErrorIsAtMostHalfAScalePerElement) {
  for (const WeightEncoding& e : everyEncoding()) {
    for (const auto& shape : kShapes) {
      const int64_t rows = shape[0], depth = shape[1];
      const std::vector<float> w = awkwardWeights(rows, depth, static_cast<uint32_t>(rows * 1000 + depth));
      const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
      const std::vector<float> d = dequantize(m);
      const EncodedMatrixView v = m.view();
      const int64_t blockLength = m.layout.blockLength();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < depth; ++k) {
          const float x = w[r * depth + k], y = d[r * depth + k];
          double bound = 0.0;
          if (e.storage == WeightStorage::kFloat16) bound = std::fabs(x) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);
          if (m.layout.hasScales()) {
            const double scale = v.scale(r, k / blockLength);
            bound = scale / 2 * (1 + 1e-5) + std::ldexp(std::fabs(x) + scale, -22);
          }
          ASSERT_LE(std::fabs(static_cast<double>(x) - y), bound)
              << describe(e) << " [" << rows << ", " << depth << "] at (" << r << ", " << k << ")";
        }
    }
  }
}

TEST(Quantize, ZeroRowsDecodeToExactZerosAndZerosStayExact) {
  for (const WeightEncoding& e : everyEncoding()) {
    const int64_t rows = 5, depth = 77;
    std::vector<float> w = awkwardWeights(rows, depth, 7);
    for (int64_t r = 0; r < rows; ++r) w[r * depth + 3] = 0.0f;  // a zero in every row
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    const std::vector<float> d = dequantize(m);
    for (int64_t k = 0; k < depth; ++k) ASSERT_EQ(d[1 * depth + k], 0.0f) << describe(e) << " k=" << k;
    // Exact zero everywhere: symmetric formats map 0 to 0, asymmetric ones
    // keep 0 inside the range on a whole step.
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(d[r * depth + 3], 0.0f) << describe(e) << " row " << r;
    for (float s : m.scales) EXPECT_TRUE(std::isfinite(s));
  }
}

TEST(Quantize, ConstantRowIsCloseAndLargestMagnitudeUsesTheTopCode) {
  const int64_t depth = 40;
  std::vector<float> w(depth, -2.5f);
  for (const WeightEncoding& e : everyEncoding()) {
    const EncodedMatrix m = encodeWeights(w.data(), 1, depth, e, "w");
    const std::vector<float> d = dequantize(m);
    for (int64_t k = 0; k < depth; ++k) EXPECT_NEAR(d[k], -2.5f, 1e-5f) << describe(e);
  }
  // Symmetric: the largest magnitude maps to +-127 / +-7 exactly.
  const EncodedMatrix q8 = quantizeInt8(w.data(), 1, depth, true, "w");
  EXPECT_EQ(static_cast<int8_t>(q8.values[0]), -127);
  EXPECT_FLOAT_EQ(q8.scales[0], 2.5f / 127);
  const EncodedMatrix q4 = quantizeInt4(w.data(), 1, depth, 16, true, "w");
  EXPECT_EQ(q4.values[0], 0x11);  // u = -7 + 8 = 1 in both nibbles
}

TEST(Quantize, OutlierOnlyCoarsensItsOwnBlock) {
  const int64_t depth = 128;
  std::vector<float> w = test::randomFloats(depth, 3);
  w[5] = 500.0f;
  const EncodedMatrix m = quantizeInt4(w.data(), 1, depth, 32, true, "w");
  const std::vector<float> d = dequantize(m);
  EXPECT_FLOAT_EQ(m.scales[0], 500.0f / 7);
  EXPECT_EQ(d[5], 500.0f);
  for (int64_t k = 32; k < depth; ++k) EXPECT_LE(std::fabs(d[k] - w[k]), 1.0f / 14 + 1e-6f) << k;
}

TEST(Quantize, CodesStayInTheirRanges) {
  const int64_t rows = 9, depth = 131;
  const std::vector<float> w = awkwardWeights(rows, depth, 11);
  const EncodedMatrix s8 = quantizeInt8(w.data(), rows, depth, true, "w");
  for (uint8_t b : s8.values) EXPECT_NE(static_cast<int8_t>(b), -128);
  for (int64_t block : {0, 16, 32, 64, 128}) {
    const EncodedMatrix s4 = quantizeInt4(w.data(), rows, depth, block, true, "w");
    for (uint8_t b : s4.values) {
      EXPECT_NE(b & 0xf, 0) << "symmetric int4 never uses u = 0 (-8)";
      EXPECT_NE(b >> 4, 0);
    }
    const EncodedMatrix a4 = quantizeInt4(w.data(), rows, depth, block, false, "w");
    for (uint8_t z : a4.zeroPoints) EXPECT_LE(z, 15);
  }
}

TEST(Quantize, PartialLastBlockIsPaddedWithTheZeroCode) {
  const int64_t depth = 37;  // blocks of 16: 16 + 16 + 5, padded to 48
  const std::vector<float> w = awkwardWeights(2, depth, 5);
  for (bool symmetric : {true, false}) {
    const EncodedMatrix m = quantizeInt4(w.data(), 2, depth, 16, symmetric, "w");
    ASSERT_EQ(m.layout.rowBytes(), 24);
    for (int64_t r = 0; r < 2; ++r) {
      const int zero = m.view().zeroPoint(r, 2);
      for (int64_t k = depth; k < 48; ++k) {
        const int u = (m.values[r * 24 + k / 2] >> (4 * (k & 1))) & 0xf;
        EXPECT_EQ(u, zero) << "row " << r << " k " << k;
      }
    }
  }
  // Per channel with odd K: one block of K + 1 nibbles.
  const EncodedMatrix pc = quantizeInt4(w.data(), 2, depth, 0, true, "w");
  EXPECT_EQ(pc.layout.blocksPerRow(), 1);
  EXPECT_EQ(pc.layout.rowBytes(), 19);
  EXPECT_EQ(pc.values[18] >> 4, 8);
}

TEST(Quantize, ByteSizes) {
  const int64_t rows = 10, depth = 75;
  const std::vector<float> w = awkwardWeights(rows, depth, 1);
  EXPECT_EQ(encodeFloat32(w.data(), rows, depth, "w").bytes(), 4u * rows * depth);
  EXPECT_EQ(encodeFloat16(w.data(), rows, depth, "w").bytes(), 2u * rows * depth);
  EXPECT_EQ(quantizeInt8(w.data(), rows, depth, true, "w").bytes(), rows * depth + 4u * rows);
  EXPECT_EQ(quantizeInt8(w.data(), rows, depth, false, "w").bytes(), rows * depth + 5u * rows);
  for (int64_t block : {16, 32, 64, 128}) {
    const int64_t blocks = (depth + block - 1) / block;
    EXPECT_EQ(quantizeInt4(w.data(), rows, depth, block, true, "w").bytes(),
              static_cast<size_t>(rows * blocks * block / 2 + 4 * rows * blocks)) << block;
    EXPECT_EQ(quantizeInt4(w.data(), rows, depth, block, false, "w").bytes(),
              static_cast<size_t>(rows * blocks * block / 2 + 5 * rows * blocks)) << block;
  }
  EXPECT_EQ(quantizeInt4(w.data(), rows, depth, 0, true, "w").bytes(), static_cast<size_t>(rows * 38 + 4 * rows));
  // The owned sections have exactly the layout's sizes.
  for (const WeightEncoding& e : everyEncoding()) {
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    EXPECT_EQ(m.values.size(), m.layout.valueBytes()) << describe(e);
    EXPECT_EQ(m.scales.size() * 4, m.layout.scaleBytes()) << describe(e);
    EXPECT_EQ(m.zeroPoints.size(), m.layout.zeroPointBytes()) << describe(e);
  }
}

TEST(Quantize, BlobViewDecodesLikeTheOwnedMatrix) {
  const int64_t rows = 7, depth = 99;
  const std::vector<float> w = awkwardWeights(rows, depth, 2);
  for (const WeightEncoding& e : everyEncoding()) {
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    const std::vector<uint8_t> blob = m.blob();
    ASSERT_EQ(blob.size(), m.bytes());
    const EncodedMatrixView v = viewEncodedBlob(m.layout, blob.data(), blob.size(), "w");
    std::vector<float> fromBlob(rows * depth);
    decodeMatrix(v, fromBlob.data(), Isa::kScalar);
    EXPECT_EQ(fromBlob, dequantize(m)) << describe(e);
    EXPECT_THROW(viewEncodedBlob(m.layout, blob.data(), blob.size() - 1, "w"), Error);
  }
}

// The message of the Error `f` throws ("" if none).
template <typename F>
std::string errorOf(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Quantize, NonFiniteWeightsAreAnErrorNamingTheTensorRowAndIndex) {
  for (const WeightEncoding& e : everyEncoding()) {
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> w = awkwardWeights(4, 20, 9);
      w[2 * 20 + 13] = bad;
      const std::string message = errorOf([&] { encodeWeights(w.data(), 4, 20, e, "layer1.conv.weight"); });
      EXPECT_NE(message.find("layer1.conv.weight"), std::string::npos) << describe(e) << ": " << message;
      EXPECT_NE(message.find("row 2"), std::string::npos) << message;
      EXPECT_NE(message.find("index 13"), std::string::npos) << message;
    }
  }
}

TEST(Quantize, Fp16OverflowAndBadLayoutsAreErrors) {
  std::vector<float> w = {1.0f, 70000.0f, 2.0f};
  const std::string overflow = errorOf([&] { encodeFloat16(w.data(), 1, 3, "fc.weight"); });
  EXPECT_NE(overflow.find("fc.weight"), std::string::npos) << overflow;
  EXPECT_NE(overflow.find("index 1"), std::string::npos) << overflow;
  EXPECT_THROW(quantizeInt4(w.data(), 1, 3, 24, true, "w"), Error);
  EXPECT_THROW(quantizeInt8(w.data(), 0, 3, true, "w"), Error);
  EXPECT_THROW(quantizeInt8(w.data(), 1, 0, true, "w"), Error);
}

TEST(Quantize, HugeRangeAsymmetricStaysFinite) {
  std::vector<float> w = {-3e38f, 3e38f, 0.0f, 1.0f};
  for (bool symmetric : {true, false}) {
    const EncodedMatrix m8 = quantizeInt8(w.data(), 1, 4, symmetric, "w");
    const EncodedMatrix m4 = quantizeInt4(w.data(), 1, 4, 16, symmetric, "w");
    for (const EncodedMatrix* m : {&m8, &m4}) {
      const std::vector<float> d = dequantize(*m);
      for (float x : d) EXPECT_TRUE(std::isfinite(x));
      EXPECT_EQ(d[2], 0.0f);
    }
  }
}

}  // namespace
}  // namespace petrel

namespace petrel {
namespace {

TEST(Quantize, EncodingErrorFiguresOrderTheFormats) {
  const int64_t rows = 64, depth = 576;
  const std::vector<float> w = test::randomFloats(rows * depth, 123);
  auto error = [&](WeightEncoding e) {
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    return measureEncodingError(w.data(), m.view());
  };
  const EncodingError fp32 = error({WeightStorage::kFloat32, 0, true});
  const EncodingError fp16 = error({WeightStorage::kFloat16, 0, true});
  const EncodingError int8 = error({WeightStorage::kInt8, 0, true});
  const EncodingError int4b32 = error({WeightStorage::kInt4, 32, true});
  const EncodingError int4pc = error({WeightStorage::kInt4, 0, true});
  EXPECT_EQ(fp32.maxAbs, 0.0);
  EXPECT_GT(fp16.relativeL2, 0.0);
  EXPECT_LT(fp16.relativeL2, 1e-3);
  EXPECT_LT(fp16.relativeL2, int8.relativeL2);
  EXPECT_LT(int8.relativeL2, 0.01);  // uniform data: step/sqrt(12) / (1/sqrt(3)) ~ 0.0045
  EXPECT_LT(int8.relativeL2, int4b32.relativeL2);
  EXPECT_LT(int4b32.relativeL2, int4pc.relativeL2 + 1e-9);
  EXPECT_LT(int4pc.relativeL2, 0.15);  // ~ 0.08 for uniform data
  std::printf("relative L2 error, uniform [-1,1) %lldx%lld: fp16 %.2e int8 %.2e int4/32 %.2e int4/channel %.2e\n",
              static_cast<long long>(rows), static_cast<long long>(depth), fp16.relativeL2, int8.relativeL2,
              int4b32.relativeL2, int4pc.relativeL2);
}

}  // namespace
}  // namespace petrel

namespace petrel {
namespace {

// Tiny weights give subnormal scales; the codes must still cover the range.
TEST(Quantize, TinyWeightsKeepTheHalfScaleBound) {
  for (float magnitude : {1e-30f, 1e-39f, 1e-42f, 3e-45f}) {
    std::vector<float> w = test::randomFloats(64, 17);
    for (float& x : w) x *= magnitude;
    w[3] = magnitude;
    for (const WeightEncoding& e : test::everyEncoding()) {
      if (!(e.storage == WeightStorage::kInt8 || e.storage == WeightStorage::kInt4)) continue;
      const EncodedMatrix m = encodeWeights(w.data(), 1, 64, e, "w");
      std::vector<float> d(64);
      decodeMatrix(m.view(), d.data(), Isa::kScalar);
      for (int64_t k = 0; k < 64; ++k) {
        const double scale = m.view().scale(0, k / m.layout.blockLength());
        ASSERT_LE(std::fabs(static_cast<double>(w[k]) - d[k]), scale / 2 * (1 + 1e-5) + std::ldexp(std::fabs(w[k]) + scale, -22))
            << test::describe(e) << " magnitude " << magnitude << " k " << k;
      }
    }
  }
}

}  // namespace
}  // namespace petrel
