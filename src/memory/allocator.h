#pragma once
// The only way the runtime allocates planned memory (arena, scratch, prepared
// weights). Impossible requests - zero, negative or overflowing sizes - are
// refused with an Error naming the op, the buffer and the size: an executor
// that computes a size of zero has been handed work it cannot do, and saying
// so beats failing later with a bare message. Buffers are cache-line aligned
// (large ones aligned to huge pages: kernels/aligned_buffer.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace petrel {

struct AlignedFree {
  void operator()(void* p) const;
};
using AlignedBuffer = std::unique_ptr<uint8_t, AlignedFree>;

// `owner` names who asks (e.g. "Conv 'layer1.0.conv1'" or "session arena"),
// `purpose` what for (e.g. "packed weights"). `bytes` is signed so that a
// negative size computed upstream is caught here, not wrapped around.
AlignedBuffer allocateBuffer(int64_t bytes, const std::string& owner, const std::string& purpose);

// Multiplies sizes, throwing the same kind of Error on overflow.
int64_t checkedBytes(int64_t elements, int64_t elementSize, const std::string& owner, const std::string& purpose);

}  // namespace petrel
