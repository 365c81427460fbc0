// AVX2 transforms of the Winograd F(4x4, 3x3) convolution (winograd.h), 8
// tiles per vector (lane e = tile e of a group of 8).
//
// Gathering: for input row r, each tile's columns 0..3 and 2..5 are two
// 128-bit loads; tiles e and e + 4 share a 256-bit register (low and high
// lane), and an in-lane 4x4 transpose of four such registers gives the column
// vectors d[r][0..3] (and from the second loads d[r][4..5]) in tile order.
// The output transform runs the same transpose backwards: one 128-bit store per
// tile and row. Tiles reaching into the padding read their patch through
// masked loads (zeros outside the image); tiles cut by the output's edge
// read (residual) and store only their rows and columns inside it.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/int_math.h"
#include "kernels/winograd.h"
#include "kernels/x86/avx2_math.h"

namespace petrel {

namespace {

constexpr int kLanes = 8;

// Groups of 8 tiles that both transforms take in a row per channel: a
// channel's rows of V (input) and M (output) in each position are then
// written or read whole while their cache lines are in L1, instead of half a
// line per group and the other half later from L2.
constexpr int64_t kGroupsPerPass = 16;

using avx2::Fused;

// In-lane 4x4 transpose: out[j] lane h = (in[0][j], in[1][j], in[2][j], in[3][j]) of lane h.
inline void transpose4(const __m256 in[4], __m256 out[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]);
  const __m256 t1 = _mm256_unpackhi_ps(in[0], in[1]);
  const __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]);
  const __m256 t3 = _mm256_unpackhi_ps(in[2], in[3]);
  out[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  out[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  out[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  out[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

inline __m256 load2x128(const float* low, const float* high) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(low)), _mm_loadu_ps(high), 1);
}

// t = B^T d for one column of 6 (points 0, 1, -1, 1/2, -2, infinity; the
// matrices are in winograd.cpp).
inline void inputTransform1d(const __m256 d[6], __m256 t[6]) {
  const __m256 half = _mm256_set1_ps(0.5f), two = _mm256_set1_ps(2.0f);
  const __m256 oneAndHalf = _mm256_set1_ps(1.5f), twoAndHalf = _mm256_set1_ps(2.5f);
  const __m256 d3m1 = _mm256_sub_ps(d[3], d[1]);
  const __m256 d4m2 = _mm256_sub_ps(d[4], d[2]);
  t[0] = _mm256_fmadd_ps(oneAndHalf, d3m1, _mm256_fnmadd_ps(two, d[2], _mm256_add_ps(d[0], d[4])));
  t[1] = _mm256_fmadd_ps(twoAndHalf, d[3], _mm256_fmadd_ps(half, d[2], _mm256_sub_ps(d[4], d[1])));
  t[2] = _mm256_fmadd_ps(half, d[3], _mm256_fnmadd_ps(twoAndHalf, d[2], _mm256_add_ps(d[4], d[1])));
  t[3] = _mm256_fmadd_ps(two, d3m1, d4m2);
  t[4] = _mm256_fnmadd_ps(half, d3m1, d4m2);
  t[5] = _mm256_fmadd_ps(oneAndHalf, d4m2, _mm256_fnmadd_ps(two, d[3], _mm256_add_ps(d[5], d[1])));
}

// y = A^T m for one column of 6.
inline void outputTransform1d(const __m256 m[6], __m256 y[4]) {
  const __m256 m1p2 = _mm256_add_ps(m[1], m[2]);
  const __m256 m1m2 = _mm256_sub_ps(m[1], m[2]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], m1p2), _mm256_add_ps(m[3], m[4]));
  y[1] = _mm256_fmadd_ps(_mm256_set1_ps(0.5f), m[3], _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), m[4], m1m2));
  y[2] = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), m[3], _mm256_fmadd_ps(_mm256_set1_ps(4.0f), m[4], m1p2));
  y[3] = _mm256_fmadd_ps(_mm256_set1_ps(0.125f), m[3],
                         _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), m[4], _mm256_add_ps(m1m2, m[5])));
}

