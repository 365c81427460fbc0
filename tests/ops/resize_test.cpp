// Resize (nearest, linear) against hand-computed values and a plain reference
// for every coordinate_transformation_mode and nearest_mode, with scales or
// sizes, 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

using I = HarnessInput;
using V = std::vector<float>;

void expectNear(const V& got, const V& expected, double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tolerance) << what << " at " << i;
}

Node resizeNode(const std::string& mode, const std::string& coord, const std::string& nearest = "round_prefer_floor") {
  return makeNode("Resize", {{"mode", mode}, {"coordinate_transformation_mode", coord}, {"nearest_mode", nearest}});
}

// X, absent roi, scales as a float constant.
HarnessResult resizeByScales(const Node& node, const Shape& shape, const V& data, const V& scales, int threads = 1) {
  return runOp(node, {I::runtime(shape, data), I::absent(), I::constant({static_cast<int64_t>(scales.size())}, scales)},
               {.threads = threads});
}
// X, empty roi, empty scales, sizes (the opset-11 form).
HarnessResult resizeBySizes(const Node& node, const Shape& shape, const V& data, const std::vector<int64_t>& sizes,
                            int threads = 1) {
  return runOp(node,
               {I::runtime(shape, data), I::constant({0}, {}), I::constant({0}, {}),
                I::int64s({static_cast<int64_t>(sizes.size())}, sizes)},
               {.threads = threads});
}

TEST(ResizeOp, HandCheckedTwoByTwoUpsample) {
  const Shape shape{1, 1, 2, 2};
  const V image{1, 2, 3, 4};
  const V scales{1, 1, 2, 2};
  const double third = 1.0 / 3.0;
  // align_corners: source x = o * (2 - 1) / (4 - 1).
  expectNear(resizeByScales(resizeNode("linear", "align_corners"), shape, image, scales).outputs[0],
             {1, 1 + third, 2 - third, 2,                       //
              1 + 2 * third, 2, 2 + third, 3 - third,           //
              2 + third, 3 - third, 3, 3 + third,               //
              3, 3 + third, 4 - third, 4},
             1e-6, "align_corners");
  // half_pixel: source x = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped
  // into [0, 1] (this is PyTorch's bilinear with align_corners=False).
  const V halfPixel{1,   1.25, 1.75, 2,    //
                    1.5, 1.75, 2.25, 2.5,  //
                    2.5, 2.75, 3.25, 3.5,  //
                    3,   3.25, 3.75, 4};
  expectNear(resizeByScales(resizeNode("linear", "half_pixel"), shape, image, scales).outputs[0], halfPixel, 1e-6,
             "half_pixel");
  expectNear(resizeByScales(resizeNode("linear", "pytorch_half_pixel"), shape, image, scales).outputs[0], halfPixel,
             1e-6, "pytorch_half_pixel");
  // asymmetric: source x = o / 2 = 0, 0.5, 1, 1.5 (clamped to 1).
  expectNear(resizeByScales(resizeNode("linear", "asymmetric"), shape, image, scales).outputs[0],
             {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}, 1e-6, "asymmetric");
  // nearest: every pixel becomes a 2x2 block.
  const V blocks{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "asymmetric", "floor"), shape, image, scales).outputs[0], blocks);
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "half_pixel"), shape, image, scales).outputs[0], blocks);
  EXPECT_EQ(resizeBySizes(makeNode("Resize"), shape, image, {1, 1, 4, 4}).outputs[0], blocks);  // defaults
  // Downsample 4 -> 2 with asymmetric nearest picks columns 0 and 2.
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "asymmetric", "floor"), {1, 4}, {10, 11, 12, 13}, {1, 0.5f})
                .outputs[0],
            (V{10, 12}));
  // 3 -> 2 with align_corners nearest: sources 0 and 2.
  EXPECT_EQ(resizeBySizes(resizeNode("nearest", "align_corners"), {3}, {5, 6, 7}, {2}).outputs[0], (V{5, 7}));
  // Ties: asymmetric 2 -> 4 gives sources 0, 0.5, 1, 1.5; prefer floor/ceil decide.
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "asymmetric", "round_prefer_floor"), {2}, {5, 6}, {2}).outputs[0],
            (V{5, 5, 6, 6}));
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "asymmetric", "round_prefer_ceil"), {2}, {5, 6}, {2}).outputs[0],
            (V{5, 6, 6, 6}));
  EXPECT_EQ(resizeByScales(resizeNode("nearest", "asymmetric", "ceil"), {2}, {5, 6}, {2}).outputs[0],
            (V{5, 6, 6, 6}));
}

