// Decoders: every Isa bit-identical to the scalar one, and the tile
// decoders identical to the SGEMM's own packing of the dequantised matrix.
#include "weights/decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "kernels/sgemm.h"
#include "kernels/sgemm_internal.h"
#include "weights/fp16.h"
#include "weights_test_util.h"

namespace petrel {
namespace {

using test::awkwardWeights;
using test::describe;
using test::everyEncoding;

std::vector<Isa> isas() {
  std::vector<Isa> v{Isa::kScalar};
  if (fp16SimdUsable(Isa::kAvx2)) v.push_back(Isa::kAvx2);
  return v;
}

std::vector<float> dequantize(const EncodedMatrixView& v) {
  std::vector<float> out(static_cast<size_t>(v.layout.rows * v.layout.depth));
  for (int64_t r = 0; r < v.layout.rows; ++r)
    decodeRowSegmentScalar(v, r, 0, v.layout.depth, out.data() + r * v.layout.depth);
  return out;
}

bool sameBits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

TEST(Decode, RowSegmentsOnEveryIsaMatchTheScalarWholeRows) {
  const int64_t rows = 5, depth = 301;
  const std::vector<float> w = awkwardWeights(rows, depth, 21);
  for (const WeightEncoding& e : everyEncoding()) {
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    const std::vector<float> reference = dequantize(m.view());
    for (Isa isa : isas()) {
      std::vector<float> whole(rows * depth);
      decodeMatrix(m.view(), whole.data(), isa);
      ASSERT_TRUE(sameBits(whole.data(), reference.data(), whole.size())) << describe(e) << " " << isaName(isa);
      // Every start (odd ones split a byte of nibbles) and many lengths.
      for (int64_t k0 = 0; k0 < depth; k0 += 1 + k0 / 9)
        for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{17}, int64_t{33}, depth - k0}) {
          if (k0 + n > depth) continue;
          for (int64_t r = 0; r < rows; ++r) {
            std::vector<float> piece(n + 1, -7.0f);
            decodeRowSegment(m.view(), r, k0, n, piece.data(), isa);
            ASSERT_TRUE(sameBits(piece.data(), reference.data() + r * depth + k0, n))
                << describe(e) << " " << isaName(isa) << " row " << r << " k0 " << k0 << " n " << n;
            ASSERT_EQ(piece[n], -7.0f) << "wrote past the end";
          }
        }
    }
  }
}

// (r0, count, k0, kc) tiles of a rows x depth matrix, remainders included.
struct Tile {
  int64_t r0, count, k0, kc;
};
std::vector<Tile> tilesOf(int64_t rows, int64_t depth, int64_t width) {
  std::vector<Tile> tiles;
  for (int64_t count : {int64_t{1}, width - 1, width, width + 1, 2 * width + 3, rows})
    for (int64_t r0 : {int64_t{0}, int64_t{1}, int64_t{5}, rows - count}) {
      if (count < 1 || r0 < 0 || r0 + count > rows) continue;
      for (int64_t kc : {int64_t{1}, int64_t{3}, int64_t{16}, int64_t{31}, sgemmDepthBlock(depth), depth})
        for (int64_t k0 : {int64_t{0}, int64_t{1}, int64_t{17}, depth - kc}) {
          if (kc < 1 || k0 < 0 || k0 + kc > depth) continue;
          tiles.push_back({r0, count, k0, kc});
        }
    }
  return tiles;
}

TEST(Decode, LhsTilesEqualSgemmPackingOfTheDequantisedMatrix) {
  for (const auto& shape : {std::pair<int64_t, int64_t>{13, 147}, {6, 64}, {20, 300}, {7, 600}}) {
    const int64_t rows = shape.first, depth = shape.second;
    const std::vector<float> w = awkwardWeights(rows, depth, static_cast<uint32_t>(rows + depth));
    for (const WeightEncoding& e : everyEncoding()) {
      const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
      const std::vector<float> deq = dequantize(m.view());
      for (const Tile& t : tilesOf(rows, depth, kSgemmMR)) {
        const size_t size = static_cast<size_t>((t.count + kSgemmMR - 1) / kSgemmMR * kSgemmMR * t.kc);
        std::vector<float> expected(size, 99.0f);
        sgemmPackLhs({deq.data(), depth, false}, t.r0, t.count, t.k0, t.kc, expected.data());
        for (Isa isa : isas()) {
          std::vector<float> got(size + 1, 55.0f);
          decodePackLhs(m.view(), t.r0, t.count, t.k0, t.kc, got.data(), isa);
          ASSERT_TRUE(sameBits(got.data(), expected.data(), size))
              << describe(e) << " " << isaName(isa) << " [" << rows << "x" << depth << "] r0 " << t.r0 << " count "
              << t.count << " k0 " << t.k0 << " kc " << t.kc;
          ASSERT_EQ(got[size], 55.0f) << "wrote past the panels";
        }
      }
    }
  }
}

