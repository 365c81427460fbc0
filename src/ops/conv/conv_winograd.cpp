// The Winograd convolution executors: transformed weights packed at planning,
// the whole convolution (all images of the batch) in one call per run.
// F(4x4, 3x3) wherever it pays, F(2x2, 3x3) on planes too small for it.
#include "ops/conv/conv_winograd.h"

#include <string>

#include "graph/graph.h"
#include "kernels/winograd.h"
#include "kernels/winograd_f2.h"
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

// F(2x2, 3x3) on small planes (kernels/winograd_f2.h).
class ConvWinogradF2Executor final : public Executor {
 public:
  ConvWinogradF2Executor(const ConvPlan& plan, const float* weights, Storage storage)
      : plan_(plan), storage_(storage), conv_(plan.geometry, plan.batch, plan.outChannels, weights) {}

  std::string kernelName() const override { return std::string("conv.winograd.f2x2[") + storageName(storage_) + "]"; }
  size_t scratchBytes() const override { return conv_.scratchBytes(plan_.threads); }
  size_t preparedWeightBytes() const override { return conv_.weightBytes(); }

  void run(const RunArgs& args) override {
    WinogradEpilogue epilogue;
    epilogue.bias = plan_.hasBias ? args.inputs[2] : nullptr;
    epilogue.residual = plan_.hasResidual ? args.inputs[3] : nullptr;
    epilogue.activation = plan_.activation;
    conv_.run(args.inputs[0], epilogue, args.outputs[0], args.scratch, scratchBytes(), args.pool);
  }

 private:
  ConvPlan plan_;
  Storage storage_;
  WinogradF2Conv conv_;
};

bool f4x4Pays(const ConvPlan& plan) {
  return winogradPays(winogradShape(plan.geometry, plan.batch, plan.outChannels));
}

}  // namespace

bool convWinogradServes(const ConvPlan& plan) { return plan.group == 1 && winogradSupports(plan.geometry); }

bool convWinogradPays(const ConvPlan& plan) {
  return convWinogradServes(plan) &&
         (f4x4Pays(plan) || winogradF2Pays(plan.geometry, plan.batch, plan.outChannels));
}

std::unique_ptr<Executor> makeConvWinogradExecutor(const ConvPlan& plan, const float* weights, Storage storage) {
  if (!convWinogradServes(plan))
    throw Error("conv.winograd: needs a 3x3 group-1 convolution with stride 1 and dilation 1");
  if (!weights) throw Error("conv.winograd: needs the weights at planning");
  if (!f4x4Pays(plan) && winogradF2Pays(plan.geometry, plan.batch, plan.outChannels))
    return std::make_unique<ConvWinogradF2Executor>(plan, weights, storage);
  return std::make_unique<ConvWinogradExecutor>(plan, weights, storage);
}

}  // namespace petrel
