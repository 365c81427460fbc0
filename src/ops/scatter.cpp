// ScatterND (ONNX opset 11-16): output = data, then for every index tuple in
// `indices` ([..., k]) the slice data[tuple] is replaced by (or, with
// reduction add/mul, combined with) the matching slice of `updates`.
// Exporters emit it for slice assignments such as Swin's attention mask
// (mask[h0:h1, w0:w1] = n), usually on values known at planning; data computed
// at run time is served by an executor, with the indices always static.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ops/op.h"

namespace petrel {
namespace {

enum class Reduction { kNone, kAdd, kMul };

// Where each update slice goes: the element offset of every index tuple in
// data, and the slice length. Checked at planning.
struct ScatterPlan {
  std::vector<int64_t> offsets;
  int64_t sliceElements = 0;
  Reduction reduction = Reduction::kNone;
};

ScatterPlan planScatter(const PlanContext& ctx, const Shape& data, const StaticTensor& indices, const Shape& updates) {
  if (indices.shape.empty()) ctx.fail("indices must have at least one dimension");
  const int64_t k = indices.shape.back();
  const int64_t rank = static_cast<int64_t>(data.size());
  if (k < 1 || k > rank) ctx.fail("index tuples of length " + std::to_string(k) + " do not fit data of rank " + std::to_string(rank));
  // updates.shape must be indices.shape[:-1] + data.shape[k:].
  Shape expected(indices.shape.begin(), indices.shape.end() - 1);
  expected.insert(expected.end(), data.begin() + k, data.end());
  if (updates != expected)
    ctx.fail("updates have shape " + shapeToString(updates) + ", expected " + shapeToString(expected));

  ScatterPlan plan;
  plan.sliceElements = 1;
  for (int64_t d = k; d < rank; ++d) plan.sliceElements *= data[d];
  const std::string reduction = ctx.node.getString("reduction", "none");
  if (reduction == "add") plan.reduction = Reduction::kAdd;
  else if (reduction == "mul") plan.reduction = Reduction::kMul;
  else if (reduction != "none") ctx.fail("reduction '" + reduction + "' is not supported (none, add, mul)");

  const int64_t tuples = indices.elements() / k;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = 0;
    for (int64_t d = 0; d < k; ++d) {
      int64_t index = indices.intAt(t * k + d);
      if (index < 0) index += data[d];
      if (index < 0 || index >= data[d])
        ctx.fail("index " + std::to_string(indices.intAt(t * k + d)) + " is out of range for dimension " +
                 std::to_string(d) + " of size " + std::to_string(data[d]));
      offset = offset * data[d] + index;
    }
    plan.offsets.push_back(offset * plan.sliceElements);
  }
  return plan;
}

template <typename T>
void scatter(const ScatterPlan& plan, const T* data, int64_t dataElements, const T* updates, T* out) {
  if (out != data && dataElements > 0) std::memcpy(out, data, dataElements * sizeof(T));
  for (size_t t = 0; t < plan.offsets.size(); ++t) {
    T* target = out + plan.offsets[t];
    const T* source = updates + static_cast<int64_t>(t) * plan.sliceElements;
    for (int64_t i = 0; i < plan.sliceElements; ++i) {
      switch (plan.reduction) {
        case Reduction::kNone: target[i] = source[i]; break;
        case Reduction::kAdd: target[i] += source[i]; break;
        case Reduction::kMul: target[i] *= source[i]; break;
      }
    }
  }
}

class ScatterExecutor final : public Executor {
 public:
  ScatterExecutor(ScatterPlan plan, int64_t dataElements) : plan_(std::move(plan)), dataElements_(dataElements) {}
  std::string kernelName() const override { return "scatter_nd.f32"; }
  void run(const RunArgs& args) override {
    scatter(plan_, args.inputs[0], dataElements_, args.inputs[2], args.outputs[0]);
  }

 private:
  ScatterPlan plan_;
  int64_t dataElements_;
};

std::unique_ptr<Executor> planScatterND(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const OpInput& updates = ctx.input(2);
  if (ctx.input(1).dtype != DType::kInt64) ctx.fail("indices must be int64");
  if (data.dtype != updates.dtype) ctx.fail("data and updates must have the same type");
  ScatterPlan plan = planScatter(ctx, data.shape, ctx.staticInput(1), updates.shape);
  ctx.outputShapes[0] = data.shape;
  const int64_t n = shapeElements(data.shape);

  if (data.value && updates.value) {  // all known: compute now
    StaticTensor result = *data.value;
    if (result.dtype == DType::kInt64)
      scatter(plan, data.value->i64.data(), n, updates.value->i64.data(), result.i64.data());
    else
      scatter(plan, data.value->f32.data(), n, updates.value->f32.data(), result.f32.data());
    ctx.staticOutputs[0] = std::move(result);
    return nullptr;
  }
  if (data.dtype != DType::kFloat32) ctx.fail("int64 data must be known at planning");
  return std::make_unique<ScatterExecutor>(std::move(plan), n);
}

}  // namespace

PETREL_REGISTER_OP("ScatterND", planScatterND);

}  // namespace petrel
