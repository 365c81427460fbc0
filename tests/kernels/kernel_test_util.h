#pragma once
// Shared by the kernel tests: the Isas to test and the activations to try.
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/cpu.h"

namespace petrel::test {

// Every Isa this machine can run (the scalar one always).
inline std::vector<Isa> testedIsas() {
  std::vector<Isa> isas{Isa::kScalar};
  if (isaSupported(Isa::kAvx2)) isas.push_back(Isa::kAvx2);
  return isas;
}

inline std::string isaParamName(Isa isa) { return isaName(isa); }

// One of each activation kind, with parameters where it takes them.
inline std::vector<ActivationParams> everyActivation() {
  return {
      {Activation::kNone, 0, 0},       {Activation::kRelu, 0, 0},        {Activation::kClip, -0.3f, 0.5f},
      {Activation::kSigmoid, 0, 0},    {Activation::kHardSigmoid, 0.2f, 0.5f}, {Activation::kHardSwish, 0, 0},
      {Activation::kSilu, 0, 0},       {Activation::kTanh, 0, 0},        {Activation::kGelu, 0, 0},
  };
}

}  // namespace petrel::test
