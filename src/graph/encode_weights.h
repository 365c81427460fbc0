#pragma once
// The converter's weight-encoding pass: stores the weight matrices of Conv,
// ConvTranspose, Gemm and MatMul compressed (fp16, int8 or int4).
//
// For every node whose weight input (graph/weight_matrix.h, kWeightInput) is
// an fp32 constant with a weight matrix, the constant is rearranged into that
// matrix [rows][depth] (toWeightMatrix), encoded (weights/quantize.h) and
// replaced by ConstantData::fromEncoded with its logical ONNX shape kept.
// A constant stays fp32 when
//   - it is used more than once in the graph (as two inputs, or by two nodes:
//     they could want different orientations) or is a graph output;
//   - it has fewer than EncodeWeightsOptions::minElements elements;
//   - it is not a weight matrix (biases, batched MatMul weights, anything else).
// WeightStorage::kFloat32 changes nothing. The same graph always gives the
// same bytes (the encoders are deterministic).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "weights/quantize.h"

namespace petrel {

struct EncodeWeightsOptions {
  // Smaller tensors stay fp32. 256 floats = 1 KiB: encoding saves at most a
  // few hundred bytes there, less than the scales and alignment cost.
  int64_t minElements = 256;
};

// One encoded tensor.
struct EncodedTensorReport {
  std::string name;  // the constant
  std::string node;  // the node reading it
  std::string op;    // its op type
  int64_t rows = 0;
  int64_t depth = 0;
  size_t bytesBefore = 0;  // fp32
  size_t bytesAfter = 0;   // encoded blob
  EncodingError error;     // measured against the fp32 weight matrix
};

struct EncodeWeightsReport {
  std::vector<EncodedTensorReport> tensors;  // in node order
  size_t bytesBefore = 0;                    // sums over `tensors`
  size_t bytesAfter = 0;
  // Weight inputs left fp32, by reason.
  int keptShared = 0;  // used more than once, or a graph output
  int keptSmall = 0;   // under minElements

  // Mean of the tensors' relative L2 errors (0 if none was encoded).
  double meanRelativeL2() const;
  // The tensor with the largest relative L2 error, or nullptr if none.
  const EncodedTensorReport* worst() const;
};

// Encodes the weight matrices of `graph` in place. Errors from the encoder
// (e.g. a weight too large for fp16, NaN) name the tensor and leave the graph
// unchanged: constants are replaced only once every one has been encoded.
EncodeWeightsReport encodeWeightMatrices(Graph& graph, const WeightEncoding& encoding,
                                         const EncodeWeightsOptions& options = {});

// "int4 (block 32, symmetric)", "int8 (asymmetric)", "fp16", "fp32".
std::string describeWeightEncoding(const WeightEncoding& encoding);

}  // namespace petrel
