#pragma once
// The in-memory graph IR shared by the converter (which builds it from ONNX),
// the .petrel writer/reader, and the runtime planner.
//
// Operators keep their ONNX names and ONNX (opset 13+) semantics, with these
// Petrel normalisations made by the converter:
//   - parameters that ONNX passes as inputs (Reshape shape, Slice starts, Pad
//     pads, Squeeze/Unsqueeze axes, Split sizes, Resize scales/sizes, ...) stay
//     inputs; they must be *static* (known at planning, see below);
//   - Conv, ConvTranspose, Gemm, MatMul and Add may carry a fused activation in
//     the attributes "activation" (string, see Activation in ops/activation.h),
//     "activation_alpha" and "activation_beta" (floats);
//   - Identity and Dropout are removed, BatchNormalization is folded into Conv;
//   - Conv may have a 4th input, a residual summand R of the output's shape:
//     Y = act(conv(X, W) + B + R) (an Add fused by graph/passes.h fuseResidualAdds);
//   - a 2-D Conv may carry the MaxPool that read its output (graph/passes.h
//     fuseConvMaxPool): the MaxPool's attributes under the names
//     kAbsorbedPoolPrefix + ONNX name ("pool_kernel_shape", "pool_strides",
//     ...), applied after the activation; the Conv's output is the pooled one.
//   - multi-head attention chains (MatMul, Softmax, MatMul with their head
//     Slices, Reshapes and Transposes) may be one PetrelAttention node, an
//     op of Petrel's own (ops/attention.cpp, graph/passes.h fuseAttention).
//
// Values are float32 tensors computed at run time, or int64/float32 tensors
// that are static: constants stored in the model, or values computed from
// constants and input *shapes* only (Shape -> Gather -> Concat chains). The
// runtime evaluates static values while planning, so a Reshape whose target
// depends on the batch size still works after a resize.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weights/quantized_layouts.h"

namespace petrel {

using Shape = std::vector<int64_t>;

// Prefix of the attributes of a MaxPool absorbed by the Conv before it.
inline constexpr char kAbsorbedPoolPrefix[] = "pool_";

// Number of elements; 1 for a scalar (empty shape).
int64_t shapeElements(const Shape& shape);
std::string shapeToString(const Shape& shape);

enum class DType : uint8_t { kFloat32 = 0, kInt64 = 1 };
const char* dtypeName(DType dtype);

// How a constant tensor's data is stored. kFloat16, kInt8 and kInt4 are the
// compressed weight storages: only weight inputs of Conv, ConvTranspose, Gemm
// and MatMul use them (graph/weight_matrix.h); the first three values equal
// WeightStorage's.
enum class Storage : uint8_t { kFloat32 = 0, kFloat16 = 1, kInt8 = 2, kInt4 = 3, kInt64 = 4 };
const char* storageName(Storage storage);
inline bool isEncodedStorage(Storage s) { return s == Storage::kFloat16 || s == Storage::kInt8 || s == Storage::kInt4; }

// Constant tensor data. Either points into a memory-mapped model file
// (`keepAlive` holds the mapping) or owns its bytes (converter, folded values).
struct ConstantData {
  Storage storage = Storage::kFloat32;
  Shape shape;
  const uint8_t* bytes = nullptr;
  size_t byteSize = 0;
  std::shared_ptr<const void> keepAlive;
  // True when `bytes` lie in a read-only file mapping: its pages can then be
  // dropped from memory and are read back from the file if touched again.
  bool fileBacked = false;
  // Compressed weights (isEncodedStorage): `bytes` is an encoded blob
  // ([scales][zero points][values], weights/quantized_layouts.h) of the op's
  // weight matrix [rows][depth] (graph/weight_matrix.h), while `shape` stays
  // the logical ONNX shape. encoding.storage matches `storage`.
  EncodedLayout encoding;
  bool isEncoded() const { return isEncodedStorage(storage); }
  // A view of the encoded weights; Error naming `name` unless isEncoded().
  EncodedMatrixView encodedView(const std::string& name) const;

  // Convenience constructors that own their bytes.
  static std::shared_ptr<ConstantData> fromFloats(Shape shape, const std::vector<float>& values);
  static std::shared_ptr<ConstantData> fromInt64s(Shape shape, const std::vector<int64_t>& values);
  // Owns a copy of `blob`, an encoded weight matrix of `layout` for a tensor of logical `shape`.
  static std::shared_ptr<ConstantData> fromEncoded(Shape shape, const EncodedLayout& layout,
                                                   const std::vector<uint8_t>& blob);

  const float* floats() const;      // requires storage == kFloat32
  const int64_t* int64s() const;    // requires storage == kInt64
  int64_t elements() const { return shapeElements(shape); }

  // Drops the resident pages of a file-backed constant that no executor will
  // read (it was packed into a copy); returns the bytes released. No-op (0)
  // for constants in ordinary memory.
  size_t releasePages() const;
};

struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  // Shape as known to the converter; graph inputs may have -1 (dynamic) dims.
  // The runtime recomputes every shape while planning.
  Shape shape;
  std::shared_ptr<const ConstantData> constant;  // set for constants (weights)
  bool isConstant() const { return constant != nullptr; }
};

using AttributeValue =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;

struct Node {
  std::string name;
  std::string op;              // ONNX op type, e.g. "Conv"
  std::vector<int> inputs;     // value ids; -1 for an omitted optional input
  std::vector<int> outputs;    // value ids
  std::map<std::string, AttributeValue> attributes;

  bool has(const std::string& key) const { return attributes.count(key) != 0; }
  // Typed accessors; a present attribute of the wrong type is an Error naming
  // the node and the attribute.
  int64_t getInt(const std::string& key, int64_t fallback) const;
  float getFloat(const std::string& key, float fallback) const;
  std::string getString(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> getInts(const std::string& key, const std::vector<int64_t>& fallback = {}) const;
  std::vector<float> getFloats(const std::string& key, const std::vector<float>& fallback = {}) const;
  // "Conv 'layer1.0.conv1'" - used to prefix error messages.
  std::string describe() const;
  // A Conv that carries a MaxPool it absorbed (kAbsorbedPoolPrefix attributes).
  bool hasAbsorbedMaxPool() const { return has(std::string(kAbsorbedPoolPrefix) + "kernel_shape"); }
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;   // in topological order
  std::vector<int> inputs;   // value ids of graph inputs (not constants)
  std::vector<int> outputs;  // value ids of graph outputs

  int addValue(Value value);
  int findValue(const std::string& name) const;  // -1 if absent
  // Checks ids in range, each value produced at most once, nodes topologically
  // ordered, graph outputs produced. Throws Error naming the first problem.
  void validate() const;
  // Bytes of constant data, by storage kind.
  size_t constantBytes() const;
};

}  // namespace petrel
