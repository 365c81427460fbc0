#pragma once
// The operator interface. Each operator family lives in one file under src/ops/
// and registers a planner for its ONNX op types with PETREL_REGISTER_OP.
//
// Planning (once per Session and per resize) calls the planner with the input
// shapes. The planner checks the node, computes the output shapes and either
//   - returns an Executor that computes the float32 outputs at run time, or
//   - fills `staticOutputs` and returns nullptr: ops on int64 shape values
//     (Shape, Gather, Concat, Unsqueeze, arithmetic ...) compute them here, or
//   - sets `aliasInput` and returns nullptr (Reshape, Flatten, Squeeze,
//     Unsqueeze on float data: the output is the input's memory, reshaped).
// A float op whose inputs are all static needs no special code: the session
// runs its executor once at planning and keeps the result as a static value.
// run() only computes: it must not allocate or throw.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "kernels/activation.h"
#include "memory/allocator.h"
#include "petrel/petrel.h"

namespace petrel {

class ThreadPool;

// A tensor known at planning: a constant from the model or a computed static
// value. Holds float32 or int64 data.
struct StaticTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<float> f32;    // when dtype == kFloat32
  std::vector<int64_t> i64;  // when dtype == kInt64

  int64_t elements() const { return shapeElements(shape); }
  // Element i converted to int64 / float (works for either dtype).
  int64_t intAt(int64_t i) const;
  float floatAt(int64_t i) const;
  std::vector<int64_t> toInts() const;  // all elements as int64
  static StaticTensor ofInts(Shape shape, std::vector<int64_t> values);
  static StaticTensor ofFloats(Shape shape, std::vector<float> values);
};

// What a planner knows of one input.
//  - `constant` is set for a constant stored in the model (weights): read it
//    from there, in its stored form, without copying.
//  - `value` is set when the contents are known at planning: every int64
//    value, every computed static value, and stored fp32 constants of at most
//    kSmallConstantElements elements.
struct OpInput {
  bool present = false;                    // false for an omitted optional input
  DType dtype = DType::kFloat32;
  Shape shape;
  const StaticTensor* value = nullptr;
  const ConstantData* constant = nullptr;
  bool isStatic() const { return value != nullptr || constant != nullptr; }
};
constexpr int64_t kSmallConstantElements = 4096;

struct RunArgs {
  // Data of every present float32 input (computed, static or an fp32 constant);
  // nullptr for absent and int64 inputs.
  std::vector<const float*> inputs;
  std::vector<float*> outputs;
  void* scratch = nullptr;           // scratchBytes() bytes, 64-byte aligned
  ThreadPool* pool = nullptr;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Names the kernel for `petrel info`, e.g. "conv.depthwise3x3.f32".
  virtual std::string kernelName() const = 0;
  // Per-run scratch space; shared by all executors (they run one at a time).
  virtual size_t scratchBytes() const { return 0; }
  // Weight bytes this executor copied or transformed at planning.
  virtual size_t preparedWeightBytes() const { return 0; }
  // Inputs whose element j is read only to compute element j of output 0,
  // before that element is written: the session may give output 0 the
  // memory of such an input (of the output's shape) when no later step reads
  // it, e.g. an Add or Relu whose operand dies there, or a Conv's residual.
  virtual std::vector<size_t> inputsReadElementwise() const { return {}; }
  virtual void run(const RunArgs& args) = 0;
};

// Scratch for one run of `executor` on its own, outside a session's shared
// scratch (static values, op tests): empty when it needs none; an Error
// naming `node` when it cannot be allocated.
AlignedBuffer allocateScratch(const Executor& executor, const Node& node);

struct PlanContext {
  PlanContext(const Node& node_, const SessionConfig& config_) : node(node_), config(config_) {}

  const Node& node;
  std::vector<OpInput> inputs;  // one per node input
  SessionConfig config;

  // Filled by the planner:
  std::vector<Shape> outputShapes;                         // one per node output
  std::vector<std::optional<StaticTensor>> staticOutputs;  // for static results
  int aliasInput = -1;  // output 0 is input `aliasInput`'s memory (same element count)
  int64_t multiplyAdds = 0;  // of one run: becomes NodePlan::multiplyAdds (petrel.h)
  // Inputs the executor copied (e.g. weights packed for the GEMM): run() will
  // not read them, so RunArgs holds nullptr there and the session may drop a
  // file-backed constant's pages once no other node needs them.
  std::vector<bool> inputCopied;
  void markInputCopied(size_t i);

  // Helpers for planners.
  const OpInput& input(size_t i) const;          // Error if missing
  bool hasInput(size_t i) const { return i < inputs.size() && inputs[i].present; }
  // The contents of input i (a computed static value or a stored fp32/int64
  // constant); Error naming the node and input if only known at run time.
  const StaticTensor& staticInput(size_t i) const;
  bool allInputsStatic() const;
  // The activation fused into this node by the converter: attributes
  // "activation" (an activationName; absent or "" for none), "activation_alpha"
  // and "activation_beta". An unknown name is an Error naming the node.
  ActivationParams fusedActivation() const;
  // The float32 contents of input i when known at planning (a stored fp32
  // constant or a computed static value); nullptr when computed at run time.
  // A constant stored in another form (fp16, int8, ...) is an Error naming the
  // storage, so no fp32 executor is ever handed compressed weights.
  const float* staticFloats(size_t i) const;
  // Weight matrices (graph/weight_matrix.h) of Conv, ConvTranspose, Gemm and
  // MatMul. The storage of input i (fp32 unless a compressed constant):
  Storage weightStorage(size_t i) const;
  // The compressed weights of input i in their stored form, checked against
  // the op's weight matrix [rows][depth]; Error if they are not compressed
  // or do not fit the op. The view points into the model (no copy).
  EncodedMatrixView encodedWeights(size_t i) const;
  // The same decoded once to fp32 in weight-matrix order [rows][depth], for
  // executors that prepare their weights at planning; marks input i copied.
  std::vector<float> decodedWeights(size_t i);
  // `axis` in [-rank, rank) as an index from 0; fails (naming axis and rank) outside it.
  int64_t normalizedAxis(int64_t axis, int64_t rank) const;
  [[noreturn]] void fail(const std::string& what) const;  // throws Error prefixed by node
};

using OpPlanner = std::unique_ptr<Executor> (*)(PlanContext& ctx);

// Registry keyed by ONNX op type.
void registerOp(const std::string& opType, OpPlanner planner);
OpPlanner findOp(const std::string& opType);  // nullptr if unknown
std::vector<std::string> registeredOps();

struct OpRegistrar {
  OpRegistrar(const char* opType, OpPlanner planner) { registerOp(opType, planner); }
};
#define PETREL_OP_CONCAT_(a, b) a##b
#define PETREL_OP_CONCAT(a, b) PETREL_OP_CONCAT_(a, b)
#define PETREL_REGISTER_OP(opType, planner) \
  static ::petrel::OpRegistrar PETREL_OP_CONCAT(petrel_op_registrar_, __COUNTER__)(opType, planner)

}  // namespace petrel
