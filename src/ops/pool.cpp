// Pooling over the spatial dims of NCHW: MaxPool and AveragePool (1-D or 2-D
// windows, with strides, pads, dilations, ceil_mode and auto_pad), and
// GlobalAveragePool / GlobalMaxPool (any spatial rank).
//
// Window geometry is separable, so it is worked out per axis at planning: for
// every output position along H (and W), which kernel taps land inside the
// input, and how many land inside the padded input (AveragePool with
// count_include_pad divides by that). Padding is never materialised.
//
// Max and sum are separable too: an output's value is its window's input
// rows combined column by column (max or sum, in row order), then its taps
// along that combined line (in tap order). Each output row is computed in one
// pass over the window's rows (poolWindows, with an AVX2 twin), the line kept
// in registers: built in memory and read back at unaligned offsets, it cost
// twice ORT's time on SqueezeNet's 3x3 stride-2 max pools. One call of the
// row kernel serves a run of output rows whose windows have the same rows
// (all of a plane but the padded edges): on rows of 13 and 27 outputs a call
// per row cost as much as the loads. Columns whose window is cut by the
// border (padding) are done one by one.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "kernels/cpu.h"
#include "kernels/int_math.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

template <bool IsMax>
float combine(float acc, float x) {
  return IsMax ? std::max(acc, x) : acc + x;
}

// One tap's column: its value in each of the window's rows, combined in row order.
template <bool IsMax>
float tapColumn(const float* tap, int64_t rowStride, int64_t rows) {
  float column = tap[0];
  for (int64_t r = 1; r < rows; ++r) column = combine<IsMax>(column, tap[r * rowStride]);
  return column;
}

// Row by row, then tap by tap, one output at a time: the order of the AVX2
// twin (which it must match bit for bit) and of the separable method.
template <bool IsMax>
void windows(const PoolWindowRows& w) {
  for (int64_t j = 0; j < w.count; ++j)
    for (int64_t o = 0; o < w.n; ++o) {
      const float* taps = w.first + j * w.inStep + o * w.stride;
      float acc = tapColumn<IsMax>(taps, w.rowStride, w.rows);
      for (int64_t t = 1; t < w.kernel; ++t)
        acc = combine<IsMax>(acc, tapColumn<IsMax>(taps + t * w.dilation, w.rowStride, w.rows));
      w.out[j * w.outStep + o] = acc;
    }
}

}  // namespace

// The row kernel for `isa`. Also used by the tests.
PoolWindows poolWindows(bool isMax, Isa isa) {
  if (isa == Isa::kAvx2) return poolWindowsAvx2(isMax);
  return isMax ? windows<true> : windows<false>;
}

std::vector<PoolRows::AxisWindow> PoolRows::axisWindows(const PoolAxis& a) {
  std::vector<AxisWindow> windows(a.out);
  for (int64_t o = 0; o < a.out; ++o) {
    AxisWindow& w = windows[o];
    w.start = o * a.stride - a.padBegin;
    // First tap with start + t*d >= 0 and first tap with start + t*d >= in.
    w.first = w.start >= 0 ? 0 : ceilDiv(-w.start, a.dilation);
    w.last = w.start >= a.in ? 0 : std::min(a.kernel, ceilDiv(a.in - w.start, a.dilation));
    w.first = std::min(w.first, a.kernel);
    w.last = std::max(w.last, w.first);
    // Taps before the end of the padded input (all are past its beginning).
    const int64_t paddedEnd = a.in + a.padEnd;
    w.padded = w.start >= paddedEnd ? 0 : std::min(a.kernel, ceilDiv(paddedEnd - w.start, a.dilation));
  }
  return windows;
}

