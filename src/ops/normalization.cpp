// BatchNormalization (inference) and LayerNormalization.
//
// BatchNormalization normally never reaches the runtime: the converter folds it
// into the preceding Conv or rewrites it as Mul + Add. It stays only when the
// converter could not tell its input's rank; then each channel c of X
// [N, C, ...] becomes x * a[c] + b[c], with a and b computed at planning.
//
// LayerNormalization (ONNX opset 17): X is normalised over its dimensions
// [axis, rank), then scaled and shifted:
//   Y = (X - Mean) * InvStdDev * Scale + B,  InvStdDev = 1 / sqrt(Var + epsilon)
// Mean and variance are accumulated in double (two passes: the mean first,
// then the squared deviations), so long rows and large means lose no
// precision. The optional outputs Mean and InvStdDev (shape
// X.shape[:axis] + [1, ...]) are written when asked.
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {
namespace {

// Sum of f(x[i]) in double, in four independent partial sums so the additions
// overlap instead of waiting on each other.
template <typename F>
double sumOf(const float* x, int64_t n, F f) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += f(x[i + k]);
  for (; i < n; ++i) s[0] += f(x[i]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

RowMoments layerNormRowScalar(const float* x, int64_t n, float epsilon, const float* scale, const float* bias,
                              float* y) {
  const double m = sumOf(x, n, [](double v) { return v; }) / static_cast<double>(n);
  const double squares = sumOf(x, n, [m](double v) { return (v - m) * (v - m); });
  const double inv = 1.0 / std::sqrt(squares / static_cast<double>(n) + epsilon);
  const float mf = static_cast<float>(m), invf = static_cast<float>(inv);
  if (bias) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mf) * invf * scale[i] + bias[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mf) * invf * scale[i];
  }
  return {mf, invf};
}

}  // namespace

// One row by `isa`. Also used by the tests.
RowMoments layerNormRow(const float* x, int64_t n, float epsilon, const float* scale, const float* bias, float* y,
                        Isa isa) {
  if (isa == Isa::kAvx2) return layerNormRowAvx2(x, n, epsilon, scale, bias, y);
  return layerNormRowScalar(x, n, epsilon, scale, bias, y);
}

namespace {

class LayerNormExecutor final : public Executor {
 public:
  // A parameter whose shape is not exactly the normalised shape (e.g. [1, D]
  // against [T, D]) is expanded into scratch by its plan at run time.
  struct Parameter {
    bool present = false;
    std::optional<BroadcastPlan> expand;  // set when it must be expanded
  };

  LayerNormExecutor(int64_t rows, int64_t size, float epsilon, Parameter scale, Parameter bias)
      : rows_(rows), size_(size), epsilon_(epsilon), scale_(std::move(scale)), bias_(std::move(bias)),
        isa_(bestIsa()) {}

  std::string kernelName() const override {
    return isa_ == Isa::kScalar ? "layer_norm.f32" : std::string("layer_norm.f32.") + isaName(isa_);
  }

  size_t scratchBytes() const override {
    return ((scale_.expand ? size_ : 0) + (bias_.expand ? size_ : 0)) * sizeof(float);
  }

  void run(const RunArgs& args) override {
    float* scratch = static_cast<float*>(args.scratch);
    const float* scale = parameter(scale_, args.inputs[1], scratch);
    const float* bias = bias_.present ? parameter(bias_, args.inputs[2], scratch) : nullptr;
    const float* x = args.inputs[0];
    float* y = args.outputs[0];
    float* mean = args.outputs.size() > 1 ? args.outputs[1] : nullptr;
    float* invStdDev = args.outputs.size() > 2 ? args.outputs[2] : nullptr;
    parallelOverRange(args.pool, rows_, rows_ * size_, [&](int64_t first, int64_t last) {
      for (int64_t r = first; r < last; ++r) {
        const RowMoments moments = layerNormRow(x + r * size_, size_, epsilon_, scale, bias, y + r * size_, isa_);
        if (mean) mean[r] = moments.mean;
        if (invStdDev) invStdDev[r] = moments.invStdDev;
      }
    });
  }

 private:
  // The parameter's data, expanded into the next free part of scratch if needed.
  const float* parameter(const Parameter& p, const float* data, float*& scratch) const {
    if (!p.expand) return data;
    broadcastCopy(*p.expand, data, scratch);
    const float* expanded = scratch;
    scratch += size_;
    return expanded;
  }