// The first `count` (1-4) floats at src, the other lanes zero.
inline __m128 loadFirst(const float* src, int count) {
  switch (count) {
    case 4:
      return _mm_loadu_ps(src);
    case 3:
      return _mm_movelh_ps(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(src)), _mm_load_ss(src + 2));
    case 2:
      return _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(src));
    default:
      return _mm_load_ss(src);
  }
}

// The first `count` (1-4) floats of `values` to dst. Tiles cut by the
// output's right edge (13x13 and 27x27 planes: every row of tiles) store
// here, so no call to memcpy and no masked store (slow on AMD).
inline void storeFirst(float* dst, __m128 values, int count) {
  switch (count) {
    case 4:
      _mm_storeu_ps(dst, values);
      break;
    case 3:
      _mm_storel_pi(reinterpret_cast<__m64*>(dst), values);
      _mm_store_ss(dst + 2, _mm_movehl_ps(values, values));
      break;
    case 2:
      _mm_storel_pi(reinterpret_cast<__m64*>(dst), values);
      break;
    default:
      _mm_store_ss(dst, values);
      break;
  }
}

// Where the 8 lanes' patches lie in one input channel plane.
struct InputGroup {
  int64_t offset[kLanes];  // of each patch's top-left corner from the plane's start (may be outside)
  bool inside = true;      // every patch lies wholly inside the image
  // Masked groups: per lane and row, which of columns 0..3 and 2..5 are inside
  // the image (all off for rows outside it).
  __m128i mask03[kLanes][6], mask25[kLanes][6];
};

// The address of `offset` floats from `base`, computed as an integer: a
// padded patch's corner may lie outside the plane, where only masked-off
// elements are "read" (masked loads do not touch them).
inline const float* addressAt(const float* base, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(base) + offset * int64_t{sizeof(float)});
}

// Transforms one channel of a group of 8 tiles; kMasked reads through the
// masks (patches reaching into the padding), else with plain loads.
template <bool kMasked>
inline void inputTransformChannel(const InputGroup& group, const float* plane, int64_t rowStride, float* dst,
                                  int64_t positionStride) {
  __m256 w[6][6];  // w[r] = B^T applied along patch row r
#pragma GCC unroll 6
  for (int r = 0; r < 6; ++r) {
    __m256 a[4], b[4], cols[4], cols2[4];
#pragma GCC unroll 4
    for (int e = 0; e < 4; ++e) {
      const float* low = addressAt(plane, group.offset[e] + r * rowStride);
      const float* high = addressAt(plane, group.offset[e + 4] + r * rowStride);
      if (kMasked) {
        a[e] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(low, group.mask03[e][r])),
                                    _mm_maskload_ps(high, group.mask03[e + 4][r]), 1);
        b[e] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(low + 2, group.mask25[e][r])),
                                    _mm_maskload_ps(high + 2, group.mask25[e + 4][r]), 1);
      } else {
        a[e] = load2x128(low, high);
        b[e] = load2x128(low + 2, high + 2);
      }
    }
    transpose4(a, cols);   // columns 0..3
    transpose4(b, cols2);  // columns 2..5
    const __m256 d[6] = {cols[0], cols[1], cols[2], cols[3], cols2[2], cols2[3]};
    inputTransform1d(d, w[r]);
  }
  // V[i][k] = (B^T applied down column k of w)[i].
#pragma GCC unroll 6
  for (int k = 0; k < 6; ++k) {
    const __m256 column[6] = {w[0][k], w[1][k], w[2][k], w[3][k], w[4][k], w[5][k]};
    __m256 out[6];
    inputTransform1d(column, out);
    for (int i = 0; i < 6; ++i) _mm256_storeu_ps(dst + (i * 6 + k) * positionStride, out[i]);
  }
}

