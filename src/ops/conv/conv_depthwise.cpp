// Depthwise convolution (one filter per channel) with the direct kernel.
#include <string>

#include "kernels/depthwise.h"
#include "ops/conv/conv_executors.h"

namespace petrel {

namespace {

class ConvDepthwiseExecutor final : public Executor {
 public:
  explicit ConvDepthwiseExecutor(const ConvPlan& plan) : plan_(plan) {
    plan_.geometry.channels = plan.outChannels;  // the kernel's geometry counts all channels
    scratchBytes_ = depthwiseScratchBytes(plan_.geometry, plan.threads);
  }
  std::string kernelName() const override { return convExecutorName(ConvExecutorKind::kDepthwise); }
  size_t scratchBytes() const override { return scratchBytes_; }
  void run(const RunArgs& args) override {
    depthwiseConv2d(plan_.geometry, plan_.batch, args.inputs[0], args.inputs[1],
                    plan_.hasBias ? args.inputs[2] : nullptr, plan_.activation, args.outputs[0], args.scratch,
                    scratchBytes_, args.pool);
  }

 private:
  ConvPlan plan_;
  size_t scratchBytes_ = 0;
};

}  // namespace

std::unique_ptr<Executor> makeConvDepthwiseExecutor(const ConvPlan& plan) {
  return std::make_unique<ConvDepthwiseExecutor>(plan);
}

}  // namespace petrel
