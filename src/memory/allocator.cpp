#include "memory/allocator.h"

#include <cstdlib>

#include "kernels/aligned_buffer.h"
#include "petrel/error.h"

namespace petrel {

namespace {
// Larger than any machine Petrel targets; anything above is a size bug.
constexpr int64_t kMaxAllocation = int64_t{1} << 40;
}  // namespace

void AlignedFree::operator()(void* p) const { std::free(p); }

AlignedBuffer allocateBuffer(int64_t bytes, const std::string& owner, const std::string& purpose) {
  if (bytes <= 0 || bytes > kMaxAllocation)
    throw Error(owner + ": refused to allocate " + purpose + " of " + std::to_string(bytes) +
                " bytes (sizes must be positive and below 1 TiB)");
  void* p = allocateAligned(static_cast<size_t>(bytes));
  if (!p) throw Error(owner + ": out of memory allocating " + purpose + " of " + std::to_string(bytes) + " bytes");
  return AlignedBuffer(static_cast<uint8_t*>(p));
}

int64_t checkedBytes(int64_t elements, int64_t elementSize, const std::string& owner, const std::string& purpose) {
  int64_t bytes = 0;
  if (elements < 0 || elementSize < 0 || __builtin_mul_overflow(elements, elementSize, &bytes))
    throw Error(owner + ": size of " + purpose + " overflows (" + std::to_string(elements) + " x " +
                std::to_string(elementSize) + " bytes)");
  return bytes;
}

}  // namespace petrel
