#pragma once
// The contiguous-row kernels behind the elementwise, unary, softmax, layer
// normalisation and pooling operators. Each has a scalar version (in the
// operator's .cpp) and an AVX2 twin (in its _avx2.cpp); the selector picks by
// Isa, so tests can compare both on the same data.
#include <cstdint>

#include "kernels/cpu.h"

namespace petrel {

// out[i] = a[i] op b[i]; `vectorA`/`vectorB` false means that operand is one
// repeated value (read a[0] / b[0]). op is one of + - * / ^.
using BinaryRowKernel = void (*)(const float* a, const float* b, float* out, int64_t n);
BinaryRowKernel binaryRowKernel(char op, bool vectorA, bool vectorB, Isa isa);
BinaryRowKernel binaryRowKernelAvx2(char op, bool vectorA, bool vectorB);  // nullptr if none

// out[i] = f(in[i]) for a named plain map ("exp", "erf", "sqrt", "neg", ...).
using MapRow = void (*)(const float* in, float* out, int64_t n);
MapRow unaryMapKernel(const char* name, Isa isa);  // nullptr for an unknown name
MapRow unaryMapAvx2(const char* name);              // nullptr if none

// One numerically stable softmax over n contiguous values.
void softmaxRow(const float* in, float* out, int64_t n, Isa isa);
void softmaxRowAvx2(const float* in, float* out, int64_t n);

// One row of LayerNormalization: y = (x - mean) * invStdDev * scale (+ bias),
// mean and variance accumulated in double over two passes (the mean, then the
// squared deviations); bias may be nullptr. Returns mean and invStdDev.
struct RowMoments {
  float mean = 0.0f, invStdDev = 0.0f;
};
RowMoments layerNormRow(const float* x, int64_t n, float epsilon, const float* scale, const float* bias, float* y,
                        Isa isa);
RowMoments layerNormRowAvx2(const float* x, int64_t n, float epsilon, const float* scale, const float* bias,
                            float* y);

// line[i] = max or sum (in row order) of first[r * rowStride + i] for
// r < rows (at least 1), i < n: a pooling window's input rows in one pass.
using PoolRowCombine = void (*)(const float* first, int64_t rowStride, int64_t rows, float* line, int64_t n);
PoolRowCombine poolRowCombine(bool isMax, Isa isa);
PoolRowCombine poolRowCombineAvx2(bool isMax);

// out[o] = max or sum (in tap order) of in[o*stride + t*dilation] for
// t < kernel, o < n: the windows of one output row along W, every tap inside `in`.
using PoolWindowRow = void (*)(const float* in, float* out, int64_t n, int64_t stride, int64_t kernel,
                               int64_t dilation);
PoolWindowRow poolWindowRow(bool isMax, Isa isa);
PoolWindowRow poolWindowRowAvx2(bool isMax);  // strides 1 and 2 without dilation vectorised (n >= 8 / 9)

}  // namespace petrel
