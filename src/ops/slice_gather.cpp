// Slice and Gather: copy selected parts of a tensor.
//
// Slice is a strided view: output element (i0, i1, ...) reads input offset
// base + sum(ik * stride_k), with stride_k = step_k * the input's stride.
// Gather copies whole blocks of the dims after its axis, chosen by the indices.
// Float data is copied at run time; int64 data (static shape values) at
// planning by the same code.
#include <algorithm>
#include <cstring>
#include <string>

#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {
namespace {

// Below this many elements a copy runs on the calling thread only.
constexpr int64_t kParallelMinElements = 1 << 15;
// Loops of a strided copy after merging; more only for exotic tensors.
constexpr size_t kMaxLoops = 8;

std::vector<int64_t> contiguousStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

// --- Slice -----------------------------------------------------------------------

// Output loops (outermost first, never empty) and the input step of each.
struct StridedPlan {
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;  // may be negative (negative steps) or 0 (size-1 loops)
  int64_t base = 0;              // input offset of output element 0
  int64_t inner() const { return dims.back(); }
  int64_t rows() const { return shapeElements(dims) / std::max<int64_t>(inner(), 1); }
  int64_t elements() const { return shapeElements(dims); }
};

// Drops size-1 loops and merges neighbours that are one contiguous run.
StridedPlan makeStridedPlan(const Shape& outShape, const std::vector<int64_t>& strides, int64_t base) {
  StridedPlan plan;
  plan.base = base;
  for (size_t d = 0; d < outShape.size(); ++d) {
    if (outShape[d] == 1) continue;
    if (!plan.dims.empty() && plan.strides.back() == strides[d] * outShape[d]) {
      plan.dims.back() *= outShape[d];
      plan.strides.back() = strides[d];
    } else {
      plan.dims.push_back(outShape[d]);
      plan.strides.push_back(strides[d]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    plan.strides.push_back(1);
  }
  return plan;
}

// Writes output rows [rowBegin, rowEnd) of a strided copy.
template <typename T>
void stridedRows(const StridedPlan& plan, const T* in, T* out, int64_t rowBegin, int64_t rowEnd) {
  if (rowBegin >= rowEnd) return;
  const size_t outerLoops = plan.dims.size() - 1;
  const int64_t inner = plan.inner();
  const int64_t innerStride = plan.strides.back();
  // Odometer over the outer loops, started at rowBegin.
  int64_t index[kMaxLoops] = {};
  int64_t offset = plan.base;
  for (size_t k = outerLoops, rest = rowBegin; k-- > 0;) {
    index[k] = rest % plan.dims[k];
    rest /= plan.dims[k];
    offset += index[k] * plan.strides[k];
  }
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const T* src = in + offset;
    T* dst = out + row * inner;
    if (innerStride == 1) {
      std::memcpy(dst, src, inner * sizeof(T));
    } else {
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * innerStride];
    }
    for (size_t k = outerLoops; k-- > 0;) {
      offset += plan.strides[k];
      if (++index[k] < plan.dims[k]) break;
      offset -= plan.strides[k] * plan.dims[k];
      index[k] = 0;
    }
  }
}

class SliceExecutor final : public Executor {
 public:
  explicit SliceExecutor(StridedPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "slice.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const StridedPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    auto rows = [&job](size_t begin, size_t end) {
      stridedRows(*job.plan, job.args->inputs[0], job.args->outputs[0], static_cast<int64_t>(begin),
                  static_cast<int64_t>(end));
    };
    if (plan_.elements() < kParallelMinElements || plan_.rows() < 2)
      rows(0, plan_.rows());
    else
      args.pool->parallelFor(plan_.rows(), rows);
  }

 private:
  StridedPlan plan_;
};

std::vector<int64_t> intsInput(const PlanContext& ctx, size_t index, const char* what) {
  const StaticTensor& t = ctx.staticInput(index);
  if (t.shape.size() != 1)
    ctx.fail(std::string(what) + " (input " + std::to_string(index) + ") must be 1-D, got shape " +
             shapeToString(t.shape));
  return t.toInts();
}