PoolRows::PoolRows(bool isMax, const PoolAxis& h, const PoolAxis& w, bool countIncludePad, Isa isa)
    : isMax_(isMax), h_(h), w_(w), countIncludePad_(countIncludePad), windows_(poolWindows(isMax, isa)),
      rows_(axisWindows(h)), columns_(axisWindows(w)) {
  for (const AxisWindow& r : rows_) {
    const int64_t first = r.start + r.first * h_.dilation;
    const int64_t last = r.first == r.last ? first : r.start + (r.last - 1) * h_.dilation + 1;
    inputRows_.push_back(Rows{first, last});
  }
  // Runs of output rows whose windows have the same rows, each the last one
  // moved down by the stride.
  for (int64_t oh = 0; oh < h_.out; ++oh) {
    auto sameAsBefore = [&] {
      const AxisWindow &r = rows_[oh], &before = rows_[oh - 1];
      return r.last - r.first == before.last - before.first && r.padded == before.padded &&
             inputRows_[oh].first == inputRows_[oh - 1].first + h_.stride;
    };
    if (oh > 0 && sameAsBefore())
      ++rowRuns_.back().count;
    else
      rowRuns_.push_back(RowRun{oh, 1});
  }
  // The output columns whose taps all lie inside the input: a contiguous run.
  auto inside = [&](const AxisWindow& c) { return c.first == 0 && c.last == w_.kernel && c.padded == w_.kernel; };
  while (interiorBegin_ < w_.out && !inside(columns_[interiorBegin_])) ++interiorBegin_;
  interiorEnd_ = interiorBegin_;
  while (interiorEnd_ < w_.out && inside(columns_[interiorEnd_])) ++interiorEnd_;
}

void PoolRows::rows(const float* top, int64_t rowStride, int64_t begin, int64_t end, float* y) const {
  for (const RowRun& run : rowRuns_) {
    const int64_t first = std::max(begin, run.first), last = std::min(end, run.first + run.count);
    if (first >= last) continue;
    const float* from = top + (inputRows_[first].first - inputRows_[begin].first) * rowStride;
    float* to = y + (first - begin) * w_.out;
    if (isMax_)
      runOf<true>(from, rowStride, RowRun{first, last - first}, to);
    else
      runOf<false>(from, rowStride, RowRun{first, last - first}, to);
  }
}

void PoolRows::planes(const float* in, float* out, int64_t count, ThreadPool* pool, int threads) const {
  const int64_t inPlane = h_.in * w_.in, outPlane = h_.out * w_.out;
  const int64_t work = count * outPlane * h_.kernel * w_.kernel;
  parallelTasksOrInline(pool, count, work, threads, [&](int64_t p, int) {
    rows(in + p * inPlane + inputRows_[0].first * w_.in, w_.in, 0, h_.out, out + p * outPlane);
  });
}

template <bool IsMax>
void PoolRows::runOf(const float* top, int64_t rowStride, const RowRun& run, float* y) const {
  const AxisWindow& r = rows_[run.first];
  const int64_t outStep = w_.out, inStep = h_.stride * rowStride;
  if (r.first == r.last) {  // every row of the windows in the padding
    std::fill(y, y + run.count * outStep, IsMax ? -std::numeric_limits<float>::infinity() : 0.0f);
    return;
  }
  const int64_t windowStride = h_.dilation * rowStride, rows = r.last - r.first;
  const int64_t rowCount = countIncludePad_ ? r.padded : rows;
  if (interiorBegin_ > 0 || interiorEnd_ < w_.out) {  // a loop over empty loops per row cost 10% on 13-wide rows
    for (int64_t j = 0; j < run.count; ++j) {
      const float* first = top + j * inStep;
      float* out = y + j * outStep;
      auto border = [&](int64_t o) { out[o] = borderColumn<IsMax>(first, windowStride, rows, rowCount, columns_[o]); };
      for (int64_t o = 0; o < interiorBegin_; ++o) border(o);
      for (int64_t o = interiorEnd_; o < w_.out; ++o) border(o);
    }
  }
  if (interiorBegin_ == interiorEnd_) return;
  PoolWindowRows w;
  w.first = top + columns_[interiorBegin_].start;
  w.rowStride = windowStride;
  w.rows = rows;
  w.out = y + interiorBegin_;
  w.n = interiorEnd_ - interiorBegin_;
  w.stride = w_.stride, w.kernel = w_.kernel, w.dilation = w_.dilation;
  w.count = run.count, w.inStep = inStep, w.outStep = outStep;
  windows_(w);
  if constexpr (!IsMax) {
    const float count = static_cast<float>(rowCount * w_.kernel);
    for (int64_t j = 0; j < run.count; ++j)
      for (int64_t o = 0; o < w.n; ++o) w.out[j * outStep + o] /= count;
  }
}

// An output whose window is cut by the left or right border, in the
// kernel's order: each tap's rows combined, then the taps.
template <bool IsMax>
float PoolRows::borderColumn(const float* first, int64_t rowStride, int64_t rows, int64_t rowCount,
                             const AxisWindow& c) const {
  float acc = IsMax ? -std::numeric_limits<float>::infinity() : 0.0f;
  for (int64_t tw = c.first; tw < c.last; ++tw)
    acc = combine<IsMax>(acc, tapColumn<IsMax>(first + c.start + tw * w_.dilation, rowStride, rows));
  if constexpr (!IsMax) {
    const int64_t count = rowCount * (countIncludePad_ ? c.padded : c.last - c.first);
    acc = count > 0 ? acc / static_cast<float>(count) : 0.0f;
  }
  return acc;
}

