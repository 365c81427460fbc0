// ONNX Conv (1-D and 2-D, any group, auto_pad, optional bias, fused
// activation, Petrel's optional residual summand as input 3, and a MaxPool
// it absorbed, its attributes named pool_kernel_shape, pool_strides, ...).
// The planner checks the node, computes the output shape and picks the
// executor with selectExecutor (ops/select.h).
#include <array>
#include <string>
#include <vector>

#include "ops/conv/conv_attributes.h"
#include "ops/conv/conv_executors.h"
#include "ops/conv/conv_winograd.h"
#include "ops/select.h"

namespace petrel {

namespace {

std::unique_ptr<Executor> planConv(PlanContext& ctx) {
  if (ctx.inputs.size() < 2 || ctx.inputs.size() > 4)
    ctx.fail("expects 2 to 4 inputs (X, W, optional B, optional residual R)");
  const OpInput& x = ctx.input(0);
  const OpInput& w = ctx.input(1);
  const SpatialShape in = readSpatialShape(ctx, x.shape, "input X");
  if (w.shape.size() != x.shape.size())
    ctx.fail("weights W " + shapeToString(w.shape) + " must have the rank of X " + shapeToString(x.shape));
  const SpatialShape filter = readSpatialShape(ctx, w.shape, "weights W");  // [M, C/group, kH, kW]
  const int spatialRank = static_cast<int>(x.shape.size()) - 2;

  ConvAttributes a = readConvAttributes(ctx, spatialRank, {filter.h, filter.w});
  const int64_t outChannels = filter.batch;
  if (in.channels != filter.channels * a.group)
    ctx.fail("input has " + std::to_string(in.channels) + " channels but W " + shapeToString(w.shape) +
             " with group " + std::to_string(a.group) + " expects " + std::to_string(filter.channels * a.group));
  if (outChannels % a.group != 0)
    ctx.fail("output channels " + std::to_string(outChannels) + " are not divisible by group " +
             std::to_string(a.group));
  const bool hasBias = ctx.hasInput(2);
  if (hasBias && (ctx.input(2).shape != Shape{outChannels}))
    ctx.fail("bias B " + shapeToString(ctx.input(2).shape) + " must have shape [" + std::to_string(outChannels) + "]");

  ConvPlan plan;
  Conv2dGeometry& g = plan.geometry;
  g.channels = filter.channels;
  g.inH = in.h;
  g.inW = in.w;
  g.outH = convOutputSize(ctx, a, 0, in.h);
  g.outW = convOutputSize(ctx, a, 1, in.w);
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
  plan.outChannels = outChannels;
  plan.hasBias = hasBias;
  plan.activation = ctx.fusedActivation();
  plan.threads = ctx.config.threads;
  ctx.outputShapes[0] = spatialRank == 2 ? Shape{in.batch, outChannels, g.outH, g.outW}
                                         : Shape{in.batch, outChannels, g.outW};
  plan.hasResidual = ctx.hasInput(3);
  if (plan.hasResidual && ctx.input(3).shape != ctx.outputShapes[0])
    ctx.fail("residual R " + shapeToString(ctx.input(3).shape) + " must have the output's shape " +
             shapeToString(ctx.outputShapes[0]));
  ctx.multiplyAdds = shapeElements(ctx.outputShapes[0]) * filter.channels * g.kernelH * g.kernelW;
  plan.hasMaxPool = ctx.node.hasAbsorbedMaxPool();
  if (plan.hasMaxPool) {
    if (plan.hasResidual) ctx.fail("cannot take both a residual input and an absorbed MaxPool");
    plan.maxPool = readPoolAxes(ctx, ctx.outputShapes[0], kAbsorbedPoolPrefix);
    ctx.outputShapes[0] = pooledShape(ctx.outputShapes[0], plan.maxPool);
  }

  if (!w.isStatic())
    ctx.fail("weights W must be a constant stored in the model; run-time weights are not supported");
  WeightedOpFacts facts;
  facts.weightStorage = ctx.weightStorage(1);
  facts.memory = ctx.config.memory;
  facts.precision = ctx.config.precision;
  const bool zeroPads = a.padBegin == std::array<int64_t, 2>{0, 0} && a.padEnd == std::array<int64_t, 2>{0, 0};
  facts.geometry = classifyConv(a.group, in.channels, outChannels, a.kernel == std::array<int64_t, 2>{1, 1},
                                a.stride == std::array<int64_t, 2>{1, 1}, zeroPads, convWinogradPays(plan));

  const ExecutorKind kind = selectExecutor(facts);
  // Depthwise has no residual input of its own: it runs without the
  // activation and a second pass adds R and applies it. (Winograd adds R as
  // it stores each tile.)
  // Only the SGEMM executors pool for themselves; the others make the whole
  // convolution output, pooled after them.
  ConvPlan unpooled = plan;
  unpooled.hasMaxPool = false;
  ConvPlan direct = unpooled;
  if (plan.hasResidual) direct.activation = ActivationParams{};
  auto residualAfter = [&](std::unique_ptr<Executor> inner) {
    return plan.hasResidual ? withResidualAfter(std::move(inner), plan) : std::move(inner);
  };
  auto maxPoolAfter = [&](std::unique_ptr<Executor> inner) {
    return plan.hasMaxPool ? withMaxPoolAfter(std::move(inner), plan) : std::move(inner);
  };
  switch (kind) {
    case ExecutorKind::kWinograd: {
      if (facts.weightStorage == Storage::kFloat32) {
        ctx.markInputCopied(1);  // transformed at planning
        return maxPoolAfter(makeConvWinogradExecutor(unpooled, ctx.staticFloats(1), facts.weightStorage));
      }
      const std::vector<float> decoded = ctx.decodedWeights(1);  // [Cout][Cin*9]: the weight matrix as stored
      return maxPoolAfter(makeConvWinogradExecutor(unpooled, decoded.data(), facts.weightStorage));
    }
    case ExecutorKind::kDepthwise:
    case ExecutorKind::kDepthwiseStored:
      return maxPoolAfter(residualAfter(makeConvDepthwiseExecutor(kind, direct, ctx)));
    case ExecutorKind::kPointwiseSgemm:
    case ExecutorKind::kIm2colSgemm:
    case ExecutorKind::kGroupedIm2colSgemm:
    case ExecutorKind::kPointwiseSgemmStored:
    case ExecutorKind::kIm2colSgemmStored:
    case ExecutorKind::kGroupedIm2colSgemmStored:
      return makeConvSgemmExecutor(kind, plan, ctx);
    default:
      break;
  }
  ctx.fail("no convolution executor for " + describeFacts(facts) + " (selection gave " + executorName(kind) + ")");
}

}  // namespace

PETREL_REGISTER_OP("Conv", planConv);

}  // namespace petrel