// --- reference ---------------------------------------------------------------------

// The spec's coordinate formulas (in float, as ONNX Runtime computes them).
float referenceCoordinate(const std::string& coord, int64_t o, float scale, int64_t in, int64_t out) {
  const float x = static_cast<float>(o);
  if (coord == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (coord == "align_corners") return out == 1 ? 0.0f : x * static_cast<float>(in - 1) / static_cast<float>(out - 1);
  if (coord == "asymmetric") return x / scale;
  return (x + 0.5f) / scale;  // tf_half_pixel_for_nn
}

int64_t referenceNearest(const std::string& mode, float x, int64_t in) {
  const double lower = std::floor(static_cast<double>(x));
  const double fraction = x - lower;
  int64_t i;
  if (mode == "floor") i = static_cast<int64_t>(lower);
  else if (mode == "ceil") i = static_cast<int64_t>(std::ceil(static_cast<double>(x)));
  else if (fraction < 0.5) i = static_cast<int64_t>(lower);
  else if (fraction > 0.5) i = static_cast<int64_t>(lower) + 1;
  else i = static_cast<int64_t>(lower) + (mode == "round_prefer_ceil" ? 1 : 0);
  return std::min(std::max<int64_t>(i, 0), in - 1);
}

// Nearest over every dim, or bilinear over the last two dims, in double.
V resizeReference(const V& in, const Shape& shape, const Shape& out, const std::vector<float>& scales,
                  const std::string& mode, const std::string& coord, const std::string& nearest) {
  const size_t rank = shape.size();
  V result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    std::vector<int64_t> o(rank);
    for (int64_t d = static_cast<int64_t>(rank) - 1, rest = flat; d >= 0; --d) {
      o[d] = rest % out[d];
      rest /= out[d];
    }
    // Per dim: (low index, high index, weight of high).
    std::vector<int64_t> low(rank), high(rank);
    std::vector<double> weight(rank, 0.0);
    for (size_t d = 0; d < rank; ++d) {
      const float x = referenceCoordinate(coord, o[d], scales[d], shape[d], out[d]);
      if (mode == "nearest") {
        low[d] = high[d] = referenceNearest(nearest, x, shape[d]);
      } else {
        const double c = std::min(std::max(static_cast<double>(x), 0.0), static_cast<double>(shape[d] - 1));
        low[d] = static_cast<int64_t>(std::floor(c));
        high[d] = std::min(low[d] + 1, shape[d] - 1);
        weight[d] = c - static_cast<double>(low[d]);
      }
    }
    // Sum over the 2^rank corners (weights are 0 on unchanged dims).
    double sum = 0.0;
    for (int64_t corner = 0; corner < (int64_t{1} << rank); ++corner) {
      double w = 1.0;
      int64_t offset = 0;
      for (size_t d = 0; d < rank; ++d) {
        const bool up = (corner >> (rank - 1 - d)) & 1;
        w *= up ? weight[d] : 1.0 - weight[d];
        offset = offset * shape[d] + (up ? high[d] : low[d]);
      }
      if (w != 0.0) sum += w * in[offset];
    }
    result[flat] = static_cast<float>(sum);
  }
  return result;
}

