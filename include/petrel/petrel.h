#pragma once
// Petrel's public C++ API.
//
//   auto model = petrel::Model::load("resnet18.petrel");     // mmap + verify
//   petrel::Session session(model, {.threads = 2});           // plans for the model's input shapes
//   auto outputs = session.run({{"input", inputTensor}});
//
// A Model is immutable and may be shared by many Sessions (and threads). A
// Session is used by one thread at a time; planning (shape inference, kernel
// selection, weight preparation, memory plan) happens in its constructor and in
// resize(), never in run().
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "petrel/error.h"

namespace petrel {

struct Graph;
class SessionImpl;

enum class PrecisionMode { kNormal, kHigh, kLow };
enum class MemoryMode { kNormal, kHigh, kLow };

const char* toString(PrecisionMode mode);
const char* toString(MemoryMode mode);
// Parse "normal" / "high" / "low"; anything else is an Error naming the text.
PrecisionMode parsePrecisionMode(const std::string& text);
MemoryMode parseMemoryMode(const std::string& text);

struct SessionConfig {
  int threads = 1;
  PrecisionMode precision = PrecisionMode::kNormal;
  MemoryMode memory = MemoryMode::kNormal;
};

// A dense float32 tensor in C (row-major) order.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  Tensor(std::vector<int64_t> shape, std::vector<float> data);
  explicit Tensor(std::vector<int64_t> shape);  // zero-filled
  int64_t elements() const;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // -1 marks a dynamic dimension (the batch)
};

class Model {
 public:
  // Memory-maps and verifies a .petrel file. Throws Error naming the file and
  // what is wrong (missing, truncated, corrupt, unsupported version).
  static std::shared_ptr<const Model> load(const std::string& path);
  // Wraps an in-memory graph (used by the converter's self-check and by tests).
  static std::shared_ptr<const Model> fromGraph(Graph graph);

  ~Model();
  const Graph& graph() const { return *graph_; }
  std::vector<TensorInfo> inputs() const;
  std::vector<TensorInfo> outputs() const;
  size_t weightBytes() const;  // constant data in the file

 private:
  Model();
  std::unique_ptr<Graph> graph_;
  std::shared_ptr<const void> mapping_;
};

// What a planned session decided, for `petrel info` and the benchmarks.
struct NodePlan {
  std::string node;    // node name
  std::string op;      // ONNX op type
  std::string kernel;  // executor chosen, e.g. "conv.im2col_sgemm.f32"
  std::vector<std::vector<int64_t>> outputShapes;
  // Multiply-adds of one run of Conv, ConvTranspose, Gemm, MatMul and the
  // fused PetrelAttention, as the operation defines them, whatever the kernel
  // computes (the benchmarks' FLOP count); 0 for other ops and for nodes
  // computed at planning.
  int64_t multiplyAdds = 0;
};

// Bytes of model constants, by how they are stored in the model file.
struct WeightBytesByStorage {
  size_t fp32 = 0, fp16 = 0, int8 = 0, int4 = 0;
  size_t total() const { return fp32 + fp16 + int8 + int4; }
};

struct MemoryStats {
  size_t arenaBytes = 0;          // the planned arena for intermediate tensors
  size_t unplannedBytes = 0;      // sum of all intermediate tensor sizes (no reuse)
  size_t scratchBytes = 0;        // per-run scratch shared by the executors
  size_t preparedWeightBytes = 0; // fp32 weights copied/packed/decoded at planning
  size_t releasedWeightBytes = 0; // model-file pages of those weights dropped after copying
  // Constants the executors read in their stored form at run time (weights
  // kept compressed in memory mode low, biases, fp32 filters read in place).
  WeightBytesByStorage storedWeightBytes;
  // What the session holds of the weights: stored + prepared.
  size_t weightBytes() const { return storedWeightBytes.total() + preparedWeightBytes; }
};

class Session {
 public:
  // Plans for the model's declared input shapes, with dynamic dims set to 1.
  Session(std::shared_ptr<const Model> model, SessionConfig config = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Re-plans for new input shapes (e.g. another batch size).
  void resize(const std::map<std::string, std::vector<int64_t>>& inputShapes);

  // Inputs by name; every model input must be given with the planned shape,
  // otherwise an Error names the input and the expected shape.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

  const SessionConfig& config() const;
  std::vector<NodePlan> plan() const;
  MemoryStats memoryStats() const;
  std::vector<TensorInfo> inputs() const;  // with the planned shapes

  // Per-node wall time of the last run, in the order of plan(); filled only
  // after setProfiling(true).
  void setProfiling(bool enabled);
  std::vector<double> lastRunNodeMilliseconds() const;

 private:
  std::unique_ptr<SessionImpl> impl_;
};

}  // namespace petrel
