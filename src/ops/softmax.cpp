// Softmax along one axis (ONNX opset 13 semantics; the converter rewrites the
// older "flatten to 2-D" form). Numerically stable: every exponent is taken of
// x - max, so the largest term is exp(0) = 1 and nothing overflows.
//
// The input is seen as [outer, axis, inner]. With inner == 1 (the last axis,
// as in attention) each softmax is one contiguous row; otherwise the softmaxes
// of `inner` neighbouring columns are computed together, row by row, with
// per-thread scratch holding their running maxima and sums.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "kernels/cpu.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "runtime/thread_pool.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

void softmaxRowScalar(const float* in, float* out, int64_t n) {
  const float max = reduceRowKernel(RowReduction::kMax, Isa::kScalar)(in, n);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(in[i] - max);
    sum += out[i];
  }
  const float scale = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) out[i] *= scale;
}

}  // namespace

// Softmax of one contiguous row of n floats, by `isa`. Also used by the tests.
void softmaxRow(const float* in, float* out, int64_t n, Isa isa) {
  if (isa == Isa::kAvx2)
    softmaxRowAvx2(in, out, n);
  else
    softmaxRowScalar(in, out, n);
}

namespace {

// Softmax along the rows of a [rows, columns] block, for every column.
// `maxima` and `sums` hold `columns` floats.
void softmaxColumns(const float* in, float* out, int64_t rows, int64_t columns, float* maxima, float* sums) {
  std::fill(maxima, maxima + columns, -std::numeric_limits<float>::infinity());
  std::fill(sums, sums + columns, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * columns;
    for (int64_t c = 0; c < columns; ++c) maxima[c] = std::max(maxima[c], x[c]);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * columns;
    float* y = out + r * columns;
    for (int64_t c = 0; c < columns; ++c) {
      y[c] = std::exp(x[c] - maxima[c]);
      sums[c] += y[c];
    }
  }
  for (int64_t c = 0; c < columns; ++c) sums[c] = 1.0f / sums[c];
  for (int64_t r = 0; r < rows; ++r) {
    float* y = out + r * columns;
    for (int64_t c = 0; c < columns; ++c) y[c] *= sums[c];
  }
}

class SoftmaxExecutor final : public Executor {
 public:
  SoftmaxExecutor(int64_t outer, int64_t axis, int64_t inner, int threads)
      : outer_(outer), axis_(axis), inner_(inner), threads_(std::max(threads, 1)), isa_(bestIsa()) {}

  std::string kernelName() const override {
    if (inner_ != 1) return "softmax.columns.f32";
    return isa_ == Isa::kScalar ? "softmax.rows.f32" : std::string("softmax.rows.f32.") + isaName(isa_);
  }

  size_t scratchBytes() const override {
    return inner_ == 1 ? 0 : static_cast<size_t>(threads_) * 2 * inner_ * sizeof(float);
  }

  void run(const RunArgs& args) override {
    const float* in = args.inputs[0];
    float* out = args.outputs[0];
    const int64_t block = axis_ * inner_;  // one softmax group
    const int64_t total = outer_ * block;
    if (inner_ == 1) {
      parallelOverRange(args.pool, outer_, total, [&](int64_t first, int64_t last) {
        for (int64_t o = first; o < last; ++o) softmaxRow(in + o * block, out + o * block, axis_, isa_);
      });
      return;
    }
    float* scratch = static_cast<float*>(args.scratch);
    parallelTasksOrInline(args.pool, outer_, total, threads_, [&](int64_t o, int thread) {
      float* mine = scratch + static_cast<int64_t>(thread) * 2 * inner_;
      softmaxColumns(in + o * block, out + o * block, axis_, inner_, mine, mine + inner_);
    });
  }

 private:
  int64_t outer_, axis_, inner_;
  int threads_;  // scratch is sized for this many threads
  Isa isa_;
};

std::unique_ptr<Executor> planSoftmax(PlanContext& ctx) {
  const OpInput& in = ctx.input(0);
  if (in.dtype != DType::kFloat32) ctx.fail(std::string("does not support ") + dtypeName(in.dtype) + " input");
  const int64_t rank = static_cast<int64_t>(in.shape.size());
  const int64_t axisAttr = ctx.node.getInt("axis", -1);
  const int64_t axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (rank == 0 || axis < 0 || axis >= rank)
    ctx.fail("axis " + std::to_string(axisAttr) + " is out of range for input shape " + shapeToString(in.shape));
  ctx.outputShapes[0] = in.shape;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in.shape[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= in.shape[d];
  return std::make_unique<SoftmaxExecutor>(outer, in.shape[axis], inner, ctx.config.threads);
}

}  // namespace

PETREL_REGISTER_OP("Softmax", planSoftmax);

}  // namespace petrel
