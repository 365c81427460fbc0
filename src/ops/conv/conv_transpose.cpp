// ONNX ConvTranspose (1-D and 2-D, group, output_padding, output_shape,
// auto_pad, optional bias, fused activation) as GEMM + col2im: per image and
// group, col[Cout/g * kH * kW][H * W] = W_g^T * x_g, then col2im scatters the
// columns into the output (the adjoint of a convolution's im2col).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/im2col.h"
#include "kernels/sgemm.h"
#include "ops/conv/conv_attributes.h"
#include "ops/select.h"
#include "ops/weight_operand.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

struct ConvTransposePlan {
  // The forward convolution whose im2col this inverts: its image is one
  // group of the output ([Cout/g][outH][outW]), its output pixels the input's.
  Conv2dGeometry geometry;
  int64_t batch = 1, group = 1, inChannels = 1, outChannels = 1;
  bool hasBias = false;
  ActivationParams activation;
  int threads = 1;
};

class ConvTransposeExecutor final : public Executor {
 public:
  ConvTransposeExecutor(ExecutorKind kind, const ConvTransposePlan& plan, PlanContext& ctx)
      : kind_(kind), plan_(plan), storage_(ctx.weightStorage(1)) {
    const int64_t inPerGroup = plan.inChannels / plan.group;
    const int64_t colRows = plan.geometry.depth();  // Cout/g * kH * kW
    // W is [Cin][Cout/g][kH][kW]: group g's rows form a [Cin/g][colRows]
    // matrix; A = W_g^T [colRows][Cin/g] is the weight matrix of group g.
    WeightOperandSpec spec;
    spec.side = GemmSide::kLhs;
    spec.keepStored = executorKeepsWeightsStored(kind, storage_);
    spec.groups = plan.group;
    spec.rows = colRows;
    spec.depth = inPerGroup;
    spec.fp32Group0 = {nullptr, colRows, true};
    weights_ = WeightOperand::prepare(ctx, spec);
    colFloats_ = (colRows * plan.geometry.outPixels() + 15) / 16 * 16;
    gemmScratchBytes_ = sgemmScratchBytes(colRows, plan.geometry.outPixels(), inPerGroup, weights_.isPacked(), false,
                                          plan.threads);
  }

  std::string kernelName() const override { return executorKernelName(kind_, storage_); }
  size_t scratchBytes() const override { return colFloats_ * sizeof(float) + gemmScratchBytes_; }
  size_t preparedWeightBytes() const override { return weights_.preparedBytes(); }

  void run(const RunArgs& args) override {
    const Conv2dGeometry& geo = plan_.geometry;
    const int64_t inPerGroup = plan_.inChannels / plan_.group;
    const int64_t outPerGroup = plan_.outChannels / plan_.group;
    float* col = static_cast<float*>(args.scratch);
    void* gemmScratch = col + colFloats_;
    const float* bias = plan_.hasBias ? args.inputs[2] : nullptr;
    for (int64_t n = 0; n < plan_.batch; ++n) {
      for (int64_t g = 0; g < plan_.group; ++g) {
        SgemmProblem p;
        weights_.setOperand(p, g);
        p.rhs.matrix = {args.inputs[0] + (n * plan_.inChannels + g * inPerGroup) * geo.outPixels(), geo.outPixels(),
                        false};
        p.c = col;
        sgemm(geo.depth(), geo.outPixels(), inPerGroup, p, geo.outPixels(), {}, gemmScratch, gemmScratchBytes_,
              args.pool);

        // Each output channel gathers its own kH*kW rows of col: channels are independent.
        struct Scatter {
          const ConvTransposePlan* plan;
          const float* col;
          const float* bias;  // this group's, or nullptr
          float* out;         // this image and group
        } scatter{&plan_, col, bias ? bias + g * outPerGroup : nullptr,
                  args.outputs[0] + (n * plan_.outChannels + g * outPerGroup) * geo.inPixels()};
        const Scatter* shared = &scatter;
        auto channels = [shared](size_t begin, size_t end) {
          Conv2dGeometry one = shared->plan->geometry;
          one.channels = 1;
          const int64_t colRows = one.kernelH * one.kernelW;
          for (size_t c = begin; c < end; ++c) {
            float* plane = shared->out + c * one.inPixels();
            std::fill(plane, plane + one.inPixels(), shared->bias ? shared->bias[c] : 0.0f);
            col2imAccumulate(one, shared->col + c * colRows * one.outPixels(), plane);
            applyActivation(shared->plan->activation, plane, one.inPixels());
          }
        };
        if (args.pool)
          args.pool->parallelFor(static_cast<size_t>(outPerGroup), channels);
        else
          channels(0, static_cast<size_t>(outPerGroup));
      }
    }
  }

 private:
  ExecutorKind kind_;
  ConvTransposePlan plan_;
  Storage storage_;
  WeightOperand weights_;
  int64_t colFloats_ = 0;
  size_t gemmScratchBytes_ = 0;
};

