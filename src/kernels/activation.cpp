#include "kernels/activation.h"

#include "kernels/activation_internal.h"
#include "kernels/cpu.h"

namespace petrel {

namespace {
struct NamedActivation {
  Activation kind;
  const char* name;
};
constexpr NamedActivation kNames[] = {
    {Activation::kNone, "none"},          {Activation::kRelu, "relu"},
    {Activation::kClip, "clip"},          {Activation::kSigmoid, "sigmoid"},
    {Activation::kHardSigmoid, "hard_sigmoid"}, {Activation::kHardSwish, "hard_swish"},
    {Activation::kSilu, "silu"},          {Activation::kTanh, "tanh"},
    {Activation::kGelu, "gelu"},
};
}  // namespace

const char* activationName(Activation a) {
  for (const NamedActivation& n : kNames)
    if (n.kind == a) return n.name;
  return "?";
}

bool parseActivation(const std::string& name, Activation* out) {
  for (const NamedActivation& n : kNames) {
    if (name == n.name) {
      *out = n.kind;
      return true;
    }
  }
  return false;
}

void applyActivationScalar(const ActivationParams& p, float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = applyActivation(p, data[i]);
}

void applyActivation(const ActivationParams& p, float* data, int64_t n, Isa isa) {
  if (p.kind == Activation::kNone) return;
  if (isa == Isa::kAvx2)
    applyActivationAvx2(p, data, n);
  else
    applyActivationScalar(p, data, n);
}

void applyActivation(const ActivationParams& p, float* data, int64_t n) { applyActivation(p, data, n, bestIsa()); }

}  // namespace petrel
