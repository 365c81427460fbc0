#pragma once
// conv.winograd.f4x4 and conv.winograd.f2x2: 3x3 stride-1 dilation-1 group-1
// convolutions by Winograd F(4x4, 3x3) (kernels/winograd.h) or, on planes
// with too few 4x4 tiles (ResNet's 7x7 stage), F(2x2, 3x3)
// (kernels/winograd_f2.h). The weights are transformed and packed once at
// planning (36 or 16 x outChannels x inChannels floats, 4x or 1.8x the fp32
// weights: a memory-mode-high executor); F(4x4) rounds more than a direct
// sum (relative L2 1-2e-6 per ResNet layer against fp64, vs ~3e-7 for
// im2col + SGEMM; F(2x2) ~5e-7): not for precision high.
#include <memory>

#include "ops/conv/conv_executors.h"

namespace petrel {

// True if the Winograd executor can compute this plan (3x3, stride 1,
// dilation 1, group 1).
bool convWinogradServes(const ConvPlan& plan);

// True if it is also expected to beat conv.im2col.sgemm (kernels/winograd.h
// winogradPays: at least 8 output tiles of 4x4 over the batch, and 16
// channels; else kernels/winograd_f2.h winogradF2Pays).
bool convWinogradPays(const ConvPlan& plan);

// weights [outChannels][inChannels][3][3] (fp32, decoded from `storage`),
// read only here (the executor keeps its transformed copy). Error if
// !convWinogradServes(plan).
std::unique_ptr<Executor> makeConvWinogradExecutor(const ConvPlan& plan, const float* weights, Storage storage);

}  // namespace petrel