TEST(Decode, RhsTilesEqualSgemmPackingOfTheDequantisedTranspose) {
  for (const auto& shape : {std::pair<int64_t, int64_t>{37, 100}, {16, 64}, {50, 513}}) {
    const int64_t rows = shape.first, depth = shape.second;  // W [N][K], B = W^T [K][N]
    const std::vector<float> w = awkwardWeights(rows, depth, static_cast<uint32_t>(3 * rows + depth));
    for (const WeightEncoding& e : everyEncoding()) {
      const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
      const std::vector<float> deq = dequantize(m.view());
      for (const Tile& t : tilesOf(rows, depth, kSgemmNR)) {
        const size_t size = static_cast<size_t>((t.count + kSgemmNR - 1) / kSgemmNR * kSgemmNR * t.kc);
        std::vector<float> expected(size, 99.0f);
        sgemmPackRhs({deq.data(), depth, true}, t.k0, t.kc, t.r0, t.count, expected.data());
        for (Isa isa : isas()) {
          std::vector<float> got(size + 1, 55.0f);
          decodePackRhs(m.view(), t.r0, t.count, t.k0, t.kc, got.data(), isa);
          ASSERT_TRUE(sameBits(got.data(), expected.data(), size))
              << describe(e) << " " << isaName(isa) << " [" << rows << "x" << depth << "] j0 " << t.r0 << " count "
              << t.count << " k0 " << t.k0 << " kc " << t.kc;
          ASSERT_EQ(got[size], 55.0f) << "wrote past the panels";
        }
      }
    }
  }
}

// Decoding block by block along K the way the packed operands are laid out
// reproduces SgemmPackedLhs / SgemmPackedRhs of the dequantised weights.
TEST(Decode, WholePackedOperandsMatchSgemmPacked) {
  const int64_t rows = 23, depth = 700;  // K blocks of 234, 234, 232
  const std::vector<float> w = awkwardWeights(rows, depth, 77);
  for (const WeightEncoding& e : everyEncoding()) {
    const EncodedMatrix m = encodeWeights(w.data(), rows, depth, e, "w");
    const std::vector<float> deq = dequantize(m.view());
    const SgemmPackedLhs lhs({deq.data(), depth, false}, rows, depth);
    const SgemmPackedRhs rhs({deq.data(), depth, true}, depth, rows);
    const int64_t kb = sgemmDepthBlock(depth);
    for (int64_t k0 = 0; k0 < depth; k0 += kb) {
      const int64_t kc = std::min(kb, depth - k0);
      std::vector<float> a((rows + kSgemmMR - 1) / kSgemmMR * kSgemmMR * kc);
      decodePackLhs(m.view(), 0, rows, k0, kc, a.data());
      EXPECT_TRUE(sameBits(a.data(), lhs.panels(k0, 0), a.size())) << describe(e) << " k0 " << k0;
      // From the second panel on, as the driver asks for a row range.
      std::vector<float> a2(((rows - kSgemmMR) + kSgemmMR - 1) / kSgemmMR * kSgemmMR * kc);
      decodePackLhs(m.view(), kSgemmMR, rows - kSgemmMR, k0, kc, a2.data());
      EXPECT_TRUE(sameBits(a2.data(), lhs.panels(k0, 1), a2.size())) << describe(e) << " k0 " << k0;
      std::vector<float> b((rows + kSgemmNR - 1) / kSgemmNR * kSgemmNR * kc);
      decodePackRhs(m.view(), 0, rows, k0, kc, b.data());
      EXPECT_TRUE(sameBits(b.data(), rhs.panels(k0, 0), b.size())) << describe(e) << " k0 " << k0;
    }
  }
}

}  // namespace
}  // namespace petrel
