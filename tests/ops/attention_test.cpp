// PetrelAttention (the fused multi-head attention) against a plain reference:
// heads read from column ranges of wider operands, several groups, cross
// attention (other token counts for K and V), odd sizes that leave GEMM
// remainders, 1 and 2 threads; and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"
#include "support/test_support.h"

namespace petrel {
namespace {

using test::HarnessInput;

struct Operand {
  Shape shape;  // [tokens, groups, features]
  std::vector<float> data;
  int64_t start = 0;
  float at(int64_t t, int64_t n, int64_t h, int64_t d, int64_t j) const {
    return data[(t * shape[1] + n) * shape[2] + start + h * d + j];
  }
};

struct AttentionCase {
  Operand q, k, v;
  int64_t heads = 1, headDim = 1;
  float scale = 1.0f;
};

// In double, softmax taken the textbook way (no max subtracted: the test
// values are small).
std::vector<double> referenceAttention(const AttentionCase& c) {
  const int64_t tq = c.q.shape[0], tk = c.k.shape[0], groups = c.q.shape[1], d = c.headDim;
  std::vector<double> y(tq * groups * c.heads * d, 0.0);
  for (int64_t n = 0; n < groups; ++n)
    for (int64_t h = 0; h < c.heads; ++h)
      for (int64_t t = 0; t < tq; ++t) {
        std::vector<double> p(tk);
        double sum = 0.0;
        for (int64_t s = 0; s < tk; ++s) {
          double dot = 0.0;
          for (int64_t j = 0; j < d; ++j) dot += double(c.q.at(t, n, h, d, j)) * c.k.at(s, n, h, d, j);
          p[s] = std::exp(c.scale * dot);
          sum += p[s];
        }
        for (int64_t j = 0; j < d; ++j) {
          double out = 0.0;
          for (int64_t s = 0; s < tk; ++s) out += p[s] / sum * c.v.at(s, n, h, d, j);
          y[((t * groups + n) * c.heads + h) * d + j] = out;
        }
      }
  return y;
}

Node attentionNode(const AttentionCase& c) {
  return test::makeNode("PetrelAttention", {{"heads", c.heads},
                                            {"head_dim", c.headDim},
                                            {"q_start", c.q.start},
                                            {"k_start", c.k.start},
                                            {"v_start", c.v.start},
                                            {"scale", c.scale}});
}

void checkAttention(const AttentionCase& c, int threads) {
  SCOPED_TRACE("Q " + shapeToString(c.q.shape) + " K " + shapeToString(c.k.shape) + " V " +
               shapeToString(c.v.shape) + " heads " + std::to_string(c.heads) + " x " + std::to_string(c.headDim) +
               ", threads " + std::to_string(threads));
  const test::HarnessResult r = test::runOp(attentionNode(c),
                                            {HarnessInput::runtime(c.q.shape, c.q.data),
                                             HarnessInput::runtime(c.k.shape, c.k.data),
                                             HarnessInput::runtime(c.v.shape, c.v.data)},
                                            test::withThreads(threads));
  EXPECT_EQ(r.kernel, "attention.sgemm.f32");
  ASSERT_EQ(r.shapes[0], (Shape{c.q.shape[0], c.q.shape[1] * c.heads, c.headDim}));
  test::expectClose(r.outputs[0], referenceAttention(c), 1e-5);
}

Operand operand(Shape shape, int64_t start, uint32_t seed) {
  std::vector<float> data = test::randomFloats(static_cast<size_t>(shapeElements(shape)), seed);
  return {std::move(shape), std::move(data), start};
}

TEST(Attention, HeadsOfOneFusedProjection) {
  // q, k and v are column ranges of one [T, 1, 3 * H * d] tensor, as ViT's
  // in-projection writes them; 19 tokens leave remainders in both GEMMs.
  const int64_t tokens = 19, heads = 2, d = 8, width = heads * d;
  const Operand qkv = operand({tokens, 1, 3 * width}, 0, 1);
  AttentionCase c{qkv, qkv, qkv, heads, d, 0.35f};
  c.k.start = width;
  c.v.start = 2 * width;
  for (int threads : {1, 2}) checkAttention(c, threads);
}

TEST(Attention, GroupsAndCrossAttention) {
  // Two groups (a batch of 2 in PyTorch's [T, N, E] layout), Q with 5
  // tokens against K and V with 7, each from its own tensor and offset.
  AttentionCase c{operand({5, 2, 12}, 0, 2), operand({7, 2, 20}, 8, 3), operand({7, 2, 13}, 1, 4), 3, 4, 0.5f};
  for (int threads : {1, 2}) checkAttention(c, threads);
}

TEST(Attention, EnoughWorkForTheThreadsToShareTheHeads) {
  // 4 heads of 33 x 33 x 40: above the size at which the heads go to the pool.
  const int64_t tokens = 33, heads = 4, d = 40;
  AttentionCase c{operand({tokens, 1, heads * d}, 0, 5), operand({tokens, 1, heads * d}, 0, 6),
                  operand({tokens, 1, heads * d}, 0, 7), heads, d, 1.0f / std::sqrt(40.0f)};
  for (int threads : {1, 2, 3}) checkAttention(c, threads);
}

TEST(Attention, Errors) {
  const AttentionCase good{operand({4, 1, 8}, 0, 8), operand({4, 1, 8}, 0, 9), operand({4, 1, 8}, 0, 10), 2, 4, 1.0f};
  auto run = [](const AttentionCase& c, const Node& node) {
    test::runOp(node, {HarnessInput::runtime(c.q.shape, c.q.data), HarnessInput::runtime(c.k.shape, c.k.data),
                       HarnessInput::runtime(c.v.shape, c.v.data)});
  };
  AttentionCase c = good;
  c.k.start = 4;  // 4 + 2 x 4 passes K's 8 features
  test::expectError([&] { run(c, attentionNode(c)); }, {"k_start 4", "passes the 8 features of K"});
  c = good;
  c.v = operand({4, 2, 8}, 0, 11);
  test::expectError([&] { run(c, attentionNode(c)); }, {"same number of groups"});
  c = good;
  c.v = operand({5, 1, 8}, 0, 12);
  test::expectError([&] { run(c, attentionNode(c)); }, {"same number of tokens"});
  c = good;
  c.q = operand({4, 8}, 0, 13);
  test::expectError([&] { run(c, attentionNode(c)); }, {"input Q", "[tokens, groups, features]"});
  c = good;
  Node noHeads = attentionNode(c);
  noHeads.attributes.erase("heads");
  test::expectError([&] { run(c, noHeads); }, {"heads and head_dim must be positive"});
}

}  // namespace
}  // namespace petrel
