// Depthwise convolution (one filter per channel) with the direct kernel.
// The kernel reads fp32 filters [channels][kH][kW]: fp32 weights are read in
// place; compressed ones are decoded once at planning (conv.depthwise) or,
// to keep them stored (conv.depthwise.stored, memory mode low), decoded into
// scratch at the start of every run - a few KiB, against the whole layer.
#include <string>
#include <vector>

#include "kernels/depthwise.h"
#include "ops/conv/conv_executors.h"
#include "weights/decode.h"

namespace petrel {

namespace {

class ConvDepthwiseExecutor final : public Executor {
 public:
  ConvDepthwiseExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx)
      : kind_(kind), plan_(plan), storage_(ctx.weightStorage(1)) {
    plan_.geometry.channels = plan.outChannels;  // the kernel's geometry counts all channels
    kernelScratchBytes_ = depthwiseScratchBytes(plan_.geometry, plan.threads);
    if (storage_ == Storage::kFloat32) return;  // read in place from RunArgs
    if (executorKeepsWeightsStored(kind, storage_)) {
      encoded_ = ctx.encodedWeights(1);
      filterFloats_ = (encoded_.layout.rows * encoded_.layout.depth + 15) / 16 * 16;
    } else {
      filters_ = ctx.decodedWeights(1);
    }
  }
  std::string kernelName() const override { return executorKernelName(kind_, storage_); }
  size_t scratchBytes() const override { return filterFloats_ * sizeof(float) + kernelScratchBytes_; }
  size_t preparedWeightBytes() const override { return filters_.size() * sizeof(float); }
  void run(const RunArgs& args) override {
    const float* filters = args.inputs[1];
    void* kernelScratch = args.scratch;
    if (!filters_.empty()) {
      filters = filters_.data();
    } else if (filterFloats_ > 0) {
      float* decoded = static_cast<float*>(args.scratch);
      decodeMatrix(encoded_, decoded);
      filters = decoded;
      kernelScratch = decoded + filterFloats_;
    }
    depthwiseConv2d(plan_.geometry, plan_.batch, args.inputs[0], filters, plan_.hasBias ? args.inputs[2] : nullptr,
                    plan_.activation, args.outputs[0], kernelScratch, kernelScratchBytes_, args.pool);
  }

 private:
  ExecutorKind kind_;
  ConvPlan plan_;
  Storage storage_;
  std::vector<float> filters_;  // compressed filters decoded at planning
  EncodedMatrixView encoded_;   // compressed filters kept stored
  int64_t filterFloats_ = 0;    // scratch floats for them
  size_t kernelScratchBytes_ = 0;
};

}  // namespace

std::unique_ptr<Executor> makeConvDepthwiseExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx) {
  return std::make_unique<ConvDepthwiseExecutor>(kind, plan, ctx);
}

}  // namespace petrel
