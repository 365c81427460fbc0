#pragma once
// Which instruction set the kernels use. Detected once; every SIMD kernel has a
// portable scalar twin (Isa::kScalar) that is both the fallback and the
// reference the tests compare against.
#include <cstdint>

namespace petrel {

enum class Isa : uint8_t {
  kScalar,  // portable C++
  kAvx2,    // AVX2 + FMA (x86-64)
};

const char* isaName(Isa isa);
bool isaSupported(Isa isa);
// The fastest supported Isa; detected at first use, then cached.
Isa bestIsa();

}  // namespace petrel
