#pragma once
// conv.winograd.f4x4: 3x3 stride-1 dilation-1 group-1 convolutions by
// Winograd F(4x4, 3x3) (kernels/winograd.h). The weights are transformed and
// packed once at planning (36 x outChannels x inChannels floats, 4x the fp32
// weights: a memory-mode-high executor); fp32 arithmetic with more rounding
// than a direct sum (relative L2 ~3e-6 per ResNet layer): not for precision high.
#include <memory>

#include "ops/conv/conv_executors.h"

namespace petrel {

// The kernelName() of the executor.
constexpr const char* kConvWinogradName = "conv.winograd.f4x4";

// True if the Winograd executor can compute this plan (3x3, stride 1,
// dilation 1, group 1).
bool convWinogradServes(const ConvPlan& plan);

// weights [outChannels][inChannels][3][3] (fp32), read only here (the executor
// keeps its transformed copy). Error if !convWinogradServes(plan).
std::unique_ptr<Executor> makeConvWinogradExecutor(const ConvPlan& plan, const float* weights);

}  // namespace petrel