std::unique_ptr<Executor> planSlice(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const Shape& in = data.shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  const std::vector<int64_t> starts = intsInput(ctx, 1, "starts");
  const std::vector<int64_t> ends = intsInput(ctx, 2, "ends");
  const size_t count = starts.size();
  std::vector<int64_t> axes, steps(count, 1);
  if (ctx.hasInput(3)) {
    axes = intsInput(ctx, 3, "axes");
  } else {
    for (size_t i = 0; i < count; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (ctx.hasInput(4)) steps = intsInput(ctx, 4, "steps");
  if (ends.size() != count || axes.size() != count || steps.size() != count)
    ctx.fail("starts, ends, axes and steps have different lengths (" + std::to_string(count) + ", " +
             std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " +
             std::to_string(steps.size()) + ")");

  // Per axis: first index, step and count; untouched axes are copied whole.
  Shape out = in;
  std::vector<int64_t> first(rank, 0), step(rank, 1);
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < count; ++i) {
    const int64_t axis = ctx.normalizedAxis(axes[i], rank);
    if (seen[axis]) ctx.fail("axes " + shapeToString(axes) + " repeat axis " + std::to_string(axes[i]));
    seen[axis] = true;
    if (steps[i] == 0) ctx.fail("step for axis " + std::to_string(axes[i]) + " is 0");
    // ONNX: negative start/end count from the back, then clamp to the valid
    // range, which for negative steps is [-1, dim - 1] so a slice can reach 0.
    const int64_t dim = in[axis];
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t n = 0;
    if (steps[i] > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) n = (end - start + steps[i] - 1) / steps[i];
    } else {
      start = std::min(std::max<int64_t>(start, 0), dim - 1);
      end = std::min(std::max<int64_t>(end, -1), dim - 1);
      if (start > end) n = (start - end - steps[i] - 1) / -steps[i];
    }
    first[axis] = n > 0 ? start : 0;
    step[axis] = steps[i];
    out[axis] = n;
  }
  ctx.outputShapes[0] = out;

  const std::vector<int64_t> inStrides = contiguousStrides(in);
  std::vector<int64_t> strides(rank);
  int64_t base = 0;
  for (int64_t d = 0; d < rank; ++d) {
    strides[d] = step[d] * inStrides[d];
    base += first[d] * inStrides[d];
  }
  StridedPlan plan = makeStridedPlan(out, strides, base);
  if (plan.dims.size() > kMaxLoops) ctx.fail("tensors of rank above " + std::to_string(kMaxLoops) + " are not supported");

  if (data.dtype == DType::kInt64) {
    std::vector<int64_t> values(shapeElements(out));
    stridedRows(plan, ctx.staticInput(0).i64.data(), values.data(), 0, plan.rows());
    ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::move(values));
    return nullptr;
  }
  return std::make_unique<SliceExecutor>(std::move(plan));
}

// --- Gather ----------------------------------------------------------------------

// data viewed as [outer][dim][inner]; output as [outer][indices][inner].
struct GatherPlan {
  int64_t outer = 1, dim = 0, inner = 1;
  std::vector<int64_t> indices;  // in [0, dim)
  int64_t elements() const { return outer * static_cast<int64_t>(indices.size()) * inner; }
};

// Copies blocks [begin, end); block = outer index * indices + k.
template <typename T>
void gatherBlocks(const GatherPlan& plan, const T* in, T* out, size_t begin, size_t end) {
  const size_t count = plan.indices.size();
  for (size_t block = begin; block < end; ++block) {
    const size_t o = block / count, k = block % count;
    std::memcpy(out + block * plan.inner, in + (o * plan.dim + plan.indices[k]) * plan.inner,
                plan.inner * sizeof(T));
  }
}

class GatherExecutor final : public Executor {
 public:
  explicit GatherExecutor(GatherPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "gather.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const GatherPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    auto blocks = [&job](size_t begin, size_t end) {
      gatherBlocks(*job.plan, job.args->inputs[0], job.args->outputs[0], begin, end);
    };
    const size_t count = plan_.outer * plan_.indices.size();
    if (plan_.elements() < kParallelMinElements || count < 2)
      blocks(0, count);
    else
      args.pool->parallelFor(count, blocks);
  }

 private:
  GatherPlan plan_;
};

std::unique_ptr<Executor> planGather(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const Shape& in = data.shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t axis = ctx.normalizedAxis(ctx.node.getInt("axis", 0), rank);
  const StaticTensor& indices = ctx.staticInput(1);

  GatherPlan plan;
  plan.dim = in[axis];
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) plan.outer *= in[d];
    if (d > axis) plan.inner *= in[d];
  }
  for (int64_t index : indices.toInts()) {
    if (index < -plan.dim || index >= plan.dim)
      ctx.fail("index " + std::to_string(index) + " is out of range for axis " + std::to_string(axis) +
               " of size " + std::to_string(plan.dim));
    plan.indices.push_back(index < 0 ? index + plan.dim : index);
  }
  // Output shape: data dims before the axis, the indices' dims, data dims after.
  Shape out(in.begin(), in.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), in.begin() + axis + 1, in.end());
  ctx.outputShapes[0] = out;

  if (data.dtype == DType::kInt64) {
    std::vector<int64_t> values(shapeElements(out));
    gatherBlocks(plan, ctx.staticInput(0).i64.data(), values.data(), 0, plan.outer * plan.indices.size());
    ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::move(values));
    return nullptr;
  }
  return std::make_unique<GatherExecutor>(std::move(plan));
}

}  // namespace

PETREL_REGISTER_OP("Slice", planSlice);
PETREL_REGISTER_OP("Gather", planGather);

}  // namespace petrel
