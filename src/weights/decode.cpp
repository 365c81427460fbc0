#include "weights/decode.h"

#include <algorithm>
#include <cstring>

#include "kernels/sgemm.h"
#include "weights/fp16.h"

namespace petrel {

void interleaveRowsScalar(const float* pieces, int64_t width, int64_t n, float* out) {
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < width; ++i) out[k * width + i] = pieces[i * kInterleaveChunk + k];
}

void decodeRowSegmentScalar(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out) {
  const EncodedLayout& l = w.layout;
  const uint8_t* values = w.values + row * l.rowBytes();
  switch (l.storage) {
    case WeightStorage::kFloat32:
      std::memcpy(out, values + 4 * k0, n * sizeof(float));
      return;
    case WeightStorage::kFloat16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, values + 2 * (k0 + i), 2);
        out[i] = halfToFloat(h);
      }
      return;
    case WeightStorage::kInt8: {
      const int zero = w.zeroPoint(row, 0);
      const float scale = w.scale(row, 0);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(static_cast<int8_t>(values[k0 + i]) - zero) * scale;
      return;
    }
    case WeightStorage::kInt4: {
      const int64_t blockLength = l.blockLength();
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = k0 + i, b = k / blockLength;
        const int u = (values[k / 2] >> (4 * (k & 1))) & 0xf;
        out[i] = static_cast<float>(u - w.zeroPoint(row, b)) * w.scale(row, b);
      }
      return;
    }
  }
}

namespace {

// Rows [r0, r0 + count) of W, K range [k0, k0 + kc), as panels `width` rows
// wide, interleaved per k (out[p*width*kc + k*width + i]); missing rows are 0.
// Both packed layouts are this with width MR (A = W) or NR (B = W^T).
// Rows are decoded a piece at a time into a small stack buffer (contiguous
// reads of the encoded row), then interleaved into the panel (contiguous writes).
void decodePanels(const EncodedMatrixView& w, int64_t r0, int64_t count, int64_t k0, int64_t kc, int64_t width,
                  float* out, Isa isa) {
  alignas(64) float pieces[kInterleaveMaxRows * kInterleaveChunk];
  for (int64_t p = 0; p < count; p += width, out += width * kc) {
    const int64_t live = std::min(width, count - p);
    for (int64_t c = 0; c < kc; c += kInterleaveChunk) {
      const int64_t n = std::min(kInterleaveChunk, kc - c);
      for (int64_t i = 0; i < width; ++i) {
        float* piece = pieces + i * kInterleaveChunk;
        if (i < live) decodeRowSegment(w, r0 + p + i, k0 + c, n, piece, isa);
        else std::fill(piece, piece + n, 0.0f);
      }
      if (isa == Isa::kAvx2 && bestIsa() == Isa::kAvx2) interleaveRowsAvx2(pieces, width, n, out + c * width);
      else interleaveRowsScalar(pieces, width, n, out + c * width);
    }
  }
}

}  // namespace

void decodeRowSegment(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out, Isa isa) {
  if (fp16SimdUsable(isa)) return decodeRowSegmentAvx2(w, row, k0, n, out);
  decodeRowSegmentScalar(w, row, k0, n, out);
}

void decodeMatrix(const EncodedMatrixView& w, float* out, Isa isa) {
  for (int64_t r = 0; r < w.layout.rows; ++r)
    decodeRowSegment(w, r, 0, w.layout.depth, out + r * w.layout.depth, isa);
}

void decodePackLhs(const EncodedMatrixView& w, int64_t r0, int64_t count, int64_t k0, int64_t kc, float* out,
                   Isa isa) {
  decodePanels(w, r0, count, k0, kc, kSgemmMR, out, isa);
}

void decodePackRhs(const EncodedMatrixView& w, int64_t r0, int64_t count, int64_t k0, int64_t kc, float* out,
                   Isa isa) {
  decodePanels(w, r0, count, k0, kc, kSgemmNR, out, isa);
}

}  // namespace petrel
