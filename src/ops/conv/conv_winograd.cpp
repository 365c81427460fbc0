// The Winograd F(4x4, 3x3) convolution executor: transformed weights packed at
// planning, the whole convolution (all images of the batch) in one call of
// winogradConv2d per run.
#include "ops/conv/conv_winograd.h"

#include <string>

#include "kernels/winograd.h"
#include "petrel/error.h"

namespace petrel {

namespace {

class ConvWinogradExecutor final : public Executor {
 public:
  ConvWinogradExecutor(const ConvPlan& plan, const float* weights, Storage storage)
      : plan_(plan),
        storage_(storage),
        shape_(winogradShape(plan.geometry, plan.batch, plan.outChannels)),
        weights_(weights, plan.outChannels, plan.geometry.channels),
        blocking_(planWinograd(shape_, plan.threads)) {}

  std::string kernelName() const override { return executorKernelName(ExecutorKind::kWinograd, storage_); }
  size_t scratchBytes() const override { return blocking_.scratchBytes(); }
  size_t preparedWeightBytes() const override { return weights_.bytes(); }

  void run(const RunArgs& args) override {
    WinogradEpilogue epilogue;
    epilogue.bias = plan_.hasBias ? args.inputs[2] : nullptr;
    epilogue.residual = plan_.hasResidual ? args.inputs[3] : nullptr;  // added as each tile is stored
    epilogue.activation = plan_.activation;
    winogradConv2d(shape_, blocking_, args.inputs[0], weights_, epilogue, args.outputs[0], args.scratch,
                   blocking_.scratchBytes(), args.pool);
  }

 private:
  ConvPlan plan_;
  Storage storage_;
  WinogradShape shape_;
  WinogradWeights weights_;
  WinogradBlocking blocking_;
};

}  // namespace

bool convWinogradServes(const ConvPlan& plan) { return plan.group == 1 && winogradSupports(plan.geometry); }

bool convWinogradPays(const ConvPlan& plan) {
  return convWinogradServes(plan) && winogradPays(winogradShape(plan.geometry, plan.batch, plan.outChannels));
}

std::unique_ptr<Executor> makeConvWinogradExecutor(const ConvPlan& plan, const float* weights, Storage storage) {
  if (!convWinogradServes(plan))
    throw Error("conv.winograd.f4x4: needs a 3x3 group-1 convolution with stride 1 and dilation 1");
  if (!weights) throw Error("conv.winograd.f4x4: needs the weights at planning");
  return std::make_unique<ConvWinogradExecutor>(plan, weights, storage);
}

}  // namespace petrel
