#include "weights/quantized_layouts.h"

#include <cstring>
#include <string>

#include "kernels/int_math.h"
#include "petrel/error.h"

namespace petrel {

const char* weightStorageName(WeightStorage storage) {
  switch (storage) {
    case WeightStorage::kFloat32: return "fp32";
    case WeightStorage::kFloat16: return "fp16";
    case WeightStorage::kInt8: return "int8";
    case WeightStorage::kInt4: return "int4";
  }
  return "?";
}

int64_t EncodedLayout::blockLength() const {
  if (storage == WeightStorage::kInt4) return blockSize > 0 ? blockSize : depth + (depth & 1);
  return depth;
}

int64_t EncodedLayout::blocksPerRow() const {
  if (!hasScales()) return 0;
  return ceilDiv(depth, blockLength());
}

int64_t EncodedLayout::rowBytes() const {
  switch (storage) {
    case WeightStorage::kFloat32: return depth * 4;
    case WeightStorage::kFloat16: return depth * 2;
    case WeightStorage::kInt8: return depth;
    case WeightStorage::kInt4: return blocksPerRow() * blockLength() / 2;
  }
  return 0;
}

size_t EncodedLayout::scaleBytes() const { return static_cast<size_t>(rows * blocksPerRow()) * kScaleBytes; }

size_t EncodedLayout::zeroPointBytes() const {
  return hasZeroPoints() ? static_cast<size_t>(rows * blocksPerRow()) : 0;
}

size_t EncodedLayout::valueBytes() const { return static_cast<size_t>(rows * rowBytes()); }

void EncodedLayout::validate(const char* name) const {
  const std::string prefix = std::string("weights '") + name + "' (" + weightStorageName(storage) + "): ";
  if (static_cast<uint8_t>(storage) > static_cast<uint8_t>(WeightStorage::kInt4))
    throw Error(prefix + "unknown storage " + std::to_string(static_cast<int>(storage)));
  if (rows < 1 || depth < 1)
    throw Error(prefix + "invalid matrix shape [" + std::to_string(rows) + ", " + std::to_string(depth) + "]");
  if (rows > kMaxEncodedElements / depth)
    throw Error(prefix + "matrix [" + std::to_string(rows) + ", " + std::to_string(depth) + "] is too large");
  if (storage == WeightStorage::kInt4 && blockSize != 0 && blockSize != 16 && blockSize != 32 && blockSize != 64 &&
      blockSize != 128)
    throw Error(prefix + "int4 block size " + std::to_string(blockSize) + " is not 0, 16, 32, 64 or 128");
}

int EncodedMatrixView::zeroPoint(int64_t row, int64_t block) const {
  if (layout.storage == WeightStorage::kInt8)
    return zeroPoints ? static_cast<int>(static_cast<int8_t>(zeroPoints[row])) : 0;
  return zeroPoints ? static_cast<int>(zeroPoints[row * layout.blocksPerRow() + block]) : kInt4SymmetricZero;
}

EncodedMatrixView EncodedMatrixView::rowRange(int64_t first, int64_t count) const {
  EncodedMatrixView sub = *this;
  sub.layout.rows = count;
  sub.values = values + first * layout.rowBytes();
  if (scales) sub.scales = scales + first * layout.blocksPerRow();
  if (zeroPoints) sub.zeroPoints = zeroPoints + first * layout.blocksPerRow();
  return sub;
}

EncodedMatrixView viewEncodedBlob(const EncodedLayout& layout, const uint8_t* bytes, size_t size, const char* name) {
  layout.validate(name);
  const std::string prefix = std::string("weights '") + name + "' (" + weightStorageName(layout.storage) + "): ";
  if (size != layout.totalBytes())
    throw Error(prefix + "holds " + std::to_string(size) + " bytes, its layout needs " +
                std::to_string(layout.totalBytes()));
  if (reinterpret_cast<uintptr_t>(bytes) % 4 != 0) throw Error(prefix + "data is not 4-byte aligned");
  EncodedMatrixView view;
  view.layout = layout;
  if (layout.hasScales()) view.scales = reinterpret_cast<const float*>(bytes);
  if (layout.hasZeroPoints()) view.zeroPoints = bytes + layout.scaleBytes();
  view.values = bytes + layout.scaleBytes() + layout.zeroPointBytes();
  return view;
}

}  // namespace petrel