  int64_t rows_, size_;
  float epsilon_;
  Parameter scale_, bias_;
  Isa isa_;
};

std::unique_ptr<Executor> planLayerNormalization(PlanContext& ctx) {
  const OpInput& x = ctx.input(0);
  if (x.dtype != DType::kFloat32) ctx.fail(std::string("does not support ") + dtypeName(x.dtype) + " input");
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const int64_t axisAttr = ctx.node.getInt("axis", -1);
  const int64_t axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (axis < 0 || axis >= rank)
    ctx.fail("axis " + std::to_string(axisAttr) + " is out of range for input shape " + shapeToString(x.shape));
  const Shape normShape(x.shape.begin() + axis, x.shape.end());
  const int64_t rows = shapeElements(Shape(x.shape.begin(), x.shape.begin() + axis));
  const int64_t size = shapeElements(normShape);

  auto parameter = [&](size_t index, const char* name) {
    LayerNormExecutor::Parameter p;
    if (!ctx.hasInput(index)) return p;
    const OpInput& in = ctx.input(index);
    if (in.dtype != DType::kFloat32) ctx.fail(std::string("input ") + name + " must be float32");
    // Leading 1s beyond the normalised rank (e.g. [1, D]) change nothing.
    Shape shape = in.shape;
    while (shape.size() > normShape.size() && shape.front() == 1) shape.erase(shape.begin());
    if (!broadcastsTo(shape, normShape))
      ctx.fail(std::string("input ") + name + " of shape " + shapeToString(in.shape) +
               " does not broadcast to the normalised shape " + shapeToString(normShape));
    p.present = true;
    if (shapeElements(shape) != size) p.expand = makeBroadcastPlan({shape}, normShape);
    return p;
  };
  if (!ctx.hasInput(1)) ctx.fail("input Scale is missing");
  LayerNormExecutor::Parameter scale = parameter(1, "Scale");
  LayerNormExecutor::Parameter bias = parameter(2, "B");

  Shape statsShape = x.shape;  // Mean and InvStdDev keep the reduced dims as 1
  for (int64_t d = axis; d < rank; ++d) statsShape[d] = 1;
  if (ctx.outputShapes.size() > 3) ctx.fail("has at most 3 outputs");
  for (size_t o = 0; o < ctx.outputShapes.size(); ++o) ctx.outputShapes[o] = o == 0 ? x.shape : statsShape;
  return std::make_unique<LayerNormExecutor>(rows, size, ctx.node.getFloat("epsilon", 1e-5f), std::move(scale),
                                             std::move(bias));
}

class BatchNormExecutor final : public Executor {
 public:
  BatchNormExecutor(int64_t batch, int64_t plane, std::vector<float> scale, std::vector<float> shift)
      : batch_(batch), plane_(plane), scale_(std::move(scale)), shift_(std::move(shift)) {}
  std::string kernelName() const override { return "batchnorm.affine.f32"; }
  void run(const RunArgs& args) override {
    const float* x = args.inputs[0];
    float* y = args.outputs[0];
    const int64_t channels = static_cast<int64_t>(scale_.size());
    const int64_t planes = batch_ * channels;
    parallelOverRange(args.pool, planes, planes * plane_, [&](int64_t first, int64_t last) {
      for (int64_t p = first; p < last; ++p) {
        const float a = scale_[p % channels], b = shift_[p % channels];
        const float* in = x + p * plane_;
        float* out = y + p * plane_;
        for (int64_t i = 0; i < plane_; ++i) out[i] = in[i] * a + b;
      }
    });
  }

 private:
  int64_t batch_, plane_;
  std::vector<float> scale_, shift_;
};

std::unique_ptr<Executor> planBatchNormalization(PlanContext& ctx) {
  if (ctx.node.getInt("training_mode", 0) != 0) ctx.fail("training_mode is not supported (inference only)");
  if (ctx.outputShapes.size() != 1) ctx.fail("only the first output (Y) is supported in inference");
  const Shape& x = ctx.input(0).shape;
  if (x.size() < 2) ctx.fail("input must be [N, C, ...], got " + shapeToString(x));
  const int64_t channels = x[1];
  const StaticTensor* params[4];
  for (size_t i = 0; i < 4; ++i) {
    params[i] = &ctx.staticInput(i + 1);
    if (params[i]->dtype != DType::kFloat32 || params[i]->elements() != channels)
      ctx.fail("parameter " + std::to_string(i + 1) + " must hold " + std::to_string(channels) + " floats, got shape " +
               shapeToString(params[i]->shape));
  }
  const float epsilon = ctx.node.getFloat("epsilon", 1e-5f);
  std::vector<float> scale(channels), shift(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const double a = params[0]->f32[c] / std::sqrt(static_cast<double>(params[3]->f32[c]) + epsilon);
    scale[c] = static_cast<float>(a);
    shift[c] = static_cast<float>(params[1]->f32[c] - params[2]->f32[c] * a);
  }
  ctx.outputShapes[0] = x;
  return std::make_unique<BatchNormExecutor>(x[0], shapeElements(x) / std::max<int64_t>(x[0] * channels, 1),
                                             std::move(scale), std::move(shift));
}

}  // namespace

PETREL_REGISTER_OP("LayerNormalization", planLayerNormalization);
PETREL_REGISTER_OP("BatchNormalization", planBatchNormalization);

}  // namespace petrel
