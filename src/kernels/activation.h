#pragma once
// Activations that kernels apply while storing results ("fused"), so a
// Conv+Relu never makes a second pass over memory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace petrel {

enum class Activation : uint8_t {
  kNone,
  kRelu,
  kClip,         // min(max(x, alpha), beta)   (Relu6 is Clip 0..6)
  kSigmoid,
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kHardSwish,    // x * max(0, min(1, x / 6 + 0.5))
  kSilu,         // x * sigmoid(x)
  kTanh,
  kGelu,         // 0.5 * x * (1 + erf(x / sqrt(2)))
};

// The names used in the graph attribute "activation".
const char* activationName(Activation a);
// Returns false if `name` is not an activation name.
bool parseActivation(const std::string& name, Activation* out);

struct ActivationParams {
  Activation kind = Activation::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// Scalar reference, also used for remainders by the SIMD paths.
inline float applyActivation(const ActivationParams& p, float x) {
  switch (p.kind) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0.0f ? x : 0.0f;
    case Activation::kClip: return std::min(std::max(x, p.alpha), p.beta);
    case Activation::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::kHardSigmoid: return std::max(0.0f, std::min(1.0f, p.alpha * x + p.beta));
    case Activation::kHardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    case Activation::kSilu: return x / (1.0f + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kGelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
  }
  return x;
}

// Applies the activation in place to n floats (vectorised where it pays).
void applyActivation(const ActivationParams& p, float* data, int64_t n);

}  // namespace petrel
