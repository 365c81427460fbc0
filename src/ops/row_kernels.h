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

// One contiguous row reduced to one value: the sum of its values, of their
// squares, or their maximum (NaNs skipped, as std::max skips them; n >= 1).
// Sums run in several partial sums: independent additions, and less rounding
// error than one long chain. The twins' sums differ in rounding only; their
// maxima are equal.
enum class RowReduction { kSum, kSumOfSquares, kMax };
using ReduceRow = float (*)(const float* x, int64_t n);
ReduceRow reduceRowKernel(RowReduction reduction, Isa isa);
ReduceRow reduceRowAvx2(RowReduction reduction);

// The windows of `count` output rows of a pooling plane, every tap inside
// the input: out[j * outStep + o] = max or sum of
// first[j * inStep + r * rowStride + o * stride + t * dilation] over the
// window's rows r < rows (at least 1) and taps t < kernel, for o < n.
// Combined row by row, then tap by tap (a line of the rows, then the windows
// along it). One call serves a run of rows: SqueezeNet's rows of 13 and 27
// outputs cost more in calls and set-up than in loads.
struct PoolWindowRows {
  const float* first = nullptr;
  int64_t rowStride = 0, rows = 1;
  float* out = nullptr;
  int64_t n = 0;
  int64_t stride = 1, kernel = 1, dilation = 1;
  int64_t count = 1, inStep = 0, outStep = 0;
};
using PoolWindows = void (*)(const PoolWindowRows& w);
PoolWindows poolWindows(bool isMax, Isa isa);
PoolWindows poolWindowsAvx2(bool isMax);  // strides 1 and 2 without dilation vectorised (n >= 8 / 9)

}  // namespace petrel