// The placement (and, at the image's edge, the masks) of group j0's 8 tiles.
void placeGroup(const WinogradShape& s, int64_t firstTile, int64_t tileCount, int64_t j0, InputGroup& group,
                int64_t& image) {
  const int64_t planeSize = s.inH * s.inW;
  const int lanes = static_cast<int>(std::min<int64_t>(kLanes, tileCount - j0));
  // Tiles of different images: offsets from the first lane's image.
  image = winogradTilePlace(s, firstTile + j0).image;
  group.inside = true;
  for (int e = 0; e < kLanes; ++e) {
    // Lanes past the block repeat its last tile: valid reads, results unused.
    const WinogradTilePlace t = winogradTilePlace(s, firstTile + j0 + std::min(e, lanes - 1));
    group.offset[e] = (t.image - image) * s.inChannels * planeSize + t.inY * s.inW + t.inX;
    group.inside = group.inside && t.inY >= 0 && t.inY + 6 <= s.inH && t.inX >= 0 && t.inX + 6 <= s.inW;
  }
  if (group.inside) return;
  for (int e = 0; e < kLanes; ++e) {
    const WinogradTilePlace t = winogradTilePlace(s, firstTile + j0 + std::min(e, lanes - 1));
    for (int r = 0; r < 6; ++r) {
      const bool rowInside = t.inY + r >= 0 && t.inY + r < s.inH;
      alignas(16) int32_t m03[4], m25[4];
      for (int x = 0; x < 4; ++x) {
        m03[x] = rowInside && t.inX + x >= 0 && t.inX + x < s.inW ? -1 : 0;
        m25[x] = rowInside && t.inX + 2 + x >= 0 && t.inX + 2 + x < s.inW ? -1 : 0;
      }
      group.mask03[e][r] = _mm_load_si128(reinterpret_cast<const __m128i*>(m03));
      group.mask25[e][r] = _mm_load_si128(reinterpret_cast<const __m128i*>(m25));
    }
  }
}

}  // namespace

void winogradInputTransformAvx2(const WinogradShape& s, const float* input, int64_t firstTile, int64_t tileCount,
                                int64_t c0, int64_t c1, float* v, int64_t ld, int64_t positionStride) {
  const int64_t planeSize = s.inH * s.inW;
  InputGroup groups[kGroupsPerPass];
  int64_t images[kGroupsPerPass];
  for (int64_t pass = 0; pass < tileCount; pass += kGroupsPerPass * kLanes) {
    const int64_t count = std::min(kGroupsPerPass, ceilDiv(tileCount - pass, kLanes));
    for (int64_t g = 0; g < count; ++g) placeGroup(s, firstTile, tileCount, pass + g * kLanes, groups[g], images[g]);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t g = 0; g < count; ++g) {
        const float* plane = input + (images[g] * s.inChannels + c) * planeSize;
        float* dst = v + c * ld + pass + g * kLanes;
        if (groups[g].inside)
          inputTransformChannel<false>(groups[g], plane, s.inW, dst, positionStride);
        else
          inputTransformChannel<true>(groups[g], plane, s.inW, dst, positionStride);
      }
  }
}

