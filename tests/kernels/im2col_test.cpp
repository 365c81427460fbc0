#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "kernels/im2col.h"
#include "kernels/sgemm.h"
#include "kernels/sgemm_internal.h"
#include "support/test_support.h"

namespace petrel {
namespace {

int64_t outSize(int64_t in, int64_t k, int64_t s, int64_t d, int64_t padBegin, int64_t padEnd) {
  return (in + padBegin + padEnd - ((k - 1) * d + 1)) / s + 1;
}

// Geometries with every combination of kernel, stride, dilation and
// asymmetric padding on odd sizes.
std::vector<Conv2dGeometry> geometries() {
  std::vector<Conv2dGeometry> out;
  int variant = 0;
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2})
        for (int64_t pad : {0, 1, 2}) {
          Conv2dGeometry g;
          g.channels = 1 + variant % 3;
          g.inH = 5 + variant % 7;
          g.inW = 4 + (variant * 5) % 11;
          g.kernelH = k;
          g.kernelW = variant % 2 ? k : std::max<int64_t>(1, k - 1);
          g.strideH = s;
          g.strideW = variant % 3 ? s : 1;
          g.dilationH = d;
          g.dilationW = variant % 4 ? d : 1;
          g.padTop = pad;
          g.padLeft = (pad + variant) % 3;
          const int64_t padBottom = (pad + 1) % 3, padRight = variant % 2;
          g.outH = outSize(g.inH, g.kernelH, g.strideH, g.dilationH, g.padTop, padBottom);
          g.outW = outSize(g.inW, g.kernelW, g.strideW, g.dilationW, g.padLeft, padRight);
          ++variant;
          if (g.outH > 0 && g.outW > 0) out.push_back(g);
        }
  return out;
}

float naiveCol(const Conv2dGeometry& g, const std::vector<float>& image, int64_t k, int64_t n) {
  const int64_t kw = k % g.kernelW, kh = (k / g.kernelW) % g.kernelH, c = k / (g.kernelW * g.kernelH);
  const int64_t oh = n / g.outW, ow = n % g.outW;
  const int64_t ih = oh * g.strideH - g.padTop + kh * g.dilationH;
  const int64_t iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
  if (ih < 0 || ih >= g.inH || iw < 0 || iw >= g.inW) return 0.0f;
  return image[(c * g.inH + ih) * g.inW + iw];
}

TEST(Im2col, MatchesDefinition) {
  for (const Conv2dGeometry& g : geometries()) {
    const std::vector<float> image = test::randomFloats(g.channels * g.inPixels(), 1);
    std::vector<float> col(g.depth() * g.outPixels(), -99.0f);
    im2col(g, image.data(), col.data());
    for (int64_t k = 0; k < g.depth(); ++k)
      for (int64_t n = 0; n < g.outPixels(); ++n)
        ASSERT_EQ(col[k * g.outPixels() + n], naiveCol(g, image, k, n))
            << "k=" << k << " n=" << n << " in " << g.inH << "x" << g.inW << " kernel " << g.kernelH << "x"
            << g.kernelW << " stride " << g.strideH << "," << g.strideW;
  }
}

TEST(Im2col, RowSegmentsAtAnyOffset) {
  for (const Conv2dGeometry& g : geometries()) {
    const std::vector<float> image = test::randomFloats(g.channels * g.inPixels(), 2);
    const int64_t n = g.outPixels();
    for (int64_t k = 0; k < g.depth(); k += 2)
      for (int64_t n0 = 0; n0 < n; n0 += 3) {
        const int64_t count = std::min<int64_t>(n - n0, 1 + n0 % 17);
        std::vector<float> seg(count + 1, -7.0f);
        im2colRowSegment(g, image.data(), k, n0, count, seg.data());
        for (int64_t t = 0; t < count; ++t) ASSERT_EQ(seg[t], naiveCol(g, image, k, n0 + t));
        ASSERT_EQ(seg[count], -7.0f) << "wrote past the segment";
      }
  }
}

