#pragma once
// The convolution executors (chosen by selectConvExecutor in select.h).
#include <array>
#include <memory>

#include "kernels/activation.h"
#include "kernels/conv_geometry.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "ops/select.h"

namespace petrel {

// A planned Conv, normalised to 2-D. NCHW input [batch][group * geometry.channels][inH][inW],
// output [batch][outChannels][outH][outW].
struct ConvPlan {
  Conv2dGeometry geometry;  // per group: geometry.channels = input channels / group
  int64_t batch = 1;
  int64_t group = 1;
  int64_t outChannels = 1;
  bool hasBias = false;      // input 2
  bool hasResidual = false;  // input 3, added before the activation (graph passes: fuseResidualAdds)
  ActivationParams activation;
  int threads = 1;
  // A MaxPool over the output that the Conv absorbed (graph passes:
  // fuseConvMaxPool), applied after the activation: the executor's output is
  // then [batch][outChannels][maxPool[0].out][maxPool[1].out].
  bool hasMaxPool = false;
  std::array<PoolAxis, 2> maxPool;
};

// conv.pointwise.sgemm, conv.im2col.sgemm, conv.grouped.im2col.sgemm and
// their .stored twins: weights [outChannels][channels][kH][kW] (input 1)
// packed once per group, or read as stored (ops/weight_operand.h). Serves
// plan.hasMaxPool: the direct kernel pools its rows while they are in cache;
// the other paths through withMaxPoolAfter.
std::unique_ptr<Executor> makeConvSgemmExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx);
// Runs `inner` (planned without the activation and the residual), then adds
// the residual (input 3) and applies plan.activation: for executors with no
// residual support of their own (depthwise).
std::unique_ptr<Executor> withResidualAfter(std::unique_ptr<Executor> inner, const ConvPlan& plan);

// The row code of the MaxPool the Conv absorbed (plan.hasMaxPool), for the
// executors that apply it.
inline PoolRows absorbedMaxPoolRows(const ConvPlan& plan) {
  return PoolRows(/*isMax=*/true, plan.maxPool[0], plan.maxPool[1], /*countIncludePad=*/false, bestIsa());
}

// Runs `inner` (planned without the MaxPool) into scratch, then max-pools
// that into the output: for executors that cannot pool rows as they make them.
std::unique_ptr<Executor> withMaxPoolAfter(std::unique_ptr<Executor> inner, const ConvPlan& plan);

// conv.depthwise: the direct kernel reads fp32 filters in place (compressed
// ones are decoded once); conv.depthwise.stored decodes compressed filters
// into scratch on every run.
std::unique_ptr<Executor> makeConvDepthwiseExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx);

}  // namespace petrel
