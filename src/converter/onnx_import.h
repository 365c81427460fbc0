#pragma once
// ONNX import: reads an ONNX model (opsets 11-17, default domain only) into
// Petrel's graph IR and runs the graph passes (src/graph/passes.h).
//
// Steps, in order:
//   1. read and check the file (an ONNX model, supported opset); tensors kept
//      in external data files (models over 2 GB) are read into memory;
//   2. ONNX shape inference (fills the shapes and dtypes of every value);
//   3. build the Graph: initializers and Constant nodes become constants,
//      attributes become typed Node attributes, opset 11-12 forms are rewritten
//      to the opset-13+ "parameters are inputs" form (see graph/graph.h);
//   4. passes: remove no-ops, fold constants, fold BatchNormalization, fuse
//      Gelu, activations and residual Adds, remove dead nodes, sort, validate;
//   5. check that every remaining op has a Petrel planner.
// Any problem is a petrel::Error with one line naming the file, node or value;
// a partial graph is never returned.
#include <functional>
#include <map>
#include <string>

#include "graph/graph.h"

namespace onnx {
class ModelProto;
}

namespace petrel {

struct ConvertOptions {
  // Receives progress lines ("folded 57 constant nodes"); may be empty.
  std::function<void(const std::string&)> log;
};

struct ConvertReport {
  int onnxNodes = 0;         // nodes in the ONNX graph (Constant nodes included)
  int petrelNodes = 0;       // nodes in the resulting graph
  int foldedConstants = 0;   // nodes evaluated at conversion and replaced by constants
  int foldedBatchNorms = 0;  // BatchNormalization nodes folded into a Conv/ConvTranspose
  int fusedActivations = 0;  // activation nodes fused into their producer
  int fusedBiasAdds = 0;     // Add(MatMul(x, W), b) fused into the MatMul
  int fusedResidualAdds = 0; // Add(Conv(x), r) fused into the Conv
  int fusedMaxPools = 0;     // MaxPool(Conv(x)) fused into the Conv
  int hoistedGathers = 0;    // Gathers moved above row-wise ops (graph/passes.h hoistRowGathers)
  int fusedAttentions = 0;   // multi-head attention chains made one PetrelAttention (fuseAttention)
  int gatheredAttentionQueries = 0;  // attentions narrowed to the tokens a Gather reads (gatherAttentionQueries)
  int removedNoOps = 0;      // Identity / Dropout / no-op Cast nodes removed
  std::map<std::string, int> opCounts;  // op type -> count in the resulting graph
};

Graph importOnnx(const std::string& onnxPath, const ConvertOptions& options = {}, ConvertReport* report = nullptr);
// Same, from a model in memory (tests). The model is copied, not modified.
Graph importOnnx(const onnx::ModelProto& model, const ConvertOptions& options = {}, ConvertReport* report = nullptr);

}  // namespace petrel
