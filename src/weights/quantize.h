#pragma once
// Encoders: fp32 weights [rows][K] -> an EncodedMatrix in one of the layouts
// of quantized_layouts.h. Run by the converter (offline), so plain scalar code.
//
//   fp16            round to nearest even; |w| >= 65520 (overflow to inf) is an error.
//   int8 symmetric  scale = maxabs / 127, q = round(w / scale) in [-127, 127].
//   int8 asymmetric over [lo, hi] = [min(min, 0), max(max, 0)] (so 0 is exact):
//                   scale = (hi - lo) / 255, zero = -128 - round(lo / scale),
//                   q = clamp(round(w / scale) + zero, -128, 127).
//   int4 symmetric  per block: scale = maxabs / 7, u = round(w / scale) + 8 in [1, 15].
//   int4 asymmetric per block: scale = (hi - lo) / 15, zero = -round(lo / scale),
//                   u = clamp(round(w / scale) + zero, 0, 15).
// round() is to nearest, ties to even. Each scale is the float quotient,
// stepped up by an ulp if needed so the codes cover the range (matters only
// for subnormal scales, i.e. tiny weights). Every element satisfies
// |w - decode(w)| <= scale / 2 (plus float rounding of the product).
// An all-zero row or block gets scale 0 and the zero code: it decodes to exact
// zeros without any division by zero. NaN or +-inf anywhere is an Error
// naming the tensor, the row and the index along K.
#include <cstdint>
#include <string>
#include <vector>

#include "weights/quantized_layouts.h"

namespace petrel {

// An encoded matrix that owns its sections.
struct EncodedMatrix {
  EncodedLayout layout;
  std::vector<uint8_t> values;      // layout.valueBytes()
  std::vector<float> scales;        // rows * blocksPerRow (int8, int4)
  std::vector<uint8_t> zeroPoints;  // rows * blocksPerRow (asymmetric int8, int4)

  EncodedMatrixView view() const;
  size_t bytes() const { return layout.totalBytes(); }
  // The serialised form: [scales][zero points][values] (little-endian fp32 scales).
  std::vector<uint8_t> blob() const;
};

// What to encode to. blockSize and symmetric as in EncodedLayout.
struct WeightEncoding {
  WeightStorage storage = WeightStorage::kFloat32;
  int64_t blockSize = 32;  // int4 only
  bool symmetric = true;   // int8 / int4
};

// Encodes `rows` x `depth` floats (row-major). `name` (the tensor) is used in errors.
EncodedMatrix encodeWeights(const float* weights, int64_t rows, int64_t depth, const WeightEncoding& encoding,
                            const std::string& name);

// The same, one function per storage.
EncodedMatrix encodeFloat32(const float* weights, int64_t rows, int64_t depth, const std::string& name);
EncodedMatrix encodeFloat16(const float* weights, int64_t rows, int64_t depth, const std::string& name);
EncodedMatrix quantizeInt8(const float* weights, int64_t rows, int64_t depth, bool symmetric,
                           const std::string& name);
EncodedMatrix quantizeInt4(const float* weights, int64_t rows, int64_t depth, int64_t blockSize, bool symmetric,
                           const std::string& name);

// How far an encoding is from the weights it encodes (the figure the
// converter reports): max |w - decode(w)|, and ||w - decode(w)|| / ||w||
// (0 when w is all zeros).
struct EncodingError {
  double maxAbs = 0.0;
  double relativeL2 = 0.0;
};
EncodingError measureEncodingError(const float* weights, const EncodedMatrixView& encoded);

}  // namespace petrel
