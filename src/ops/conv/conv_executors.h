#pragma once
// The convolution executors (chosen by selectConvExecutor in select.h).
#include <memory>

#include "kernels/activation.h"
#include "kernels/conv_geometry.h"
#include "ops/conv/select.h"
#include "ops/op.h"

namespace petrel {

// A planned Conv, normalised to 2-D. NCHW input [batch][group * geometry.channels][inH][inW],
// output [batch][outChannels][outH][outW].
struct ConvPlan {
  Conv2dGeometry geometry;  // per group: geometry.channels = input channels / group
  int64_t batch = 1;
  int64_t group = 1;
  int64_t outChannels = 1;
  bool hasBias = false;  // input 2
  ActivationParams activation;
  int threads = 1;
};

// conv.pointwise.sgemm, conv.im2col.sgemm and conv.grouped.im2col.sgemm:
// weights [outChannels][channels][kH][kW] packed once, per group.
std::unique_ptr<Executor> makeConvSgemmExecutor(ConvExecutorKind kind, const ConvPlan& plan, const float* weights);
// conv.depthwise: the direct kernel reads the weights at run time (no copy).
std::unique_ptr<Executor> makeConvDepthwiseExecutor(const ConvPlan& plan);

}  // namespace petrel
