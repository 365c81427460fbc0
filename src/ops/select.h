#pragma once
// Executor selection for the ops with weights (Conv, ConvTranspose, Gemm,
// MatMul with a constant weight matrix): one pure function of explicit facts.
//
// The facts are what the weights are (their storage), how the session runs
// (memory and precision modes) and the op's geometry class. The answer is an
// executor kind, looked up in a table (select.cpp) that reads like the
// README's. Separately, every executor states what it can serve
// (executorServes) and whether it keeps the weights in their stored form
// (executorKeepsWeightsStored); a test walks the whole matrix of facts and
// checks that each answer serves its facts and that memory mode low always
// gets an executor that keeps weights stored. So no combination can reach a
// kernel that cannot read its weights (e.g. fp16 weights reaching an int8
// kernel). Facts no executor serves get kUnsupported, which the planner
// reports as an error naming them.
#include <cstdint>
#include <string>

#include "graph/graph.h"
#include "petrel/petrel.h"

namespace petrel {

enum class OpGeometry : uint8_t {
  kPointwise,   // Conv 1x1, stride 1, no padding, group 1: a plain GEMM on the NCHW input
  kGeneral,     // any other group-1 Conv
  kWinograd,    // a group-1 Conv 3x3, stride 1, dilation 1 on which Winograd F(4x4, 3x3) pays
                // (at least 8 output tiles of 4x4 and 16 channels) or, on small planes,
                // F(2x2, 3x3) (conv_winograd.h)
  kDepthwise,   // Conv with group == input channels == output channels
  kGrouped,     // any other grouped Conv
  kTransposed,  // ConvTranspose (any group)
  kLinear,      // Gemm, or MatMul with a constant 2-D weight matrix
};
constexpr int kOpGeometryCount = 7;

struct WeightedOpFacts {
  Storage weightStorage = Storage::kFloat32;
  MemoryMode memory = MemoryMode::kNormal;
  PrecisionMode precision = PrecisionMode::kNormal;
  OpGeometry geometry = OpGeometry::kGeneral;
};

// "Packed" executors prepare fp32 weights at planning (fp32 packed as is,
// compressed storages decoded once, then packed). "Stored" executors read
// the weights in their stored form at run time, decoding them block by
// block inside the kernel (fp32 is packed block by block from the file).
enum class ExecutorKind : uint8_t {
  kUnsupported,               // no executor for these facts: an error at planning
  kPointwiseSgemm,            // conv.pointwise.sgemm
  kIm2colSgemm,               // conv.im2col.sgemm
  kDepthwise,                 // conv.depthwise (weights fp32: as stored or decoded once)
  kGroupedIm2colSgemm,        // conv.grouped.im2col.sgemm
  kTransposedSgemm,           // conv_transpose.sgemm.col2im
  kLinearSgemm,               // linear.sgemm
  kPointwiseSgemmStored,      // conv.pointwise.sgemm.stored
  kIm2colSgemmStored,         // conv.im2col.sgemm.stored
  kDepthwiseStored,           // conv.depthwise.stored (filters decoded per run into scratch)
  kGroupedIm2colSgemmStored,  // conv.grouped.im2col.sgemm.stored
  kTransposedSgemmStored,     // conv_transpose.sgemm.col2im.stored
  kLinearSgemmStored,         // linear.sgemm.stored
  kWinograd,                  // conv.winograd.f4x4 / .f2x2 (transformed weights: 4x / 1.8x fp32)
};
constexpr int kExecutorKindCount = 14;

ExecutorKind selectExecutor(const WeightedOpFacts& facts);

// The executor's kernel name (its kernelName() adds the weight storage).
const char* executorName(ExecutorKind kind);
// True if the executor can compute an op with these facts.
bool executorServes(ExecutorKind kind, const WeightedOpFacts& facts);
// True if the executor reads weights of this storage in their stored form,
// never expanding them beyond one block of scratch.
bool executorKeepsWeightsStored(ExecutorKind kind, Storage weightStorage);
// "conv.pointwise.sgemm.stored[fp16]": what `petrel info` prints per node.
std::string executorKernelName(ExecutorKind kind, Storage weightStorage);

const char* opGeometryName(OpGeometry geometry);
std::string describeFacts(const WeightedOpFacts& facts);  // for error messages

// The geometry class of a (non-transposed) convolution; `winogradPays`:
// 3x3, stride 1, dilation 1 with enough tiles and channels (group 1 implied).
OpGeometry classifyConv(int64_t group, int64_t inChannels, int64_t outChannels, bool unitKernel, bool unitStrides,
                        bool zeroPads, bool winogradPays);

}  // namespace petrel
