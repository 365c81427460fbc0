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

// Bias, residual and activation of a run, applied by the output transform as
// it stores each tile.
WinogradEpilogue epilogueOf(const ConvPlan& plan, const RunArgs& args) {
  WinogradEpilogue epilogue;
  epilogue.bias = plan.hasBias ? args.inputs[2] : nullptr;
  epilogue.residual = plan.hasResidual ? args.inputs[3] : nullptr;
  epilogue.activation = plan.activation;
  return epilogue;
}

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
    winogradConv2d(shape_, blocking_, args.inputs[0], weights_, epilogueOf(plan_, args), args.outputs[0],
                   args.scratch, blocking_.scratchBytes(), args.pool);
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
    conv_.run(args.inputs[0], epilogueOf(plan_, args), args.outputs[0], args.scratch, scratchBytes(), args.pool);
  }

 private:
  ConvPlan plan_;
  Storage storage_;
  WinogradF2Conv conv_;
};

bool f2x2Pays(const ConvPlan& plan) { return winogradF2Pays(plan.geometry, plan.batch, plan.outChannels); }

}  // namespace

bool convWinogradServes(const ConvPlan& plan) { return plan.group == 1 && winogradSupports(plan.geometry); }

bool convWinogradPays(const ConvPlan& plan) {
  return convWinogradServes(plan) &&
         (winogradPays(winogradShape(plan.geometry, plan.batch, plan.outChannels)) || f2x2Pays(plan));
}

std::unique_ptr<Executor> makeConvWinogradExecutor(const ConvPlan& plan, const float* weights, Storage storage) {
  if (!convWinogradServes(plan))
    throw Error("conv.winograd: needs a 3x3 group-1 convolution with stride 1 and dilation 1");
  if (!weights) throw Error("conv.winograd: needs the weights at planning");
  // F(2x2) pays only where F(4x4) does not (winogradF2Pays checks it).
  if (f2x2Pays(plan)) return std::make_unique<ConvWinogradF2Executor>(plan, weights, storage);
  return std::make_unique<ConvWinogradExecutor>(plan, weights, storage);
}

}  // namespace petrel
