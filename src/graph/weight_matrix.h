#pragma once
// The weight matrix of an op with constant weights: how its weight input is
// seen as [rows][depth] = [outputs][reduction length]. Compressed storages
// (fp16, int8, int4) encode exactly this matrix, so a scale always covers
// values along the reduction of one output, and the runtime's executors read
// it in this orientation (SGEMM's A for convolutions, B^T for linear layers).
//
//   op             weight input (ONNX shape)   rows          depth            stored as
//   Conv           W [M][C/g][kH][kW]          M             C/g * kH * kW    as is
//   ConvTranspose  W [C][M/g][kH][kW]          M * kH * kW   C/g              per group g, the transpose of
//                                                                             W_g = W[g*C/g ..][..] seen as [C/g][M/g*kH*kW]
//   Gemm           B [K][N] (transB=0)         N             K                transposed
//                  B [N][K] (transB=1)         N             K                as is
//   MatMul         B [K][N] (rank 2 only)      N             K                transposed
//
// 1-D convolutions are the kH = 1 case. Batched (rank > 2) MatMul weights
// and any other constant are not weight matrices: they stay fp32.
#include <cstdint>
#include <optional>
#include <vector>

#include "graph/graph.h"

namespace petrel {

struct WeightMatrix {
  int64_t rows = 0;
  int64_t depth = 0;
  // The matrix is built from `groups` blocks of the logical tensor, each
  // [depth][rows / groups] stored and transposed to [rows / groups][depth];
  // groups == 0 means the logical tensor is already [rows][depth].
  int64_t groups = 0;
  bool asStored() const { return groups == 0; }
};

// Index of the weight input of these ops (1 for Conv, ConvTranspose, Gemm, MatMul).
constexpr int kWeightInput = 1;

// The weight matrix of input `input` of `node` whose logical shape is
// `shape`, or nullopt when that input is not a weight matrix (another op or
// input, batched MatMul weights, a shape the op cannot take).
std::optional<WeightMatrix> weightMatrixOf(const Node& node, int input, const Shape& shape);

// The logical fp32 tensor rearranged into the matrix [rows][depth].
std::vector<float> toWeightMatrix(const WeightMatrix& matrix, const float* logical);
// The inverse: the matrix [rows][depth] back in the logical layout.
std::vector<float> fromWeightMatrix(const WeightMatrix& matrix, const float* rowsByDepth);

// The fp32 tensor an encoded constant stands for, in its logical layout:
// decoded, then rearranged (e.g. to run the same model with the dequantized
// weights as fp32 constants). `node` and `input` say whose weight it is.
std::vector<float> decodeWeightConstant(const ConstantData& constant, const Node& node, int input,
                                        const std::string& name);

}  // namespace petrel