TEST(Im2col, Col2imIsTheAdjoint) {
  for (const Conv2dGeometry& g : geometries()) {
    const std::vector<float> col = test::randomFloats(g.depth() * g.outPixels(), 3);
    std::vector<float> image = test::randomFloats(g.channels * g.inPixels(), 4);
    std::vector<double> want(image.begin(), image.end());
    for (int64_t k = 0; k < g.depth(); ++k)
      for (int64_t n = 0; n < g.outPixels(); ++n) {
        const int64_t kw = k % g.kernelW, kh = (k / g.kernelW) % g.kernelH, c = k / (g.kernelW * g.kernelH);
        const int64_t ih = n / g.outW * g.strideH - g.padTop + kh * g.dilationH;
        const int64_t iw = n % g.outW * g.strideW - g.padLeft + kw * g.dilationW;
        if (ih >= 0 && ih < g.inH && iw >= 0 && iw < g.inW) want[(c * g.inH + ih) * g.inW + iw] += col[k * g.outPixels() + n];
      }
    col2imAccumulate(g, col.data(), image.data());
    for (size_t i = 0; i < image.size(); ++i) ASSERT_NEAR(image[i], want[i], 1e-5);
  }
}

Conv2dGeometry squareGeometry(int64_t channels, int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  Conv2dGeometry g;
  g.channels = channels, g.inH = g.inW = in, g.kernelH = g.kernelW = kernel;
  g.strideH = g.strideW = stride, g.padTop = g.padLeft = pad;
  g.outH = g.outW = outSize(in, kernel, stride, 1, pad, pad);
  return g;
}

// The packed-panel layout written by each im2col packer (portable, and the
// SIMD one where it runs) equals packing the materialised im2col matrix, and
// nothing is written past the packed panels.
TEST(Im2col, PackedPanelsMatchPackingTheMatrix) {
  std::vector<Conv2dGeometry> all = geometries();
  Conv2dGeometry wide;  // more columns than the packer's row chunk (512)
  wide.channels = 2, wide.inH = 30, wide.inW = 41, wide.outH = 30, wide.outW = 41;
  wide.kernelH = wide.kernelW = 3, wide.padTop = wide.padLeft = 1;
  all.push_back(wide);
  // Rows long enough for the vector copies (stride 1, 2, 3), with whole
  // vectors and remainders; ResNet-like shapes (7x7 stride 2, 56x56, 7x7 images).
  for (int64_t in : {9, 16, 17, 23, 40})
    for (int64_t stride : {1, 2, 3})
      for (int64_t pad : {0, 1, 3}) all.push_back(squareGeometry(2, in, 3, stride, pad));
  all.push_back(squareGeometry(3, 37, 7, 2, 3));
  all.push_back(squareGeometry(2, 56, 3, 1, 1));
  all.push_back(squareGeometry(9, 7, 3, 1, 1));
  Conv2dGeometry dilated = squareGeometry(2, 29, 3, 2, 2);
  dilated.dilationW = 3;
  dilated.outW = outSize(dilated.inW, 3, 2, 3, 2, 2);
  all.push_back(dilated);

  std::vector<SgemmIm2colPacker> packers{sgemmPackRhsIm2col};
  if (isaSupported(Isa::kAvx2)) packers.push_back(sgemmPackRhsIm2colAvx2);
  for (const Conv2dGeometry& g : all) {
    // The image alone in its allocation: a read past it is caught by sanitizers.
    const std::vector<float> image = test::randomFloats(g.channels * g.inPixels(), 5);
    const int64_t k = g.depth(), n = g.outPixels();
    std::vector<float> col(k * n);
    im2col(g, image.data(), col.data());
    // The whole matrix, and a block starting inside it.
    for (const auto& [k0, j0] : {std::pair<int64_t, int64_t>{0, 0}, {k / 3, n / 4 + n % 5}}) {
      const int64_t kc = k - k0, cols = n - j0;
      // Back-to-back panels, and panels padded apart (the per-tile B block).
      for (const int64_t panelStride : {int64_t{0}, sgemmRhsPanelStride(kc)}) {
        const int64_t size = sgemmRhsPanelStride(kc) * ((cols + kSgemmNR - 1) / kSgemmNR) + 1;
        std::vector<float> fromMatrix(size, -5.0f);
        sgemmPackRhs({col.data(), n, false}, k0, kc, j0, cols, fromMatrix.data(), panelStride);
        for (size_t p = 0; p < packers.size(); ++p) {
          std::vector<float> fromImage(size, -5.0f);
          packers[p](g, image.data(), k0, kc, j0, cols, fromImage.data(), panelStride);
          ASSERT_EQ(fromImage, fromMatrix) << "packer " << p << " in " << g.inH << "x" << g.inW << " kernel "
                                           << g.kernelH << "x" << g.kernelW << " stride " << g.strideW << " pad "
                                           << g.padLeft << " k0=" << k0 << " j0=" << j0 << " panelStride "
                                           << panelStride;
        }
      }
    }
  }
}

}  // namespace
}  // namespace petrel
