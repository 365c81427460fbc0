// Operators that change a tensor's shape or type, or make tensors from shapes:
// Shape, Reshape, Flatten, Squeeze, Unsqueeze, Expand, ConstantOfShape, Range,
// Cast.
//
// On float32 data, Reshape/Flatten/Squeeze/Unsqueeze (and Cast to float) alias
// their input: the output is the same memory with a new shape. On int64 data
// (static shape values) every operator computes its result at planning.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {
namespace {

// A 1-D int64 parameter input (Reshape shape, Squeeze axes, ...).
std::vector<int64_t> intsInput(const PlanContext& ctx, size_t index, const char* what) {
  const StaticTensor& t = ctx.staticInput(index);
  if (t.shape.size() > 1)
    ctx.fail(std::string(what) + " (input " + std::to_string(index) + ") must be 1-D, got shape " +
             shapeToString(t.shape));
  return t.toInts();
}

// The end of every pure reshape: float data aliases the input, int64 data is a
// static value with the new shape.
std::unique_ptr<Executor> finishReshape(PlanContext& ctx, const Shape& outShape) {
  const OpInput& data = ctx.input(0);
  if (shapeElements(outShape) != shapeElements(data.shape))
    ctx.fail("cannot reshape " + shapeToString(data.shape) + " to " + shapeToString(outShape));
  ctx.outputShapes[0] = outShape;
  if (data.dtype == DType::kInt64)
    ctx.staticOutputs[0] = StaticTensor::ofInts(outShape, ctx.staticInput(0).toInts());
  else
    ctx.aliasInput = 0;
  return nullptr;
}

// --- Shape -------------------------------------------------------------------

std::unique_ptr<Executor> planShape(PlanContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  // Opset 15 start/end: negative counts from the back, then clamped to [0, rank].
  auto clampIndex = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
  const int64_t start = clampIndex(ctx.node.getInt("start", 0));
  const int64_t end = std::max(start, clampIndex(ctx.node.getInt("end", rank)));
  std::vector<int64_t> dims(in.begin() + start, in.begin() + end);
  ctx.outputShapes[0] = {end - start};
  ctx.staticOutputs[0] = StaticTensor::ofInts({end - start}, std::move(dims));
  return nullptr;
}

// --- Reshape -----------------------------------------------------------------

std::unique_ptr<Executor> planReshape(PlanContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const std::vector<int64_t> target = intsInput(ctx, 1, "shape");
  const bool allowZero = ctx.node.getInt("allowzero", 0) != 0;
  const int64_t inElements = shapeElements(in);

  Shape out(target.size());
  int64_t inferred = -1;  // index of the -1 entry
  int64_t known = 1;      // product of the other entries
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t dim = target[i];
    if (dim == -1) {
      if (inferred >= 0) ctx.fail("shape " + shapeToString(target) + " has more than one -1");
      inferred = static_cast<int64_t>(i);
      continue;
    }
    if (dim == 0 && !allowZero) {  // 0 copies the input dimension at the same index
      if (i >= in.size())
        ctx.fail("shape " + shapeToString(target) + " copies dimension " + std::to_string(i) +
                 " (a 0) but the input " + shapeToString(in) + " has rank " + std::to_string(in.size()));
      dim = in[i];
    }
    if (dim < 0) ctx.fail("shape " + shapeToString(target) + " has a negative entry " + std::to_string(dim));
    out[i] = dim;
    known *= dim;
  }
  if (inferred >= 0) {
    if (known == 0 || inElements % known != 0)
      ctx.fail("cannot infer the -1 in shape " + shapeToString(target) + " for input " + shapeToString(in));
    out[inferred] = inElements / known;
  }
  if (shapeElements(out) != inElements)
    ctx.fail("cannot reshape " + shapeToString(in) + " (" + std::to_string(inElements) + " elements) to " +
             shapeToString(target));
  return finishReshape(ctx, out);
}

// --- Flatten -----------------------------------------------------------------

std::unique_ptr<Executor> planFlatten(PlanContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.node.getInt("axis", 1);
  if (axis < -rank || axis > rank)  // axis == rank is allowed: [N, 1]
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const int64_t outer = shapeElements(Shape(in.begin(), in.begin() + axis));
  const int64_t inner = shapeElements(Shape(in.begin() + axis, in.end()));
  return finishReshape(ctx, {outer, inner});
}

// --- Squeeze / Unsqueeze --------------------------------------------------------

std::unique_ptr<Executor> planSqueeze(PlanContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<bool> removed(in.size(), false);
  if (ctx.hasInput(1)) {
    for (int64_t axis : intsInput(ctx, 1, "axes")) {
      const int64_t a = ctx.normalizedAxis(axis, rank);
      if (in[a] != 1)
        ctx.fail("cannot squeeze axis " + std::to_string(axis) + " of shape " + shapeToString(in) +
                 ": its size is not 1");
      removed[a] = true;
    }
  } else {  // no axes: remove every size-1 dimension
    for (size_t d = 0; d < in.size(); ++d) removed[d] = in[d] == 1;
  }
  Shape out;
  for (size_t d = 0; d < in.size(); ++d)
    if (!removed[d]) out.push_back(in[d]);
  return finishReshape(ctx, out);
}

