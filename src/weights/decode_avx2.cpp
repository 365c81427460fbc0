// AVX2 row decoders: 8 values per step, the same arithmetic as the scalar
// twin (float(q - zero) * scale, no FMA), which also does the tails.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/avx2_lanes.h"
#include "weights/decode.h"
#include "weights/fp16.h"

namespace petrel {

namespace {

// out[0, n) = float(q - zero) * scale for int8 q[0, n); returns how many were done (a multiple of 8).
int64_t decodeInt8x8(const int8_t* q, int64_t n, int zero, float scale, float* out) {
  const __m256i z = _mm256_set1_epi32(zero);
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)), s));
  }
  return i;
}

// The same for nibbles: value i is nibble i of `bytes` (low first); `bytes`
// starts at an even value. Returns how many were done (a multiple of 8).
int64_t decodeInt4x8(const uint8_t* bytes, int64_t n, int zero, float scale, float* out) {
  const __m256i z = _mm256_set1_epi32(zero);
  const __m256 s = _mm256_set1_ps(scale);
  const __m128i spread = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i shifts = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
  const __m256i mask = _mm256_set1_epi32(0xf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int32_t four;
    std::memcpy(&four, bytes + i / 2, 4);
    const __m128i doubled = _mm_shuffle_epi8(_mm_cvtsi32_si128(four), spread);  // b0 b0 b1 b1 ...
    const __m256i u = _mm256_and_si256(_mm256_srlv_epi32(_mm256_cvtepu8_epi32(doubled), shifts), mask);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(u, z)), s));
  }
  return i;
}

// Loads 8 floats at column k of the 8 pieces from piece `first`.
inline void loadColumns(const float* pieces, int64_t first, int64_t k, __m256 r[8]) {
  for (int64_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(pieces + (first + i) * kInterleaveChunk + k);
}

}  // namespace

// 8 values of k at a time by 8x8 transposes: width 16 (NR) as two halves,
// width 6 (MR) as the SGEMM packs A (avx2::interleave6Rows8); other widths and
// the n % 8 tail as the scalar twin does.
void interleaveRowsAvx2(const float* pieces, int64_t width, int64_t n, float* out) {
  int64_t k = 0;
  if (width == 16) {
    for (; k + 8 <= n; k += 8)
      for (int64_t half = 0; half < 2; ++half) {
        __m256 r[8];
        loadColumns(pieces, 8 * half, k, r);
        avx2::transpose8x8(r);
        for (int64_t t = 0; t < 8; ++t) _mm256_storeu_ps(out + (k + t) * 16 + 8 * half, r[t]);
      }
  } else if (width == 6) {
    for (; k + 8 <= n; k += 8) avx2::interleave6Rows8(pieces + k, kInterleaveChunk, out + k * 6);
  }
  interleaveRowsScalar(pieces + k, width, n - k, out + k * width);  // the n % 8 tail
}

void decodeRowSegmentAvx2(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out) {
  const EncodedLayout& l = w.layout;
  const uint8_t* values = w.values + row * l.rowBytes();
  switch (l.storage) {
    case WeightStorage::kFloat32:
    case WeightStorage::kFloat16:
      if (l.storage == WeightStorage::kFloat16)
        return halfToFloatArrayF16c(reinterpret_cast<const uint16_t*>(values) + k0, out, static_cast<size_t>(n));
      return decodeRowSegmentScalar(w, row, k0, n, out);
    case WeightStorage::kInt8: {
      const int64_t done =
          decodeInt8x8(reinterpret_cast<const int8_t*>(values) + k0, n, w.zeroPoint(row, 0), w.scale(row, 0), out);
      if (done < n) decodeRowSegmentScalar(w, row, k0 + done, n - done, out + done);
      return;
    }
    case WeightStorage::kInt4: {
      // Block by block (one scale and zero each); an odd start takes one scalar step.
      // The row's scales and zero points are looked up here, not per block
      // through the view's accessors (a measurable share of int4 decoding).
      const int64_t blockLength = l.blockLength();
      const int64_t blocksPerRow = l.blocksPerRow();
      const float* scales = w.scales + row * blocksPerRow;
      const uint8_t* zeros = w.zeroPoints ? w.zeroPoints + row * blocksPerRow : nullptr;
      int64_t k = k0;
      const int64_t end = k0 + n;
      while (k < end) {
        const int64_t b = k / blockLength;
        const int64_t pieceEnd = std::min(end, (b + 1) * blockLength);
        if (k & 1) {
          decodeRowSegmentScalar(w, row, k, 1, out + (k - k0));
          ++k;
        }
        const int zero = zeros ? static_cast<int>(zeros[b]) : kInt4SymmetricZero;
        const int64_t done = decodeInt4x8(values + k / 2, pieceEnd - k, zero, scales[b], out + (k - k0));
        k += done;
        if (k < pieceEnd) decodeRowSegmentScalar(w, row, k, pieceEnd - k, out + (k - k0));
        k = pieceEnd;
      }
      return;
    }
  }
}

}  // namespace petrel
