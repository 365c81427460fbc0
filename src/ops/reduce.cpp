// ReduceMean, ReduceSum, ReduceSumSquare and ReduceL2 over any set of axes.
// The axes come from the "axes" attribute (up to opset 17; ReduceSum up to 12)
// or the optional second input (ReduceSum from opset 13, the others from
// opset 18); no axes means all of them, unless noop_with_empty_axes makes the
// op an identity.
//
// A reduction is a broadcast run backwards: the output, with the reduced dims
// kept as 1, broadcasts to the input. So the input is walked row by row along
// a BroadcastPlan of that broadcast, and each row is either summed into one
// output element (the innermost dims are reduced, e.g. ViT's mean over the
// last axis, a mean over H*W) or added element-wise into an output row (the
// innermost dims are kept, e.g. a sum over channels of NCHW).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {
namespace {

// Four partial sums (or maxima), as the AVX2 twin keeps four vectors of them.
template <RowReduction R>
float reduceRowScalar(const float* x, int64_t n) {
  auto combine = [](float acc, float v) {
    if (R == RowReduction::kSum) return acc + v;
    if (R == RowReduction::kSumOfSquares) return acc + v * v;
    return std::max(acc, v);
  };
  const float start = R == RowReduction::kMax ? -std::numeric_limits<float>::infinity() : 0.0f;
  float s[4] = {start, start, start, start};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] = combine(s[k], x[i + k]);
  for (; i < n; ++i) s[0] = combine(s[0], x[i]);
  if (R == RowReduction::kMax) return std::max(std::max(s[0], s[1]), std::max(s[2], s[3]));
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

// The row reduction for `isa`. Also used by global pooling and the tests.
ReduceRow reduceRowKernel(RowReduction reduction, Isa isa) {
  if (isa == Isa::kAvx2) return reduceRowAvx2(reduction);
  switch (reduction) {
    case RowReduction::kSum: return reduceRowScalar<RowReduction::kSum>;
    case RowReduction::kSumOfSquares: return reduceRowScalar<RowReduction::kSumOfSquares>;
    case RowReduction::kMax: return reduceRowScalar<RowReduction::kMax>;
  }
  return nullptr;
}

namespace {

enum class ReduceKind { kSum, kMean, kSumSquare, kL2 };

const char* reduceName(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::kSum: return "reduce_sum";
    case ReduceKind::kMean: return "reduce_mean";
    case ReduceKind::kSumSquare: return "reduce_sum_square";
    case ReduceKind::kL2: return "reduce_l2";
  }
  return "?";
}

class ReduceExecutor final : public Executor {
 public:
  // `plan` broadcasts the output (reduced dims as 1) to the input's shape.
  ReduceExecutor(BroadcastPlan plan, int64_t outElements, int64_t count, ReduceKind kind)
      : plan_(std::move(plan)), outElements_(outElements), count_(count), kind_(kind),
        sumRow_(reduceRowKernel(kind == ReduceKind::kSumSquare || kind == ReduceKind::kL2 ? RowReduction::kSumOfSquares
                                                                                        : RowReduction::kSum,
                                bestIsa())) {
    // Threads split the outermost loop when it is a kept dimension: each part
    // then owns a contiguous block of the output.
    if (plan_.dims.size() > 1 && plan_.strides[0][0] != 0) slices_ = plan_.dims[0];
  }

  std::string kernelName() const override {
    return std::string(reduceName(kind_)) + (plan_.innerStride(0) == 0 ? ".f32.inner" : ".f32.outer");
  }