std::unique_ptr<Executor> planConvTranspose(PlanContext& ctx) {
  if (ctx.inputs.size() < 2 || ctx.inputs.size() > 3) ctx.fail("expects 2 or 3 inputs (X, W, optional B)");
  const OpInput& x = ctx.input(0);
  const OpInput& w = ctx.input(1);
  const SpatialShape in = readSpatialShape(ctx, x.shape, "input X");
  if (w.shape.size() != x.shape.size())
    ctx.fail("weights W " + shapeToString(w.shape) + " must have the rank of X " + shapeToString(x.shape));
  const SpatialShape filter = readSpatialShape(ctx, w.shape, "weights W");  // [C, M/group, kH, kW]
  const int spatialRank = static_cast<int>(x.shape.size()) - 2;
  ConvAttributes a = readConvAttributes(ctx, spatialRank, {filter.h, filter.w});
  if (filter.batch != in.channels)
    ctx.fail("W " + shapeToString(w.shape) + " must have as many rows as X has channels (" +
             std::to_string(in.channels) + ")");
  if (in.channels % a.group != 0)
    ctx.fail("input channels " + std::to_string(in.channels) + " are not divisible by group " +
             std::to_string(a.group));
  const int64_t outChannels = filter.channels * a.group;
  const bool hasBias = ctx.hasInput(2);
  if (hasBias && (ctx.input(2).shape != Shape{outChannels}))
    ctx.fail("bias B " + shapeToString(ctx.input(2).shape) + " must have shape [" + std::to_string(outChannels) + "]");

  // Output size and pads (ONNX ConvTranspose).
  std::array<int64_t, 2> outputPadding{0, 0};
  if (ctx.node.has("output_padding")) {
    const std::vector<int64_t> op = ctx.node.getInts("output_padding");
    if (static_cast<int>(op.size()) != spatialRank) ctx.fail("attribute output_padding needs one value per axis");
    for (int i = 0; i < spatialRank; ++i) outputPadding[2 - spatialRank + i] = op[i];
  }
  std::array<int64_t, 2> explicitOut{-1, -1};
  if (ctx.node.has("output_shape")) {
    const std::vector<int64_t> os = ctx.node.getInts("output_shape");
    if (static_cast<int>(os.size()) != spatialRank && static_cast<int>(os.size()) != spatialRank + 2)
      ctx.fail("attribute output_shape needs one value per spatial axis");
    for (int i = 0; i < spatialRank; ++i) explicitOut[2 - spatialRank + i] = os[os.size() - spatialRank + i];
  }
  const std::array<int64_t, 2> inSize{in.h, in.w};
  std::array<int64_t, 2> outSize{};
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t window = (a.kernel[axis] - 1) * a.dilation[axis] + 1;
    const int64_t stride = a.stride[axis];
    if (outputPadding[axis] < 0 || outputPadding[axis] >= std::max(stride, a.dilation[axis]))
      ctx.fail("output_padding " + std::to_string(outputPadding[axis]) + " must be below the stride or dilation");
    const int64_t full = stride * (inSize[axis] - 1) + outputPadding[axis] + window;  // with no padding
    const bool same = a.autoPad == AutoPad::kSameUpper || a.autoPad == AutoPad::kSameLower;
    if (explicitOut[axis] >= 0 || same) {
      outSize[axis] = explicitOut[axis] >= 0 ? explicitOut[axis] : inSize[axis] * stride;
      const int64_t total = full - outSize[axis];
      if (total < 0) ctx.fail("output_shape is larger than the transposed convolution can produce");
      a.padBegin[axis] = a.autoPad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      a.padEnd[axis] = total - a.padBegin[axis];
    } else {
      if (a.autoPad == AutoPad::kValid) a.padBegin[axis] = a.padEnd[axis] = 0;
      outSize[axis] = full - a.padBegin[axis] - a.padEnd[axis];
    }
    if (outSize[axis] < 1) ctx.fail("the output would be empty along a spatial axis");
  }

  ConvTransposePlan plan;
  Conv2dGeometry& g = plan.geometry;
  g.channels = filter.channels;
  g.inH = outSize[0];
  g.inW = outSize[1];
  g.outH = in.h;
  g.outW = in.w;
  g.kernelH = a.kernel[0];
  g.kernelW = a.kernel[1];
  g.strideH = a.stride[0];
  g.strideW = a.stride[1];
  g.dilationH = a.dilation[0];
  g.dilationW = a.dilation[1];
  g.padTop = a.padBegin[0];
  g.padLeft = a.padBegin[1];
  plan.batch = in.batch;
  plan.group = a.group;
  plan.inChannels = in.channels;
  plan.outChannels = outChannels;
  plan.hasBias = hasBias;
  plan.activation = ctx.fusedActivation();
  plan.threads = ctx.config.threads;
  ctx.outputShapes[0] = spatialRank == 2 ? Shape{in.batch, outChannels, outSize[0], outSize[1]}
                                         : Shape{in.batch, outChannels, outSize[1]};
  ctx.multiplyAdds = shapeElements(x.shape) * filter.channels * g.kernelH * g.kernelW;  // each input times its window

  if (!w.isStatic())
    ctx.fail("weights W must be a constant stored in the model; run-time weights are not supported");
  WeightedOpFacts facts;
  facts.weightStorage = ctx.weightStorage(1);
  facts.memory = ctx.config.memory;
  facts.precision = ctx.config.precision;
  facts.geometry = OpGeometry::kTransposed;
  const ExecutorKind kind = selectExecutor(facts);
  if (kind != ExecutorKind::kTransposedSgemm && kind != ExecutorKind::kTransposedSgemmStored)
    ctx.fail("no transposed convolution executor for " + describeFacts(facts) + " (selection gave " +
             executorName(kind) + ")");
  return std::make_unique<ConvTransposeExecutor>(kind, plan, ctx);
}

}  // namespace

PETREL_REGISTER_OP("ConvTranspose", planConvTranspose);

}  // namespace petrel
