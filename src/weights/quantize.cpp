#include "weights/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "weights/decode.h"
#include "weights/fp16.h"
#include "petrel/error.h"

namespace petrel {

EncodedMatrixView EncodedMatrix::view() const {
  EncodedMatrixView v;
  v.layout = layout;
  v.values = values.data();
  v.scales = scales.empty() ? nullptr : scales.data();
  v.zeroPoints = zeroPoints.empty() ? nullptr : zeroPoints.data();
  return v;
}

std::vector<uint8_t> EncodedMatrix::blob() const {
  std::vector<uint8_t> out;
  out.reserve(layout.totalBytes());
  const auto* scaleBytes = reinterpret_cast<const uint8_t*>(scales.data());
  out.insert(out.end(), scaleBytes, scaleBytes + scales.size() * sizeof(float));
  out.insert(out.end(), zeroPoints.begin(), zeroPoints.end());
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

namespace {

// Checks every weight is finite; the error names the tensor, row and index.
void requireFinite(const float* w, int64_t rows, int64_t depth, const std::string& name) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < depth; ++k) {
      const float x = w[r * depth + k];
      if (!std::isfinite(x))
        throw Error("weights '" + name + "': " + (std::isnan(x) ? "NaN" : "infinite value") + " at row " +
                    std::to_string(r) + ", index " + std::to_string(k) + " (cannot be encoded)");
    }
}

EncodedMatrix start(const float* w, int64_t rows, int64_t depth, WeightStorage storage, int64_t blockSize,
                    bool symmetric, const std::string& name) {
  EncodedMatrix m;
  m.layout = {storage, rows, depth, blockSize, symmetric};
  m.layout.validate(name.c_str());
  requireFinite(w, rows, depth, name);
  m.values.assign(m.layout.valueBytes(), 0);
  m.scales.assign(static_cast<size_t>(rows * m.layout.blocksPerRow()), 0.0f);
  m.zeroPoints.assign(m.layout.zeroPointBytes(), 0);
  return m;
}

int roundToInt(float x) { return static_cast<int>(std::nearbyint(x)); }  // ties to even (default mode)

// Quantisation of one run of values sharing a scale, to integers in
// [qmin, qmax] with zero code `zero` (symmetric) or a computed zero point.
struct Quantized {
  float scale = 0.0f;
  int zero = 0;
};

// The smallest float scale with steps * scale >= range (0 for range 0): the
// codes then cover the range, so no value is clipped by more than scale / 2.
// Rounding the quotient can leave it an ulp short, and for tiny ranges a
// subnormal scale can be far short (or 0): step it up until it covers.
float coveringScale(double range, int steps) {
  if (range == 0.0) return 0.0f;
  float scale = std::max(static_cast<float>(range / steps), std::numeric_limits<float>::denorm_min());
  while (static_cast<double>(scale) * steps < range) scale = std::nextafter(scale, INFINITY);
  return scale;
}

Quantized chooseSymmetric(const float* w, int64_t n, int qmaxAbs, int zero) {
  float maxAbs = 0.0f;
  for (int64_t i = 0; i < n; ++i) maxAbs = std::max(maxAbs, std::fabs(w[i]));
  return {coveringScale(maxAbs, qmaxAbs), zero};
}

Quantized chooseAsymmetric(const float* w, int64_t n, int qmin, int qmax) {
  float lo = 0.0f, hi = 0.0f;  // the range always includes 0, so 0 is exactly representable
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  // In double: hi - lo may overflow float for huge weights; the scale cannot.
  const float scale = coveringScale(static_cast<double>(hi) - lo, qmax - qmin);
  if (scale == 0.0f) return {0.0f, qmin};  // all zeros; any zero code works, qmin is canonical
  return {scale, std::clamp(qmin - roundToInt(lo / scale), qmin, qmax)};
}

// The integer code of w: round(w / scale) + zero, clamped; zero scale -> the zero code.
int quantizeValue(float w, const Quantized& q, int qmin, int qmax) {
  if (q.scale == 0.0f) return q.zero;
  return std::clamp(roundToInt(w / q.scale) + q.zero, qmin, qmax);
}

}  // namespace

EncodedMatrix encodeFloat32(const float* w, int64_t rows, int64_t depth, const std::string& name) {
  EncodedMatrix m = start(w, rows, depth, WeightStorage::kFloat32, 0, true, name);
  std::memcpy(m.values.data(), w, m.values.size());
  return m;
}