namespace {

enum class PoolKind { kMax, kAverage };

class Pool2dExecutor final : public Executor {
 public:
  Pool2dExecutor(PoolKind kind, int64_t planes, const std::array<PoolAxis, 2>& axes, bool countIncludePad,
                 int threads)
      : kind_(kind), planes_(planes), threads_(std::max(threads, 1)), isa_(bestIsa()),
        rows_(kind == PoolKind::kMax, axes[0], axes[1], countIncludePad, isa_) {}

  std::string kernelName() const override {
    std::string name = kind_ == PoolKind::kMax ? "pool.max2d.f32" : "pool.average2d.f32";
    return isa_ == Isa::kScalar ? name : name + "." + isaName(isa_);
  }

  void run(const RunArgs& args) override {
    rows_.planes(args.inputs[0], args.outputs[0], planes_, args.pool, threads_);
  }

 private:
  PoolKind kind_;
  int64_t planes_;
  int threads_;
  Isa isa_;
  PoolRows rows_;
};

// Output size and pads of one axis, from the ONNX attributes.
void resolveAxis(const PlanContext& ctx, PoolAxis& a, const std::string& autoPad, bool ceilMode) {
  const int64_t extent = (a.kernel - 1) * a.dilation + 1;
  if (autoPad == "VALID") {
    a.padBegin = a.padEnd = 0;
    if (a.in < extent) ctx.fail("kernel extent " + std::to_string(extent) + " exceeds input size " + std::to_string(a.in));
    a.out = (a.in - extent) / a.stride + 1;
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    a.out = ceilDiv(a.in, a.stride);
    const int64_t total = std::max<int64_t>(0, (a.out - 1) * a.stride + extent - a.in);
    a.padBegin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    a.padEnd = total - a.padBegin;
  } else if (autoPad == "NOTSET") {
    const int64_t span = a.in + a.padBegin + a.padEnd - extent;
    if (span < 0)
      ctx.fail("kernel extent " + std::to_string(extent) + " exceeds padded input size " +
               std::to_string(a.in + a.padBegin + a.padEnd));
    a.out = (ceilMode ? ceilDiv(span, a.stride) : span / a.stride) + 1;
    // ceil_mode: the last window must start inside the input or the left padding.
    if (ceilMode && (a.out - 1) * a.stride >= a.in + a.padBegin) --a.out;
  } else {
    ctx.fail("unknown auto_pad '" + autoPad + "'");
  }
}

}  // namespace

