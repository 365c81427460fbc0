// The residual summand for convolution executors without one of their own:
// the inner executor computes conv(X) + B into the output, then a second pass
// adds R (input 3) and applies the fused activation. The inner executor
// writes the whole output before R is read, so the output must not share R's
// memory: this executor reads no input elementwise.
#include <string>

#include "ops/broadcast.h"
#include "ops/conv/conv_executors.h"

namespace petrel {

namespace {

class ResidualAfterExecutor final : public Executor {
 public:
  ResidualAfterExecutor(std::unique_ptr<Executor> inner, const ConvPlan& plan)
      : inner_(std::move(inner)),
        activation_(plan.activation),
        elements_(plan.batch * plan.outChannels * plan.geometry.outPixels()) {}

  std::string kernelName() const override { return inner_->kernelName() + "+residual"; }
  size_t scratchBytes() const override { return inner_->scratchBytes(); }
  size_t preparedWeightBytes() const override { return inner_->preparedWeightBytes(); }

  void run(const RunArgs& args) override {
    inner_->run(args);
    const float* residual = args.inputs[3];
    float* out = args.outputs[0];
    const ActivationParams activation = activation_;
    parallelOverRange(args.pool, elements_, elements_, [&](int64_t first, int64_t last) {
      for (int64_t i = first; i < last; ++i) out[i] += residual[i];
      applyActivation(activation, out + first, last - first);
    });
  }

 private:
  std::unique_ptr<Executor> inner_;
  ActivationParams activation_;
  int64_t elements_;
};

}  // namespace

std::unique_ptr<Executor> withResidualAfter(std::unique_ptr<Executor> inner, const ConvPlan& plan) {
  return std::make_unique<ResidualAfterExecutor>(std::move(inner), plan);
}

}  // namespace petrel
