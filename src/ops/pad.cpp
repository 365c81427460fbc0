// Pad: modes constant, reflect, edge and wrap; negative pads crop.
//
// Planning builds, for every output dim, a table from output index to input
// index (-1 = the constant value), which is where the modes differ. Running is
// then one loop over output rows: the input row is found through the tables of
// the outer dims, and the innermost dim is a left part, a contiguous middle
// (memcpy) and a right part. Float data is padded at run time; int64 data
// (static shape values) at planning by the same code.
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

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

struct PadPlan {
  Shape outShape;                          // never empty (a scalar is padded as [1])
  std::vector<int64_t> inStrides;          // contiguous strides of the input
  std::vector<std::vector<int64_t>> maps;  // maps[d][output index] = input index, or -1
  int64_t middleBegin = 0, middleEnd = 0;  // innermost output range with maps = index - shift
  int64_t rows() const { return shapeElements(outShape) / std::max<int64_t>(outShape.back(), 1); }
};

// Input index for output index `o` of a dim of size n padded by `before`.
int64_t sourceIndex(PadMode mode, int64_t o, int64_t before, int64_t n) {
  const int64_t x = o - before;
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return std::clamp<int64_t>(x, 0, n - 1);
    case PadMode::kWrap: return ((x % n) + n) % n;
    case PadMode::kReflect: {
      // Mirror without repeating the edge: period 2(n-1), as numpy does for
      // pads wider than the dim.
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t m = ((x % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

// Writes output rows [rowBegin, rowEnd).
template <typename T>
void padRows(const PadPlan& plan, const T* in, T* out, T value, int64_t rowBegin, int64_t rowEnd) {
  const size_t rank = plan.outShape.size();
  const int64_t inner = plan.outShape.back();
  const std::vector<int64_t>& innerMap = plan.maps.back();
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    // Input row offset through the outer dims' tables (-1: all constant).
    int64_t rest = row, offset = 0;
    bool constantRow = false;
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t source = plan.maps[d][rest % plan.outShape[d]];
      rest /= plan.outShape[d];
      constantRow = constantRow || source < 0;
      offset += source * plan.inStrides[d];
    }
    T* dst = out + row * inner;
    if (constantRow) {
      std::fill(dst, dst + inner, value);
      continue;
    }
    const T* src = in + offset;
    for (int64_t i = 0; i < plan.middleBegin; ++i) dst[i] = innerMap[i] < 0 ? value : src[innerMap[i]];
    if (plan.middleEnd > plan.middleBegin)
      std::memcpy(dst + plan.middleBegin, src + innerMap[plan.middleBegin],
                  (plan.middleEnd - plan.middleBegin) * sizeof(T));
    for (int64_t i = plan.middleEnd; i < inner; ++i) dst[i] = innerMap[i] < 0 ? value : src[innerMap[i]];
  }
}

template <typename T>
void runPad(const PadPlan& plan, const T* in, T* out, T value, ThreadPool* pool) {
  const int64_t elements = shapeElements(plan.outShape);
  if (elements == 0) return;
  struct Job {
    const PadPlan* plan;
    const T* in;
    T* out;
    T value;
  } job{&plan, in, out, value};
  auto fn = [&job](size_t begin, size_t end) { padRows(*job.plan, job.in, job.out, job.value, begin, end); };
  if (!pool || plan.rows() < 2 || elements < kParallelMinElements)
    fn(0, plan.rows());
  else
    pool->parallelFor(plan.rows(), fn);
}

class PadExecutor final : public Executor {
 public:
  PadExecutor(PadPlan plan, float value) : plan_(std::move(plan)), value_(value) {}
  std::string kernelName() const override { return "pad.f32"; }
  void run(const RunArgs& args) override { runPad(plan_, args.inputs[0], args.outputs[0], value_, args.pool); }

 private:
  PadPlan plan_;
  float value_;
};

std::unique_ptr<Executor> planPad(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(data.shape.size());

  const std::string modeName = ctx.node.getString("mode", "constant");
  PadMode mode;
  if (modeName == "constant") mode = PadMode::kConstant;
  else if (modeName == "reflect") mode = PadMode::kReflect;
  else if (modeName == "edge") mode = PadMode::kEdge;
  else if (modeName == "wrap") mode = PadMode::kWrap;
  else ctx.fail("mode '" + modeName + "' is not supported (constant, reflect, edge, wrap)");

  // Axes (opset 18) default to all dims; pads are [begins..., ends...] over them.
  std::vector<int64_t> axes;
  if (ctx.hasInput(3)) {
    axes = ctx.staticInput(3).toInts();
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const std::vector<int64_t> pads = ctx.staticInput(1).toInts();
  if (pads.size() != 2 * axes.size())
    ctx.fail("pads " + shapeToString(pads) + " must have 2 entries per padded axis (" +
             std::to_string(axes.size()) + " axes)");
  std::vector<int64_t> before(rank, 0), after(rank, 0);
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = ctx.normalizedAxis(axes[i], rank);
    if (seen[axis]) ctx.fail("axes " + shapeToString(axes) + " repeat axis " + std::to_string(axes[i]));
    seen[axis] = true;
    before[axis] = pads[i];
    after[axis] = pads[i + axes.size()];
  }

  // Constant value: optional scalar input (an empty tensor means 0).
  float floatValue = 0.0f;
  int64_t intValue = 0;
  if (ctx.hasInput(2)) {
    const StaticTensor& v = ctx.staticInput(2);
    if (v.elements() > 1) ctx.fail("constant_value must be a scalar, got shape " + shapeToString(v.shape));
    if (v.elements() == 1) {
      floatValue = v.floatAt(0);
      intValue = v.intAt(0);
    }
  }

  PadPlan plan;
  Shape out(rank);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t n = data.shape[d];
    out[d] = n + before[d] + after[d];
    if (out[d] < 0)
      ctx.fail("pads " + shapeToString(pads) + " crop axis " + std::to_string(d) + " of size " + std::to_string(n) +
               " below zero");
    if (n == 0 && out[d] > 0 && mode != PadMode::kConstant)
      ctx.fail("cannot pad the empty axis " + std::to_string(d) + " in " + modeName + " mode");
  }
  ctx.outputShapes[0] = out;

  // A scalar is padded as the 1-D [1] (pads are empty then).
  const Shape in = rank == 0 ? Shape{1} : data.shape;
  plan.outShape = rank == 0 ? Shape{1} : out;
  if (rank == 0) before.assign(1, 0);
  plan.inStrides.assign(in.size(), 1);
  for (size_t d = in.size() - 1; d-- > 0;) plan.inStrides[d] = plan.inStrides[d + 1] * in[d + 1];
  plan.maps.resize(in.size());
  for (size_t d = 0; d < in.size(); ++d)
    for (int64_t o = 0; o < plan.outShape[d]; ++o) plan.maps[d].push_back(sourceIndex(mode, o, before[d], in[d]));
  // The innermost dim's untouched middle: output indices whose input is
  // index - before, a contiguous run.
  const int64_t innerOut = plan.outShape.back(), innerBefore = before[in.size() - 1];
  plan.middleBegin = std::clamp<int64_t>(innerBefore, 0, innerOut);
  plan.middleEnd = std::clamp<int64_t>(innerBefore + in.back(), plan.middleBegin, innerOut);

  if (data.dtype == DType::kInt64) {
    std::vector<int64_t> values(shapeElements(out));
    runPad<int64_t>(plan, ctx.staticInput(0).i64.data(), values.data(), intValue, nullptr);
    ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::move(values));
    return nullptr;
  }
  return std::make_unique<PadExecutor>(std::move(plan), floatValue);
}

}  // namespace

PETREL_REGISTER_OP("Pad", planPad);

}  // namespace petrel