std::unique_ptr<Executor> planUnsqueeze(PlanContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const std::vector<int64_t> axes = intsInput(ctx, 1, "axes");
  const int64_t outRank = static_cast<int64_t>(in.size() + axes.size());
  std::vector<bool> inserted(outRank, false);
  for (int64_t axis : axes) {  // axes refer to the output's dimensions
    const int64_t a = ctx.normalizedAxis(axis, outRank);
    if (inserted[a]) ctx.fail("axes " + shapeToString(axes) + " repeat axis " + std::to_string(axis));
    inserted[a] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < outRank; ++d) out.push_back(inserted[d] ? 1 : in[next++]);
  return finishReshape(ctx, out);
}

// --- Expand --------------------------------------------------------------------

// Writes `in` broadcast to the plan's output, rows [rowBegin, rowEnd).
template <typename T>
void expandRows(const BroadcastPlan& plan, const T* in, T* out, int64_t rowBegin, int64_t rowEnd) {
  const int64_t inner = plan.inner();
  const bool contiguous = plan.innerStride(0) == 1;
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const T* src = in + plan.rowOffset(0, row);
    T* dst = out + row * inner;
    if (contiguous)
      std::memcpy(dst, src, inner * sizeof(T));
    else
      std::fill(dst, dst + inner, *src);
  }
}

class ExpandExecutor final : public Executor {
 public:
  explicit ExpandExecutor(BroadcastPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "expand.f32"; }
  void run(const RunArgs& args) override {
    const float* in = args.inputs[0];
    float* out = args.outputs[0];
    parallelOverRange(args.pool, plan_.rows(), plan_.elements(),
                      [&](int64_t begin, int64_t end) { expandRows(plan_, in, out, begin, end); });
  }

 private:
  BroadcastPlan plan_;
};

std::unique_ptr<Executor> planExpand(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const std::vector<int64_t> target = intsInput(ctx, 1, "shape");
  for (int64_t d : target)
    if (d < 0) ctx.fail("shape " + shapeToString(target) + " has a negative entry");
  // ONNX Expand broadcasts both ways: a 1 in `shape` keeps the input's size.
  const std::optional<Shape> out = broadcastShapes(data.shape, target);
  if (!out) ctx.fail("cannot expand " + shapeToString(data.shape) + " to " + shapeToString(target));
  ctx.outputShapes[0] = *out;
  BroadcastPlan plan = makeBroadcastPlan({data.shape}, *out);
  if (data.dtype == DType::kInt64) {
    std::vector<int64_t> values(shapeElements(*out));
    expandRows(plan, ctx.staticInput(0).i64.data(), values.data(), 0, plan.rows());
    ctx.staticOutputs[0] = StaticTensor::ofInts(*out, std::move(values));
    return nullptr;
  }
  return std::make_unique<ExpandExecutor>(std::move(plan));
}

// --- ConstantOfShape -------------------------------------------------------------

class FillExecutor final : public Executor {
 public:
  FillExecutor(int64_t count, float value) : count_(count), value_(value) {}
  std::string kernelName() const override { return "fill.f32"; }
  void run(const RunArgs& args) override { std::fill(args.outputs[0], args.outputs[0] + count_, value_); }

 private:
  int64_t count_;
  float value_;
};

std::unique_ptr<Executor> planConstantOfShape(PlanContext& ctx) {
  const Shape out = intsInput(ctx, 0, "shape");
  for (int64_t d : out)
    if (d < 0) ctx.fail("shape " + shapeToString(out) + " has a negative entry");
  ctx.outputShapes[0] = out;

  // "value" is absent (0.0f) or a one-element float or int64 tensor.
  float floatValue = 0.0f;
  auto it = ctx.node.attributes.find("value");
  if (it != ctx.node.attributes.end()) {
    const AttributeValue& v = it->second;
    std::optional<int64_t> intValue;
    if (const auto* i = std::get_if<int64_t>(&v)) {
      intValue = *i;
    } else if (const auto* f = std::get_if<float>(&v)) {
      floatValue = *f;
    } else if (const auto* is = std::get_if<std::vector<int64_t>>(&v); is && is->size() == 1) {
      intValue = (*is)[0];
    } else if (const auto* fs = std::get_if<std::vector<float>>(&v); fs && fs->size() == 1) {
      floatValue = (*fs)[0];
    } else {
      ctx.fail("attribute 'value' must be a single float or int64");
    }
    if (intValue) {
      ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::vector<int64_t>(shapeElements(out), *intValue));
      return nullptr;
    }
  }
  return std::make_unique<FillExecutor>(shapeElements(out), floatValue);
}

