#pragma once
// Convolution kernel selection: one pure function of explicit facts.
//
// The facts are what the weights are (their storage), how the session runs
// (memory and precision modes) and the shape class of the convolution. The
// answer is an executor kind, looked up in a table (select.cpp) that reads like
// the README's. Every executor states what it can serve (convExecutorServes);
// a test walks the whole matrix of facts and checks that each answer can serve
// its facts, so no combination reaches a kernel that cannot handle its weights
// (e.g. fp16 weights reaching an int8 kernel). Facts no executor serves get
// kUnsupportedStorage, which the planner reports as an error naming them.
#include <cstdint>
#include <string>

#include "graph/graph.h"
#include "petrel/petrel.h"

namespace petrel {

enum class ConvGeometryClass : uint8_t {
  kPointwise,   // 1x1 kernel, stride 1, no padding, group 1: a plain GEMM on the NCHW input
  kGeneral,     // any other group-1 convolution
  kDepthwise,   // group == input channels == output channels
  kGrouped,     // any other group > 1
  kTransposed,  // ConvTranspose (any group)
};
constexpr int kConvGeometryClassCount = 5;

struct ConvFacts {
  Storage weightStorage = Storage::kFloat32;
  MemoryMode memory = MemoryMode::kNormal;
  PrecisionMode precision = PrecisionMode::kNormal;
  ConvGeometryClass geometry = ConvGeometryClass::kGeneral;
};

enum class ConvExecutorKind : uint8_t {
  kUnsupportedStorage,   // no executor for these weights: an error at planning
  kPointwiseSgemm,       // conv.pointwise.sgemm
  kIm2colSgemm,          // conv.im2col.sgemm
  kDepthwise,            // conv.depthwise
  kGroupedIm2colSgemm,   // conv.grouped.im2col.sgemm
  kTransposedSgemm,      // conv_transpose.sgemm.col2im
};

ConvExecutorKind selectConvExecutor(const ConvFacts& facts);

// The executor's kernelName().
const char* convExecutorName(ConvExecutorKind kind);
// True if the executor can compute a convolution with these facts.
bool convExecutorServes(ConvExecutorKind kind, const ConvFacts& facts);

const char* convGeometryName(ConvGeometryClass geometry);
std::string describeConvFacts(const ConvFacts& facts);  // for error messages

// The geometry class of a (non-transposed) convolution.
ConvGeometryClass classifyConv(int64_t group, int64_t inChannels, int64_t outChannels, bool unitKernel,
                               bool unitStrides, bool zeroPads);

}  // namespace petrel
