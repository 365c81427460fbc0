#include "ops/op.h"

#include <map>

#include "graph/weight_matrix.h"
#include "petrel/error.h"
#include "weights/decode.h"

namespace petrel {

int64_t StaticTensor::intAt(int64_t i) const {
  return dtype == DType::kInt64 ? i64[i] : static_cast<int64_t>(f32[i]);
}

float StaticTensor::floatAt(int64_t i) const {
  return dtype == DType::kFloat32 ? f32[i] : static_cast<float>(i64[i]);
}

std::vector<int64_t> StaticTensor::toInts() const {
  std::vector<int64_t> out(elements());
  for (int64_t i = 0; i < elements(); ++i) out[i] = intAt(i);
  return out;
}

StaticTensor StaticTensor::ofInts(Shape shape, std::vector<int64_t> values) {
  StaticTensor t;
  t.dtype = DType::kInt64;
  t.shape = std::move(shape);
  t.i64 = std::move(values);
  return t;
}

StaticTensor StaticTensor::ofFloats(Shape shape, std::vector<float> values) {
  StaticTensor t;
  t.dtype = DType::kFloat32;
  t.shape = std::move(shape);
  t.f32 = std::move(values);
  return t;
}

const OpInput& PlanContext::input(size_t i) const {
  if (!hasInput(i)) fail("input " + std::to_string(i) + " is missing");
  return inputs[i];
}

const StaticTensor& PlanContext::staticInput(size_t i) const {
  const OpInput& in = input(i);
  if (!in.value)
    fail("input " + std::to_string(i) +
         " must be known before running (a constant or computed from shapes only), but it is computed at run time");
  return *in.value;
}

bool PlanContext::allInputsStatic() const {
  for (const OpInput& in : inputs)
    if (in.present && !in.value) return false;
  return true;
}

ActivationParams PlanContext::fusedActivation() const {
  ActivationParams params;
  const std::string name = node.getString("activation", "");
  if (name.empty()) return params;
  if (!parseActivation(name, &params.kind)) fail("unknown fused activation '" + name + "'");
  params.alpha = node.getFloat("activation_alpha", 0.0f);
  params.beta = node.getFloat("activation_beta", 0.0f);
  return params;
}

const float* PlanContext::staticFloats(size_t i) const {
  const OpInput& in = input(i);
  if (in.constant) {
    if (in.constant->storage != Storage::kFloat32)
      fail("input " + std::to_string(i) + " is stored as " + storageName(in.constant->storage) +
           "; this operator reads only fp32 constants");
    return in.constant->floats();
  }
  if (in.value) {
    if (in.value->dtype != DType::kFloat32) fail("input " + std::to_string(i) + " must be float32");
    return in.value->f32.data();
  }
  return nullptr;
}

Storage PlanContext::weightStorage(size_t i) const {
  const OpInput& in = input(i);
  return in.constant ? in.constant->storage : Storage::kFloat32;
}

EncodedMatrixView PlanContext::encodedWeights(size_t i) const {
  const OpInput& in = input(i);
  const std::string what = "input " + std::to_string(i);
  if (!in.constant || !in.constant->isEncoded()) fail(what + " is not a compressed weight constant");
  EncodedMatrixView view;
  try {
    view = in.constant->encodedView(what);
  } catch (const Error& e) {
    fail(e.what());
  }
  const std::optional<WeightMatrix> matrix = weightMatrixOf(node, static_cast<int>(i), in.shape);
  if (!matrix)
    fail(what + " " + shapeToString(in.shape) + " is stored as " + storageName(in.constant->storage) +
         " but is not a weight matrix of this op");
  if (matrix->rows != view.layout.rows || matrix->depth != view.layout.depth)
    fail(what + " " + shapeToString(in.shape) + " is encoded as a [" + std::to_string(view.layout.rows) + ", " +
         std::to_string(view.layout.depth) + "] matrix; this op's weight matrix is [" +
         std::to_string(matrix->rows) + ", " + std::to_string(matrix->depth) + "]");
  return view;
}

std::vector<float> PlanContext::decodedWeights(size_t i) {
  const EncodedMatrixView view = encodedWeights(i);
  std::vector<float> matrix(static_cast<size_t>(view.layout.rows * view.layout.depth));
  decodeMatrix(view, matrix.data());
  markInputCopied(i);
  return matrix;
}

AlignedBuffer allocateScratch(const Executor& executor, const Node& node) {
  const size_t bytes = executor.scratchBytes();
  return bytes > 0 ? allocateBuffer(static_cast<int64_t>(bytes), node.describe(), "scratch") : AlignedBuffer();
}

void PlanContext::markInputCopied(size_t i) {
  if (inputCopied.size() < inputs.size()) inputCopied.resize(inputs.size(), false);
  inputCopied.at(i) = true;
}

void PlanContext::fail(const std::string& what) const { throw Error(node.describe() + ": " + what); }

int64_t PlanContext::normalizedAxis(int64_t axis, int64_t rank) const {
  if (axis < -rank || axis >= rank)
    fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

namespace {
std::map<std::string, OpPlanner>& registry() {
  static std::map<std::string, OpPlanner> ops;
  return ops;
}
}  // namespace

void registerOp(const std::string& opType, OpPlanner planner) { registry()[opType] = planner; }

OpPlanner findOp(const std::string& opType) {
  auto it = registry().find(opType);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> registeredOps() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace petrel
