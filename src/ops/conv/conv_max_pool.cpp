// The MaxPool a Conv absorbed, for executors that cannot pool their rows as
// they make them: the inner executor writes the whole convolution output
// into scratch, then it is pooled into the output plane by plane. As fast as
// the two nodes were; only the direct kernel's fused path (conv_sgemm.cpp)
// saves the round trip through memory.
#include <algorithm>
#include <string>

#include "kernels/int_math.h"
#include "ops/conv/conv_executors.h"

namespace petrel {

namespace {

class MaxPoolAfterExecutor final : public Executor {
 public:
  MaxPoolAfterExecutor(std::unique_ptr<Executor> inner, const ConvPlan& plan)
      : inner_(std::move(inner)),
        planes_(plan.batch * plan.outChannels),
        threads_(std::max(plan.threads, 1)),
        rows_(absorbedMaxPoolRows(plan)),
        innerScratch_(static_cast<size_t>(roundUp(static_cast<int64_t>(inner_->scratchBytes()), 64))),
        convBytes_(static_cast<size_t>(planes_ * plan.geometry.outPixels()) * sizeof(float)) {}

  std::string kernelName() const override { return inner_->kernelName() + "+maxpool"; }
  size_t scratchBytes() const override { return innerScratch_ + convBytes_; }
  size_t preparedWeightBytes() const override { return inner_->preparedWeightBytes(); }

  void run(const RunArgs& args) override {
    float* conv = reinterpret_cast<float*>(static_cast<char*>(args.scratch) + innerScratch_);
    RunArgs innerArgs = args;
    innerArgs.outputs[0] = conv;
    inner_->run(innerArgs);
    rows_.planes(conv, args.outputs[0], planes_, args.pool, threads_);
  }

 private:
  std::unique_ptr<Executor> inner_;
  int64_t planes_;
  int threads_;
  PoolRows rows_;
  size_t innerScratch_, convBytes_;
};

}  // namespace

std::unique_ptr<Executor> withMaxPoolAfter(std::unique_ptr<Executor> inner, const ConvPlan& plan) {
  return std::make_unique<MaxPoolAfterExecutor>(std::move(inner), plan);
}

}  // namespace petrel
