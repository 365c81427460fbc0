// Transpose against a plain index reference: every 4-D and 3-D permutation on
// odd sizes, size-1 dims, large tensors (tiles and parallel rows), int64 data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel::test {
namespace {

using I = HarnessInput;

// Reference: out[i0, i1, ...] = in[j] with j[perm[k]] = i[k].
std::vector<float> transposeReference(const std::vector<float>& in, const Shape& shape,
                                      const std::vector<int64_t>& perm, Shape& out) {
  const size_t rank = shape.size();
  out.resize(rank);
  for (size_t k = 0; k < rank; ++k) out[k] = shape[perm[k]];
  std::vector<int64_t> inStrides(rank, 1);
  for (size_t d = rank; d-- > 1;) inStrides[d - 1] = inStrides[d] * shape[d];
  std::vector<float> result(shapeElements(out));
  for (int64_t flat = 0; flat < static_cast<int64_t>(result.size()); ++flat) {
    int64_t rest = flat, offset = 0;
    for (size_t k = rank; k-- > 0;) {
      offset += (rest % out[k]) * inStrides[perm[k]];
      rest /= out[k];
    }
    result[flat] = in[offset];
  }
  return result;
}

std::string permName(const std::vector<int64_t>& perm) { return shapeToString(perm); }

void checkTranspose(const Shape& shape, const std::vector<int64_t>& perm, bool withInts = true) {
  std::vector<float> data(shapeElements(shape));
  std::iota(data.begin(), data.end(), 0.0f);
  Shape expectedShape;
  const std::vector<float> expected = transposeReference(data, shape, perm, expectedShape);
  const Node node = makeNode("Transpose", {{"perm", perm}});
  for (int threads : {1, 2}) {
    const HarnessResult r = runOp(node, {I::runtime(shape, data)}, {.threads = threads});
    EXPECT_EQ(r.shapes[0], expectedShape);
    EXPECT_EQ(r.outputs[0], expected) << shapeToString(shape) << " perm " << permName(perm) << " kernel "
                                      << r.kernel << " threads " << threads;
  }
  if (withInts) {
    const HarnessResult s = runOp(node, {I::int64s(shape, std::vector<int64_t>(data.begin(), data.end()))});
    ASSERT_TRUE(s.statics[0]);
    EXPECT_EQ(s.statics[0]->shape, expectedShape);
    EXPECT_EQ(std::vector<float>(s.statics[0]->i64.begin(), s.statics[0]->i64.end()), expected);
  }
}

TEST(TransposeOp, All4DPermutationsOnOddSizes) {
  for (const Shape& shape : {Shape{3, 5, 7, 9}, Shape{1, 3, 1, 5}, Shape{2, 17, 1, 19}, Shape{5, 33, 3, 35}}) {
    std::vector<int64_t> perm{0, 1, 2, 3};
    int count = 0;
    do {
      checkTranspose(shape, perm);
      ++count;
    } while (std::next_permutation(perm.begin(), perm.end()));
    EXPECT_EQ(count, 24);
  }
}

TEST(TransposeOp, All3DAnd2DPermutations) {
  for (const Shape& shape : {Shape{17, 33, 19}, Shape{1, 40, 3}, Shape{3, 1, 1}}) {
    std::vector<int64_t> perm{0, 1, 2};
    do checkTranspose(shape, perm);
    while (std::next_permutation(perm.begin(), perm.end()));
  }
  for (const Shape& shape : {Shape{1, 1}, Shape{15, 31}, Shape{64, 1}, Shape{100, 333}}) {
    checkTranspose(shape, {1, 0});
    checkTranspose(shape, {0, 1});
  }
  checkTranspose({}, {});
  checkTranspose({7}, {0});
}

TEST(TransposeOp, LargeCommonLayouts) {
  // NCHW <-> NHWC, ViT head split and merge, 5-D: tiles and rows, split across threads.
  checkTranspose({2, 64, 56, 56}, {0, 2, 3, 1}, false);
  checkTranspose({2, 56, 56, 64}, {0, 3, 1, 2}, false);
  checkTranspose({1, 3, 224, 224}, {0, 2, 3, 1}, false);
  checkTranspose({2, 197, 12, 64}, {0, 2, 1, 3}, false);
  checkTranspose({2, 12, 197, 64}, {0, 2, 3, 1}, false);
  checkTranspose({3, 2, 12, 197, 16}, {1, 3, 0, 2, 4}, false);
  checkTranspose({4, 5, 6, 7, 8}, {4, 2, 0, 3, 1}, false);
}

TEST(TransposeOp, DefaultReversesAndKernelNames) {
  std::vector<float> data(2 * 3 * 4);
  std::iota(data.begin(), data.end(), 0.0f);
  Shape expectedShape;
  const std::vector<float> expected = transposeReference(data, {2, 3, 4}, {2, 1, 0}, expectedShape);
  const HarnessResult r = runOp(makeNode("Transpose"), {I::runtime({2, 3, 4}, data)});
  EXPECT_EQ(r.shapes[0], (Shape{4, 3, 2}));
  EXPECT_EQ(r.outputs[0], expected);
  EXPECT_EQ(r.kernel, "transpose.tiles.f32");
  // Moving only size-1 dims aliases the input; keeping the innermost dim copies rows.
  EXPECT_TRUE(runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{1, 0, 2}}}),
                    {I::runtime({1, 3, 4}, std::vector<float>(12))})
                  .aliased);
  EXPECT_FALSE(runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{1, 0, 2}}}),
                     {I::runtime({2, 3, 4}, std::vector<float>(24))})
                   .aliased);
  EXPECT_EQ(runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{1, 0, 2}}}),
                  {I::runtime({2, 3, 4}, std::vector<float>(24))})
                .kernel,
            "transpose.rows.f32");
}

TEST(TransposeOp, Errors) {
  const I data = I::runtime({2, 3, 4}, std::vector<float>(24));
  expectNodeError([&] { runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{0, 1}}}), {data}); }, "Transpose");
  expectNodeError([&] { runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{0, 1, 1}}}), {data}); },
                  "Transpose");
  expectNodeError([&] { runOp(makeNode("Transpose", {{"perm", std::vector<int64_t>{0, 1, 3}}}), {data}); },
                  "Transpose");
}

}  // namespace
}  // namespace petrel::test