std::array<PoolAxis, 2> readPoolAxes(const PlanContext& ctx, const Shape& input, const std::string& prefix) {
  const Node& node = ctx.node;
  const std::vector<int64_t> kernel = node.getInts(prefix + "kernel_shape");
  const size_t spatial = kernel.size();
  if (spatial < 1 || spatial > 2)
    ctx.fail("supports 1-D and 2-D windows, got " + prefix + "kernel_shape " + shapeToString(kernel));
  if (input.size() != spatial + 2)
    ctx.fail("input shape " + shapeToString(input) + " does not match " + prefix + "kernel_shape " +
             shapeToString(kernel));
  const std::vector<int64_t> strides = node.getInts(prefix + "strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> dilations = node.getInts(prefix + "dilations", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> pads = node.getInts(prefix + "pads", std::vector<int64_t>(2 * spatial, 0));
  if (strides.size() != spatial || dilations.size() != spatial || pads.size() != 2 * spatial)
    ctx.fail(prefix + "strides, " + prefix + "dilations or " + prefix + "pads do not match " + prefix +
             "kernel_shape " + shapeToString(kernel));
  const std::string autoPad = node.getString(prefix + "auto_pad", "NOTSET");
  const bool ceilMode = node.getInt(prefix + "ceil_mode", 0) != 0;

  // A 1-D window is a 2-D one with a height of 1.
  std::array<PoolAxis, 2> axes;
  for (size_t i = 0; i < spatial; ++i) {
    PoolAxis& a = axes[2 - spatial + i];
    a.in = input[2 + i];
    a.kernel = kernel[i];
    a.stride = strides[i];
    a.dilation = dilations[i];
    a.padBegin = pads[i];
    a.padEnd = pads[spatial + i];
    if (a.kernel < 1 || a.stride < 1 || a.dilation < 1 || a.padBegin < 0 || a.padEnd < 0)
      ctx.fail(prefix + "kernel_shape, " + prefix + "strides and " + prefix +
               "dilations must be positive and pads non-negative");
    resolveAxis(ctx, a, autoPad, ceilMode);
  }
  return axes;
}

Shape pooledShape(const Shape& input, const std::array<PoolAxis, 2>& axes) {
  Shape out = {input[0], input[1]};
  if (input.size() == 4) out.push_back(axes[0].out);
  out.push_back(axes[1].out);
  return out;
}

namespace {

std::unique_ptr<Executor> planPool(PlanContext& ctx, PoolKind kind) {
  const OpInput& x = ctx.input(0);
  if (x.dtype != DType::kFloat32) ctx.fail(std::string("does not support ") + dtypeName(x.dtype) + " input");
  if (ctx.outputShapes.size() > 1) ctx.fail("only output 0 is supported (not the Indices output)");
  const std::array<PoolAxis, 2> axes = readPoolAxes(ctx, x.shape, "");
  ctx.outputShapes[0] = pooledShape(x.shape, axes);
  const bool countIncludePad = ctx.node.getInt("count_include_pad", 0) != 0;
  return std::make_unique<Pool2dExecutor>(kind, x.shape[0] * x.shape[1], axes, countIncludePad, ctx.config.threads);
}

// --- Global pooling: one value per (n, c) plane -----------------------------------

class GlobalPoolExecutor final : public Executor {
 public:
  GlobalPoolExecutor(PoolKind kind, int64_t planes, int64_t size)
      : kind_(kind), planes_(planes), size_(size),
        reduce_(reduceRowKernel(kind == PoolKind::kMax ? RowReduction::kMax : RowReduction::kSum, bestIsa())) {}

  std::string kernelName() const override {
    return kind_ == PoolKind::kMax ? "pool.global_max.f32" : "pool.global_average.f32";
  }

  void run(const RunArgs& args) override {
    const float* in = args.inputs[0];
    float* out = args.outputs[0];
    const float divisor = kind_ == PoolKind::kMax ? 1.0f : static_cast<float>(size_);
    parallelOverRange(args.pool, planes_, planes_ * size_, [&](int64_t first, int64_t last) {
      for (int64_t p = first; p < last; ++p) out[p] = reduce_(in + p * size_, size_) / divisor;
    });
  }

 private:
  PoolKind kind_;
  int64_t planes_, size_;
  ReduceRow reduce_;
};

std::unique_ptr<Executor> planGlobalPool(PlanContext& ctx, PoolKind kind) {
  const OpInput& x = ctx.input(0);
  if (x.dtype != DType::kFloat32) ctx.fail(std::string("does not support ") + dtypeName(x.dtype) + " input");
  if (x.shape.size() < 3) ctx.fail("expects an N x C x spatial input, got shape " + shapeToString(x.shape));
  Shape outShape(x.shape.size(), 1);
  outShape[0] = x.shape[0];
  outShape[1] = x.shape[1];
  ctx.outputShapes[0] = outShape;
  const int64_t size = shapeElements(Shape(x.shape.begin() + 2, x.shape.end()));
  if (size == 0) ctx.fail("has an empty spatial extent in shape " + shapeToString(x.shape));
  return std::make_unique<GlobalPoolExecutor>(kind, x.shape[0] * x.shape[1], size);
}

std::unique_ptr<Executor> planMaxPool(PlanContext& ctx) { return planPool(ctx, PoolKind::kMax); }
std::unique_ptr<Executor> planAveragePool(PlanContext& ctx) { return planPool(ctx, PoolKind::kAverage); }
std::unique_ptr<Executor> planGlobalMaxPool(PlanContext& ctx) { return planGlobalPool(ctx, PoolKind::kMax); }
std::unique_ptr<Executor> planGlobalAveragePool(PlanContext& ctx) {
  return planGlobalPool(ctx, PoolKind::kAverage);
}

}  // namespace

PETREL_REGISTER_OP("MaxPool", planMaxPool);
PETREL_REGISTER_OP("AveragePool", planAveragePool);
PETREL_REGISTER_OP("GlobalMaxPool", planGlobalMaxPool);
PETREL_REGISTER_OP("GlobalAveragePool", planGlobalAveragePool);

}  // namespace petrel