TEST(ResizeOp, EveryModeAgainstReference) {
  struct Case {
    Shape shape;
    std::vector<float> scales;  // used when sizes is empty
    std::vector<int64_t> sizes;
  };
  const std::vector<Case> cases = {
      {{1, 1, 2, 2}, {1, 1, 2, 2}, {}},      {{2, 3, 5, 7}, {1, 1, 2, 2}, {}},
      {{1, 2, 6, 9}, {1, 1, 0.5f, 0.5f}, {}}, {{1, 2, 7, 5}, {1, 1, 1.5f, 3}, {}},
      {{2, 2, 5, 8}, {1, 1, 0.6f, 1.75f}, {}}, {{1, 3, 4, 4}, {}, {1, 3, 7, 9}},
      {{1, 1, 9, 11}, {}, {1, 1, 4, 3}},      {{1, 1, 3, 3}, {}, {1, 1, 1, 5}},
      {{3, 8}, {}, {3, 13}},                   {{1, 16, 28, 28}, {1, 1, 2, 2}, {}},  // parallel
      {{1, 16, 40, 40}, {}, {1, 16, 25, 60}},
  };
  const std::vector<std::string> coords = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                           "tf_half_pixel_for_nn"};
  const std::vector<std::string> nearests = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  for (const Case& c : cases) {
    const V data = randomFloats(shapeElements(c.shape), 23);
    Shape out(c.shape.size());
    std::vector<float> scales(c.shape.size());
    for (size_t d = 0; d < c.shape.size(); ++d) {
      out[d] = c.sizes.empty() ? static_cast<int64_t>(std::floor(c.scales[d] * static_cast<float>(c.shape[d])))
                               : c.sizes[d];
      scales[d] = c.sizes.empty() ? c.scales[d] : static_cast<float>(out[d]) / static_cast<float>(c.shape[d]);
    }
    for (const std::string& coord : coords) {
      for (const std::string mode : {"nearest", "linear"}) {
        if (mode == "linear" && coord == "tf_half_pixel_for_nn") continue;
        for (const std::string& nearest : nearests) {
          if (mode == "linear" && nearest != "round_prefer_floor") continue;
          const V expected = resizeReference(data, c.shape, out, scales, mode, coord, nearest);
          const Node node = resizeNode(mode, coord, nearest);
          for (int threads : {1, 2}) {
            const HarnessResult r = c.sizes.empty() ? resizeByScales(node, c.shape, data, c.scales, threads)
                                                    : resizeBySizes(node, c.shape, data, c.sizes, threads);
            const std::string what = mode + " " + coord + " " + nearest + " " + shapeToString(c.shape) + " -> " +
                                     shapeToString(out) + " threads " + std::to_string(threads);
            EXPECT_EQ(r.shapes[0], out) << what;
            if (mode == "nearest")
              EXPECT_EQ(r.outputs[0], expected) << what;
            else
              EXPECT_LT(maxAbsDiff(r.outputs[0], expected), 1e-5) << what;
          }
        }
      }
    }
  }
}

TEST(ResizeOp, NearestResizesAnyDim) {
  const Shape shape{2, 3, 4};
  const V data = randomFloats(24, 4);
  const Shape out{4, 2, 8};
  const std::vector<float> scales{2, 2.0f / 3.0f, 2};
  for (const std::string coord : {"half_pixel", "asymmetric", "align_corners"}) {
    const V expected = resizeReference(data, shape, out, scales, "nearest", coord, "round_prefer_floor");
    EXPECT_EQ(resizeBySizes(resizeNode("nearest", coord), shape, data, {4, 2, 8}).outputs[0], expected) << coord;
  }
}

TEST(ResizeOp, Errors) {
  const Shape shape{1, 1, 2, 2};
  const V image{1, 2, 3, 4};
  const Node linear = resizeNode("linear", "half_pixel");
  // Both scales and sizes, or neither.
  expectNodeError([&] {
    runOp(linear, {I::runtime(shape, image), I::absent(), I::constant({4}, {1, 1, 2, 2}), I::int64s({4}, {1, 1, 4, 4})});
  }, "Resize");
  expectNodeError([&] { runOp(linear, {I::runtime(shape, image), I::absent(), I::absent()}); }, "Resize");
  expectNodeError([&] { resizeByScales(linear, shape, image, {1, 2, 2}); }, "Resize");
  expectNodeError([&] { resizeByScales(linear, shape, image, {1, 2, 2, 2}); }, "Resize");  // linear on C
  expectNodeError([&] { resizeByScales(resizeNode("cubic", "half_pixel"), shape, image, {1, 1, 2, 2}); }, "Resize");
  expectNodeError([&] { resizeByScales(resizeNode("linear", "tf_crop_and_resize"), shape, image, {1, 1, 2, 2}); },
                  "Resize");
  expectNodeError([&] { resizeByScales(resizeNode("nearest", "half_pixel", "up"), shape, image, {1, 1, 2, 2}); },
                  "Resize");
  expectNodeError([&] { resizeByScales(linear, shape, image, {1, 1, 0, 2}); }, "Resize");
  expectNodeError([&] {
    runOp(linear, {I::runtime(shape, image), I::absent(), I::runtime({4}, {1, 1, 2, 2})});
  }, "Resize");
}

}  // namespace
}  // namespace petrel::test