  void run(const RunArgs& args) override {
    const float* in = args.inputs[0];
    float* out = args.outputs[0];
    if (plan_.elements() == 0) {  // an empty reduction: sum 0, mean NaN
      std::fill(out, out + outElements_,
                kind_ == ReduceKind::kMean ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
      return;
    }
    const int64_t rowsPerSlice = plan_.rows() / slices_;
    const int64_t outPerSlice = outElements_ / slices_;
    const int64_t inner = plan_.inner();
    const bool innerReduced = plan_.innerStride(0) == 0;
    const float scale = kind_ == ReduceKind::kMean ? 1.0f / static_cast<float>(count_) : 1.0f;
    const bool square = kind_ == ReduceKind::kSumSquare || kind_ == ReduceKind::kL2;
    parallelOverRange(args.pool, slices_, plan_.elements(), [&](int64_t first, int64_t last) {
      float* outBegin = out + first * outPerSlice;
      float* outEnd = out + last * outPerSlice;
      std::fill(outBegin, outEnd, 0.0f);
      for (int64_t row = first * rowsPerSlice; row < last * rowsPerSlice; ++row) {
        const float* x = in + row * inner;
        float* y = out + plan_.rowOffset(0, row);
        if (innerReduced) {
          *y += sumRow_(x, inner);
        } else if (square) {
          for (int64_t i = 0; i < inner; ++i) y[i] += x[i] * x[i];
        } else {
          for (int64_t i = 0; i < inner; ++i) y[i] += x[i];
        }
      }
      if (scale != 1.0f)
        for (float* y = outBegin; y < outEnd; ++y) *y *= scale;
      if (kind_ == ReduceKind::kL2)
        for (float* y = outBegin; y < outEnd; ++y) *y = std::sqrt(*y);
    });
  }

 private:
  BroadcastPlan plan_;
  int64_t outElements_, count_;
  ReduceKind kind_;
  ReduceRow sumRow_;  // a whole reduced row's sum (or sum of squares)
  int64_t slices_ = 1;
};

// The reduced axes, normalised and sorted; empty for "no reduction".
std::vector<int64_t> reduceAxes(const PlanContext& ctx, int64_t rank, bool* identity) {
  std::vector<int64_t> axes;
  if (ctx.hasInput(1)) {
    if (ctx.node.has("axes")) ctx.fail("has both an 'axes' attribute and an axes input");
    axes = ctx.staticInput(1).toInts();
  } else {
    axes = ctx.node.getInts("axes");
  }
  *identity = false;
  if (axes.empty()) {
    if (ctx.node.getInt("noop_with_empty_axes", 0)) {
      *identity = true;
      return {};
    }
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    return axes;
  }
  std::vector<bool> seen(rank, false);
  for (int64_t& a : axes) {
    const int64_t given = a;
    if (a < 0) a += rank;
    if (a < 0 || a >= rank)
      ctx.fail("axis " + std::to_string(given) + " is out of range for rank " + std::to_string(rank));
    if (seen[a]) ctx.fail("axis " + std::to_string(given) + " is repeated");
    seen[a] = true;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

std::unique_ptr<Executor> planReduce(PlanContext& ctx, ReduceKind kind) {
  const OpInput& data = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  bool identity = false;
  const std::vector<int64_t> axes = reduceAxes(ctx, rank, &identity);
  if (identity) {
    ctx.outputShapes[0] = data.shape;
    ctx.aliasInput = 0;
    return nullptr;
  }
  Shape kept = data.shape;  // reduced dims as 1
  int64_t count = 1;
  for (int64_t a : axes) {
    count *= data.shape[a];
    kept[a] = 1;
  }
  Shape outShape;
  if (ctx.node.getInt("keepdims", 1)) {
    outShape = kept;
  } else {
    for (int64_t d = 0; d < rank; ++d)
      if (!std::binary_search(axes.begin(), axes.end(), d)) outShape.push_back(data.shape[d]);
  }
  ctx.outputShapes[0] = outShape;
  BroadcastPlan plan = makeBroadcastPlan({kept}, data.shape);

  if (data.dtype == DType::kInt64) {  // shape arithmetic, at planning
    if (kind != ReduceKind::kSum && kind != ReduceKind::kMean) ctx.fail("needs float32 data, not int64");
    const StaticTensor& in = ctx.staticInput(0);
    std::vector<int64_t> values(shapeElements(outShape), 0);
    forEachBroadcastElement(plan, [&](int64_t i, const int64_t* offsets) { values[offsets[0]] += in.i64[i]; });
    if (kind == ReduceKind::kMean) {
      if (count == 0) ctx.fail("cannot take the int64 mean of an empty tensor");
      for (int64_t& v : values) v /= count;
    }
    ctx.staticOutputs[0] = StaticTensor::ofInts(outShape, std::move(values));
    return nullptr;
  }
  return std::make_unique<ReduceExecutor>(std::move(plan), shapeElements(outShape), count, kind);
}

std::unique_ptr<Executor> planReduceMean(PlanContext& ctx) { return planReduce(ctx, ReduceKind::kMean); }
std::unique_ptr<Executor> planReduceSum(PlanContext& ctx) { return planReduce(ctx, ReduceKind::kSum); }
std::unique_ptr<Executor> planReduceSumSquare(PlanContext& ctx) { return planReduce(ctx, ReduceKind::kSumSquare); }
std::unique_ptr<Executor> planReduceL2(PlanContext& ctx) { return planReduce(ctx, ReduceKind::kL2); }

}  // namespace

PETREL_REGISTER_OP("ReduceMean", planReduceMean);
PETREL_REGISTER_OP("ReduceSum", planReduceSum);
PETREL_REGISTER_OP("ReduceSumSquare", planReduceSumSquare);
PETREL_REGISTER_OP("ReduceL2", planReduceL2);

}  // namespace petrel
