#pragma once
// Planning helpers shared by the operators with weights (Conv, ConvTranspose,
// Gemm, MatMul).
#include <cstddef>

#include "kernels/activation.h"
#include "ops/op.h"

namespace petrel {

// The fused activation of the node: attributes "activation" (a name from
// activationName, absent or "" for none), "activation_alpha", "activation_beta".
ActivationParams readFusedActivation(const PlanContext& ctx);

// The float32 contents of input i when known at planning (a stored fp32
// constant or a computed static value); nullptr when computed at run time.
// A constant stored in another form (fp16, int8, ...) fails with a message
// naming the storage: no executor for it here yet.
const float* staticFloatData(const PlanContext& ctx, size_t i);

}  // namespace petrel
