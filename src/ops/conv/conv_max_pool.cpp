// The MaxPool a Conv absorbed, for executors that cannot pool their rows as
// they make them: the inner executor writes the whole convolution output
// into scratch, then it is pooled into the output plane by plane. As fast as
// the two nodes were; only the direct kernel's fused path (conv_sgemm.cpp)
// saves the round trip through memory.
#include <string>

#include "kernels/int_math.h"
#include "ops/broadcast.h"
#include "ops/conv/conv_executors.h"

namespace petrel {

namespace {

class MaxPoolAfterExecutor final : public Executor {
 public:
  MaxPoolAfterExecutor(std::unique_ptr<Executor> inner, const ConvPlan& plan)
      : inner_(std::move(inner)),
        planes_(plan.batch * plan.outChannels),
        convPixels_(plan.geometry.outPixels()),
        convW_(plan.geometry.outW),
        threads_(plan.threads),
        pool_(plan.maxPool),
        rows_(true, pool_[0], pool_[1], false, bestIsa()),
        innerScratch_(static_cast<size_t>(roundUp(static_cast<int64_t>(inner_->scratchBytes()), 64))) {}

  std::string kernelName() const override { return inner_->kernelName() + "+maxpool"; }
  size_t scratchBytes() const override { return innerScratch_ + planes_ * convPixels_ * sizeof(float); }
  size_t preparedWeightBytes() const override { return inner_->preparedWeightBytes(); }

  void run(const RunArgs& args) override {
    float* conv = reinterpret_cast<float*>(static_cast<char*>(args.scratch) + innerScratch_);
    RunArgs innerArgs = args;
    innerArgs.outputs[0] = conv;
    inner_->run(innerArgs);
    float* out = args.outputs[0];
    const int64_t pooledPixels = pool_[0].out * pool_[1].out;
    const int64_t work = planes_ * pooledPixels * pool_[0].kernel * pool_[1].kernel;
    parallelTasksOrInline(args.pool, planes_, work, threads_, [&](int64_t p, int) {
      const float* x = conv + p * convPixels_;
      float* y = out + p * pooledPixels;
      for (int64_t oh = 0; oh < pool_[0].out; ++oh)
        rows_.row(x + rows_.inputRows(oh).first * convW_, convW_, oh, y + oh * pool_[1].out);
    });
  }

 private:
  std::unique_ptr<Executor> inner_;
  int64_t planes_, convPixels_, convW_;
  int threads_;
  std::array<PoolAxis, 2> pool_;
  PoolRows rows_;
  size_t innerScratch_;
};

}  // namespace

std::unique_ptr<Executor> withMaxPoolAfter(std::unique_ptr<Executor> inner, const ConvPlan& plan) {
  return std::make_unique<MaxPoolAfterExecutor>(std::move(inner), plan);
}

}  // namespace petrel