// --- Range ---------------------------------------------------------------------

std::unique_ptr<Executor> planRange(PlanContext& ctx) {
  const StaticTensor* params[3];
  bool allInts = true;
  for (size_t i = 0; i < 3; ++i) {
    params[i] = &ctx.staticInput(i);
    if (params[i]->elements() != 1)
      ctx.fail("input " + std::to_string(i) + " must be a scalar, got shape " + shapeToString(params[i]->shape));
    allInts = allInts && params[i]->dtype == DType::kInt64;
  }
  if (allInts) {
    const int64_t start = params[0]->i64[0], limit = params[1]->i64[0], delta = params[2]->i64[0];
    if (delta == 0) ctx.fail("delta is 0");
    // count = max(ceil((limit - start) / delta), 0), in integers.
    const int64_t span = limit - start;
    int64_t count = span / delta;  // truncates toward zero: round up only a positive quotient
    if (span % delta != 0 && (span < 0) == (delta < 0)) ++count;
    count = std::max<int64_t>(count, 0);
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) values[i] = start + i * delta;
    ctx.outputShapes[0] = {count};
    ctx.staticOutputs[0] = StaticTensor::ofInts({count}, std::move(values));
    return nullptr;
  }
  const float start = params[0]->floatAt(0), limit = params[1]->floatAt(0), delta = params[2]->floatAt(0);
  if (delta == 0.0f) ctx.fail("delta is 0");
  const int64_t count =
      std::max<int64_t>(static_cast<int64_t>(std::ceil((static_cast<double>(limit) - start) / delta)), 0);
  std::vector<float> values(count);
  for (int64_t i = 0; i < count; ++i) values[i] = start + static_cast<float>(i) * delta;
  ctx.outputShapes[0] = {count};
  ctx.staticOutputs[0] = StaticTensor::ofFloats({count}, std::move(values));
  return nullptr;
}

// --- Cast ----------------------------------------------------------------------

// ONNX TensorProto.DataType values Petrel maps to its two types.
constexpr int64_t kOnnxFloat = 1;
constexpr int64_t kOnnxInt32 = 6;
constexpr int64_t kOnnxInt64 = 7;
constexpr int64_t kOnnxBool = 9;

std::unique_ptr<Executor> planCast(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  if (!ctx.node.has("to")) ctx.fail("attribute 'to' is missing");
  const int64_t to = ctx.node.getInt("to", 0);
  ctx.outputShapes[0] = data.shape;

  if (to == kOnnxFloat) {
    if (data.dtype == DType::kFloat32) {
      ctx.aliasInput = 0;
      return nullptr;
    }
    const StaticTensor& in = ctx.staticInput(0);
    std::vector<float> values(in.elements());
    for (int64_t i = 0; i < in.elements(); ++i) values[i] = in.floatAt(i);
    ctx.staticOutputs[0] = StaticTensor::ofFloats(data.shape, std::move(values));
    return nullptr;
  }
  if (to == kOnnxInt64 || to == kOnnxInt32 || to == kOnnxBool) {
    // Integers exist only as static values (int32 is held as int64).
    if (data.dtype == DType::kFloat32 && !data.value)
      ctx.fail("casting a float tensor computed at run time to an integer type is not supported "
               "(integer values must be known at planning)");
    const StaticTensor& in = ctx.staticInput(0);
    std::vector<int64_t> values(in.elements());
    for (int64_t i = 0; i < in.elements(); ++i) {
      // float -> int truncates toward zero, like a C cast.
      const int64_t v = in.dtype == DType::kInt64 ? in.i64[i] : static_cast<int64_t>(in.f32[i]);
      const bool nonZero = in.dtype == DType::kInt64 ? in.i64[i] != 0 : in.f32[i] != 0.0f;
      values[i] = to == kOnnxBool ? (nonZero ? 1 : 0) : v;
    }
    ctx.staticOutputs[0] = StaticTensor::ofInts(data.shape, std::move(values));
    return nullptr;
  }
  ctx.fail("cast to ONNX data type " + std::to_string(to) +
           " is not supported (supported: 1 float, 6 int32, 7 int64, 9 bool)");
}

}  // namespace

PETREL_REGISTER_OP("Shape", planShape);
PETREL_REGISTER_OP("Reshape", planReshape);
PETREL_REGISTER_OP("Flatten", planFlatten);
PETREL_REGISTER_OP("Squeeze", planSqueeze);
PETREL_REGISTER_OP("Unsqueeze", planUnsqueeze);
PETREL_REGISTER_OP("Expand", planExpand);
PETREL_REGISTER_OP("ConstantOfShape", planConstantOfShape);
PETREL_REGISTER_OP("Range", planRange);
PETREL_REGISTER_OP("Cast", planCast);

}  // namespace petrel