EncodedMatrix encodeFloat16(const float* w, int64_t rows, int64_t depth, const std::string& name) {
  EncodedMatrix m = start(w, rows, depth, WeightStorage::kFloat16, 0, true, name);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < depth; ++k) {
      const uint16_t h = floatToHalf(w[r * depth + k]);
      if ((h & 0x7c00) == 0x7c00)
        throw Error("weights '" + name + "': value " + std::to_string(w[r * depth + k]) + " at row " +
                    std::to_string(r) + ", index " + std::to_string(k) + " is beyond the fp16 range (65504)");
      std::memcpy(m.values.data() + 2 * (r * depth + k), &h, 2);
    }
  return m;
}

EncodedMatrix quantizeInt8(const float* w, int64_t rows, int64_t depth, bool symmetric, const std::string& name) {
  EncodedMatrix m = start(w, rows, depth, WeightStorage::kInt8, 0, symmetric, name);
  const int qmin = symmetric ? -kInt8SymmetricMax : kInt8Min;
  const int qmax = symmetric ? kInt8SymmetricMax : kInt8Max;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * depth;
    const Quantized q =
        symmetric ? chooseSymmetric(row, depth, kInt8SymmetricMax, 0) : chooseAsymmetric(row, depth, qmin, qmax);
    m.scales[r] = q.scale;
    if (!symmetric) m.zeroPoints[r] = static_cast<uint8_t>(static_cast<int8_t>(q.zero));
    for (int64_t k = 0; k < depth; ++k)
      m.values[r * depth + k] = static_cast<uint8_t>(static_cast<int8_t>(quantizeValue(row[k], q, qmin, qmax)));
  }
  return m;
}

EncodedMatrix quantizeInt4(const float* w, int64_t rows, int64_t depth, int64_t blockSize, bool symmetric,
                           const std::string& name) {
  EncodedMatrix m = start(w, rows, depth, WeightStorage::kInt4, blockSize, symmetric, name);
  const EncodedLayout& l = m.layout;
  const int64_t blockLength = l.blockLength(), blocks = l.blocksPerRow(), rowBytes = l.rowBytes();
  const int qmin = symmetric ? kInt4SymmetricZero - kInt4SymmetricMax : 0;
  const int qmax = symmetric ? kInt4SymmetricZero + kInt4SymmetricMax : kInt4Max;
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* packed = m.values.data() + r * rowBytes;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = b * blockLength;
      const int64_t n = std::min(blockLength, depth - k0);  // the last block may be partial
      const float* values = w + r * depth + k0;
      const Quantized q = symmetric ? chooseSymmetric(values, n, kInt4SymmetricMax, kInt4SymmetricZero)
                                    : chooseAsymmetric(values, n, qmin, qmax);
      m.scales[r * blocks + b] = q.scale;
      if (!symmetric) m.zeroPoints[r * blocks + b] = static_cast<uint8_t>(q.zero);
      for (int64_t i = 0; i < blockLength; ++i) {
        // Padding past K holds the zero code, so it decodes to exact 0.
        const int u = i < n ? quantizeValue(values[i], q, qmin, qmax) : q.zero;
        const int64_t k = k0 + i;
        packed[k / 2] |= static_cast<uint8_t>(u << (4 * (k & 1)));
      }
    }
  }
  return m;
}

EncodedMatrix encodeWeights(const float* w, int64_t rows, int64_t depth, const WeightEncoding& e,
                            const std::string& name) {
  switch (e.storage) {
    case WeightStorage::kFloat32: return encodeFloat32(w, rows, depth, name);
    case WeightStorage::kFloat16: return encodeFloat16(w, rows, depth, name);
    case WeightStorage::kInt8: return quantizeInt8(w, rows, depth, e.symmetric, name);
    case WeightStorage::kInt4: return quantizeInt4(w, rows, depth, e.blockSize, e.symmetric, name);
  }
  throw Error("weights '" + name + "': unknown storage " + std::to_string(static_cast<int>(e.storage)));
}

EncodingError measureEncodingError(const float* w, const EncodedMatrixView& encoded) {
  const int64_t rows = encoded.layout.rows, depth = encoded.layout.depth;
  std::vector<float> row(static_cast<size_t>(depth));
  EncodingError error;
  double diff2 = 0.0, norm2 = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    decodeRowSegment(encoded, r, 0, depth, row.data());
    for (int64_t k = 0; k < depth; ++k) {
      const double x = w[r * depth + k], d = x - row[k];
      error.maxAbs = std::max(error.maxAbs, std::fabs(d));
      diff2 += d * d;
      norm2 += x * x;
    }
  }
  error.relativeL2 = norm2 > 0.0 ? std::sqrt(diff2 / norm2) : 0.0;
  return error;
}

}  // namespace petrel
