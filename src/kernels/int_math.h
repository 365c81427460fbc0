#pragma once
// Integer rounding for sizes and tile counts, one definition for every file.
// Internal linkage, as in sgemm_pack_im2col.h: files built for AVX2 include
// kernel headers too, and a shared inline copy could be linked to theirs.
#include <cstdint>

namespace petrel {
namespace {  // NOLINT(google-build-namespaces): see above

// ceil(a / b) for b > 0 and a >= 1 - b.
constexpr int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
// a rounded up to a multiple of b.
constexpr int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

}  // namespace
}  // namespace petrel