namespace {

// Where the 8 tiles of one group are stored.
struct OutputGroup {
  int64_t outOffset[kLanes] = {};  // each tile's top-left in output channel 0 of its image
  int rows[kLanes] = {}, cols[kLanes] = {};  // inside the output (0 rows for lanes past the block)
  bool allFull = false;                      // 8 whole tiles: plain loads and stores
};

// Output channel o of one group of 8 tiles: A^T m A, then the epilogue. The
// activation is a template parameter (avx2::withFused): a call to an
// out-of-line activation anywhere in the loop, even one never taken, made
// GCC keep the 24 vectors of the transform on the stack.
template <Fused F>
inline void outputTransformGroup(const WinogradShape& s, const float* src, int64_t positionStride,
                                 const OutputGroup& group, float biasValue, const float* residual, float* plane,
                                 const ActivationParams& activation) {
  const __m128 zero = _mm_setzero_ps();
  // Columns first: t[i][k] = (A^T applied down column k of m)[i].
  __m256 t[4][6];
  for (int k = 0; k < 6; ++k) {
    __m256 column[6], y[4];
    for (int r = 0; r < 6; ++r) column[r] = _mm256_loadu_ps(src + (r * 6 + k) * positionStride);
    outputTransform1d(column, y);
    for (int i = 0; i < 4; ++i) t[i][k] = y[i];
  }
  const __m256 bias = _mm256_set1_ps(biasValue);
  for (int i = 0; i < 4; ++i) {
    __m256 y[4], perTile[4];
    outputTransform1d(t[i], y);
    for (int k = 0; k < 4; ++k) y[k] = _mm256_add_ps(y[k], bias);
    transpose4(y, perTile);  // perTile[e]: tile e (low lane) and tile e + 4 (high lane), row i
#pragma GCC unroll 4
    for (int e = 0; e < 4; ++e) {
      const int64_t lo = group.outOffset[e] + i * s.outW, hi = group.outOffset[e + 4] + i * s.outW;
      __m256 v = perTile[e];
      if (group.allFull) {
        if (residual) v = _mm256_add_ps(v, load2x128(residual + lo, residual + hi));
        v = avx2::activateAs<F>(activation, v);
        _mm_storeu_ps(plane + lo, _mm256_castps256_ps128(v));
        _mm_storeu_ps(plane + hi, _mm256_extractf128_ps(v, 1));
        continue;
      }
      // Tiles cut by the output's edge (and lanes past the block): only
      // their rows and columns inside it are read and written.
      const bool hasLo = i < group.rows[e], hasHi = i < group.rows[e + 4];
      if (!hasLo && !hasHi) continue;
      if (residual)
        v = _mm256_add_ps(v, _mm256_set_m128(hasHi ? loadFirst(residual + hi, group.cols[e + 4]) : zero,
                                             hasLo ? loadFirst(residual + lo, group.cols[e]) : zero));
      v = avx2::activateAs<F>(activation, v);
      if (hasLo) storeFirst(plane + lo, _mm256_castps256_ps128(v), group.cols[e]);
      if (hasHi) storeFirst(plane + hi, _mm256_extractf128_ps(v, 1), group.cols[e + 4]);
    }
  }
}

template <Fused F>
void outputTransform(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride, int64_t firstTile,
                     int64_t tileCount, int64_t o0, int64_t o1, const WinogradEpilogue& epilogue, float* output) {
  const int64_t planeSize = s.outH * s.outW;
  OutputGroup groups[kGroupsPerPass];
  for (int64_t pass = 0; pass < tileCount; pass += kGroupsPerPass * kLanes) {
    const int64_t count = std::min(kGroupsPerPass, ceilDiv(tileCount - pass, kLanes));
    for (int64_t g = 0; g < count; ++g) {
      OutputGroup& group = groups[g];
      const int64_t j0 = pass + g * kLanes;
      const int lanes = static_cast<int>(std::min<int64_t>(kLanes, tileCount - j0));
      group = OutputGroup{};
      for (int e = 0; e < lanes; ++e) {
        const WinogradTilePlace t = winogradTilePlace(s, firstTile + j0 + e);
        group.outOffset[e] = t.image * s.outChannels * planeSize + t.outY * s.outW + t.outX;
        group.rows[e] = static_cast<int>(std::min<int64_t>(kWinogradTile, s.outH - t.outY));
        group.cols[e] = static_cast<int>(std::min<int64_t>(kWinogradTile, s.outW - t.outX));
      }
      group.allFull = lanes == kLanes;
      for (int e = 0; e < lanes; ++e)
        group.allFull = group.allFull && group.rows[e] == kWinogradTile && group.cols[e] == kWinogradTile;
    }
    for (int64_t o = o0; o < o1; ++o) {
      const float bias = epilogue.bias ? epilogue.bias[o] : 0.0f;
      const float* residual = epilogue.residual ? epilogue.residual + o * planeSize : nullptr;
      for (int64_t g = 0; g < count; ++g)
        outputTransformGroup<F>(s, m + o * ld + pass + g * kLanes, positionStride, groups[g], bias, residual,
                                output + o * planeSize, epilogue.activation);
    }
  }
}

}  // namespace

void winogradOutputTransformAvx2(const WinogradShape& s, const float* m, int64_t ld, int64_t positionStride,
                                 int64_t firstTile, int64_t tileCount, int64_t o0, int64_t o1,
                                 const WinogradEpilogue& epilogue, float* output) {
  avx2::withFused(epilogue.activation.kind, [&](auto fused) {
    outputTransform<decltype(fused)::value>(s, m, ld, positionStride, firstTile, tileCount, o0, o1, epilogue,
                                           output);
  });
}

}  // namespace petrel
