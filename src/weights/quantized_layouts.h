#pragma once
// How compressed weight matrices are laid out in memory (and in a .petrel file).
//
// Every weight matrix is seen as `rows` x `depth`, row-major: rows are output
// channels, depth is the reduction length K. Convolution weights
// [Cout][Cin/g][kh][kw] are already [Cout][K]; linear weights must be stored
// [N][K] (Gemm transB=1 as is; MatMul's [K][N] and Gemm transB=0 transposed
// first), so a scale always covers values along K of one output channel.
//
// The data is structure-of-arrays: three sections, each row-major over rows.
//
//   fp32:  values  float    [rows][K]                     4*rows*K bytes
//   fp16:  values  uint16   [rows][K] (IEEE binary16)     2*rows*K bytes
//   int8:  scales  float    [rows]                        one per output channel
//          zeros   int8     [rows]                        asymmetric only
//          values  int8     [rows][K]                     rows*K bytes
//          w = (q - zero) * scale; symmetric: zero = 0, q in [-127, 127];
//          asymmetric: q in [-128, 127], zero in [-128, 127].
//   int4:  scales  float    [rows][blocksPerRow]
//          zeros   uint8    [rows][blocksPerRow]          asymmetric only, 0..15, one byte each
//          values  nibbles  [rows][rowBytes]              Int4Block<B> per block, rowBytes = blocksPerRow*B/2
//          w = (u - zero) * scale with u the unsigned nibble 0..15;
//          symmetric: zero = 8 implicitly, u - 8 in [-7, 7];
//          asymmetric: u in [0, 15], zero in [0, 15].
//
// int4 blocks: B = blockSize in {16, 32, 64, 128} values along K, or
// blockSize 0 = one block per row (per channel; B = K rounded up to even).
// blocksPerRow = ceil(K / B). Value k of a row is in block k / B, at byte
// (k / 2) of the row, low nibble when k is even. When K is not a multiple
// of B, the last block is partial: its scale and zero point are computed from
// its real values only and the padding nibbles hold the block's zero code
// (8, or the zero point), so decoding a whole padded block gives exact 0s.
// Rows start on a byte boundary (B is even), so a row can be decoded alone.
//
// Why symmetric int4 uses [-7, 7] and not [-8, 7]: with scale = maxabs / 7
// both +maxabs and -maxabs are representable and the error is symmetric; the
// extra code -8 would need a sign-dependent scale (ggml's trick) for 1/16 more
// resolution on one side only. Same reason for int8 [-127, 127].
//
// Why structure-of-arrays and not ggml-style blocks with an inline scale:
// sizes are exactly rows*K (int8) or rows*blocksPerRow*B/2 (int4) plus the
// scales, the raw int8/nibble rows are contiguous (what an int8-activation
// kernel wants), and with the scales first every section is naturally
// aligned: a serialised blob (`EncodedMatrix::blob`) is
//   [scales (fp32)] [zero points (bytes)] [values]
// with no padding, so a 4-byte-aligned blob gives aligned fp32 scales and
// (fp16 having no scales) aligned uint16 values.
#include <cstddef>
#include <cstdint>

namespace petrel {

// Numerically equal to graph.h's Storage (kFloat32 .. kInt4), so a Storage
// value converts with a static_cast; weights stay independent of the graph.
enum class WeightStorage : uint8_t { kFloat32 = 0, kFloat16 = 1, kInt8 = 2, kInt4 = 3 };
const char* weightStorageName(WeightStorage storage);

// The packed nibbles of one int4 block of B values: value 2i in the low
// nibble of bytes[i], value 2i+1 in the high nibble.
template <int B>
struct Int4Block {
  static_assert(B % 2 == 0, "an int4 block holds whole bytes");
  uint8_t bytes[B / 2];
};
static_assert(sizeof(Int4Block<16>) == 8);
static_assert(sizeof(Int4Block<32>) == 16);
static_assert(sizeof(Int4Block<64>) == 32);
static_assert(sizeof(Int4Block<128>) == 64);

// Zero codes and ranges of the integer formats.
constexpr int kInt8SymmetricMax = 127;   // symmetric q in [-127, 127]
constexpr int kInt8Min = -128, kInt8Max = 127;
constexpr int kInt4SymmetricMax = 7;     // symmetric q = u - 8 in [-7, 7]
constexpr int kInt4SymmetricZero = 8;    // implicit zero point of symmetric int4
constexpr int kInt4Max = 15;             // unsigned nibble u in [0, 15]
constexpr size_t kScaleBytes = sizeof(float);
constexpr int64_t kMaxEncodedElements = int64_t{1} << 40;  // rows * depth; keeps byte counts far from overflow

// Shape and format of an encoded matrix, without its data.
struct EncodedLayout {
  WeightStorage storage = WeightStorage::kFloat32;
  int64_t rows = 0;       // output channels
  int64_t depth = 0;      // reduction length K
  int64_t blockSize = 0;  // int4: 16, 32, 64, 128, or 0 = per channel; ignored otherwise
  bool symmetric = true;  // int8 / int4: no zero points stored

  // Values covered by one scale: K for fp/int8 and per-channel int4, else blockSize.
  int64_t blockLength() const;
  int64_t blocksPerRow() const;  // scales per row (0 for fp16/fp32)
  int64_t rowBytes() const;      // bytes of one row of values
  bool hasScales() const { return storage == WeightStorage::kInt8 || storage == WeightStorage::kInt4; }
  bool hasZeroPoints() const { return hasScales() && !symmetric; }
  size_t scaleBytes() const;
  size_t zeroPointBytes() const;
  size_t valueBytes() const;
  size_t totalBytes() const { return scaleBytes() + zeroPointBytes() + valueBytes(); }
  // Throws petrel::Error naming `name` if the layout is not a valid one.
  void validate(const char* name) const;
};

// A non-owning view of an encoded matrix (e.g. into a memory-mapped model).
struct EncodedMatrixView {
  EncodedLayout layout;
  const uint8_t* values = nullptr;      // layout.valueBytes() bytes
  const float* scales = nullptr;        // layout.rows * blocksPerRow floats, or nullptr
  const uint8_t* zeroPoints = nullptr;  // layout.zeroPointBytes() bytes, or nullptr (symmetric)

  // The zero point of (row, block) as an integer (int8: signed; int4: 0..15).
  int zeroPoint(int64_t row, int64_t block) const;
  float scale(int64_t row, int64_t block) const { return scales[row * layout.blocksPerRow() + block]; }
  // Rows [first, first + count) as a matrix of their own (e.g. one group of a
  // grouped convolution); the caller keeps the range inside the matrix.
  EncodedMatrixView rowRange(int64_t first, int64_t count) const;
};

// A view of a serialised blob ([scales][zero points][values], see above).
// Throws petrel::Error naming `name` if the size does not match the layout or
// the blob is not 4-byte aligned.
EncodedMatrixView viewEncodedBlob(const EncodedLayout& layout, const uint8_t* bytes, size_t size, const char* name);

}  // namespace petrel
