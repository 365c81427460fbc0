#pragma once
// IEEE 754 binary16 ("half") <-> binary32 conversion.
//
// Scalar: exact. float -> half rounds to nearest, ties to even; values at or
// beyond 65520 become +-inf; results below the normal range become half
// subnormals (or +-0); NaN stays NaN, made quiet (bit 9 set) with the top 10
// payload bits kept - what x86 F16C (vcvtps2ph) does, so both paths agree
// bit for bit. half -> float is always exact (NaN payloads are shifted up).
//
// Bulk: the same conversions over arrays, with F16C when the CPU has it.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu.h"

namespace petrel {

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);

// True when `isa` is Avx2 and the CPU also has F16C (checked at run time).
bool fp16SimdUsable(Isa isa);

// out[i] = halfToFloat(in[i]) / floatToHalf(in[i]) for i < n.
void halfToFloatArray(const uint16_t* in, float* out, size_t n, Isa isa = bestIsa());
void floatToHalfArray(const float* in, uint16_t* out, size_t n, Isa isa = bestIsa());

// The F16C versions (fp16_avx2.cpp); call only when fp16SimdUsable(Isa::kAvx2).
void halfToFloatArrayF16c(const uint16_t* in, float* out, size_t n);
void floatToHalfArrayF16c(const float* in, uint16_t* out, size_t n);

}  // namespace petrel
