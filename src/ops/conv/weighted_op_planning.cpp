#include "ops/conv/weighted_op_planning.h"

#include <string>

namespace petrel {

ActivationParams readFusedActivation(const PlanContext& ctx) {
  ActivationParams params;
  const std::string name = ctx.node.getString("activation", "");
  if (name.empty()) return params;
  if (!parseActivation(name, &params.kind)) ctx.fail("unknown fused activation '" + name + "'");
  params.alpha = ctx.node.getFloat("activation_alpha", 0.0f);
  params.beta = ctx.node.getFloat("activation_beta", 0.0f);
  return params;
}

const float* staticFloatData(const PlanContext& ctx, size_t i) {
  const OpInput& in = ctx.input(i);
  if (in.constant) {
    if (in.constant->storage != Storage::kFloat32)
      ctx.fail("input " + std::to_string(i) + " is stored as " + storageName(in.constant->storage) +
               "; this operator has no executor for that storage yet");
    return in.constant->floats();
  }
  if (in.value) {
    if (in.value->dtype != DType::kFloat32) ctx.fail("input " + std::to_string(i) + " must be float32");
    return in.value->f32.data();
  }
  return nullptr;
}

}  // namespace petrel
