// Convolution as GEMM: out[Cout/g][pixels] = W[Cout/g][K] * im2col(x)[K][pixels]
// per image and group, with the weights packed once (or decoded block by
// block from their stored form, memory mode low) and the image's im2col
// packed tile by tile straight from the input (never materialised). The 1x1
// stride-1 unpadded case reads the NCHW input directly as the GEMM's B. An
// image of few channels (a network's first layer) goes to the direct kernel
// (kernels/conv_direct.h), which reads B in place instead of packing it. A
// residual R (input 3) is the GEMM's C on entry (accumulated onto), so the
// output may be R's own memory.
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv_direct.h"
#include "kernels/sgemm.h"
#include "ops/conv/conv_executors.h"
#include "ops/weight_operand.h"

namespace petrel {

namespace {

bool isPointwise(ExecutorKind kind) {
  return kind == ExecutorKind::kPointwiseSgemm || kind == ExecutorKind::kPointwiseSgemmStored;
}

class ConvSgemmExecutor final : public Executor {
 public:
  ConvSgemmExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx)
      : kind_(kind), plan_(plan), storage_(ctx.weightStorage(1)) {
    WeightOperandSpec spec;
    spec.side = GemmSide::kLhs;
    spec.keepStored = executorKeepsWeightsStored(kind, storage_);
    spec.groups = plan.group;
    spec.rows = plan.outChannels / plan.group;
    spec.depth = plan.geometry.depth();
    spec.fp32Group0 = {nullptr, spec.depth, false};  // W [Cout][K] as stored
    weights_ = WeightOperand::prepare(ctx, spec);
    direct_ = kind == ExecutorKind::kIm2colSgemm && plan.group == 1 && !plan.hasResidual && weights_.isPacked() &&
              convDirectApplies(plan.geometry);
    scratchBytes_ = direct_ ? convDirectScratchBytes(plan.geometry, spec.rows, plan.threads)
                            : sgemmScratchBytes(spec.rows, plan.geometry.outPixels(), spec.depth,
                                                weights_.isPacked(), false, plan.threads);
  }

  std::string kernelName() const override { return executorKernelName(kind_, storage_); }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t preparedWeightBytes() const override { return weights_.preparedBytes(); }
  std::vector<size_t> inputsReadElementwise() const override {
    return plan_.hasResidual ? std::vector<size_t>{3} : std::vector<size_t>{};
  }

  void run(const RunArgs& args) override {
    if (direct_) {
      runDirect(args);
      return;
    }
    // One GEMM per (image, group); the threads share the tiles of all of them.
    struct Problems final : SgemmBatch {
      const ConvSgemmExecutor* self;
      const float* input;
      const float* bias;
      float* output;
      int64_t count() const override { return self->plan_.batch * self->plan_.group; }
      SgemmProblem problem(int64_t index) const override {
        const ConvPlan& plan = self->plan_;
        const Conv2dGeometry& geo = plan.geometry;
        const int64_t g = index % plan.group;
        const int64_t rows = plan.outChannels / plan.group;
        SgemmProblem p;
        self->weights_.setOperand(p, g);
        // (image, group) pairs are consecutive channel blocks in NCHW.
        const float* image = input + index * geo.channels * geo.inPixels();
        if (isPointwise(self->kind_)) {
          p.rhs.matrix = {image, geo.inPixels(), false};
        } else {
          p.rhs.im2col = &geo;
          p.rhs.image = image;
        }
        p.c = output + index * rows * geo.outPixels();
        p.bias = bias ? bias + g * rows : nullptr;
        return p;
      }
    } problems;
    problems.self = this;
    problems.input = args.inputs[0];
    problems.bias = plan_.hasBias ? args.inputs[2] : nullptr;
    problems.output = args.outputs[0];

    SgemmEpilogue epilogue;
    epilogue.bias = problems.bias ? SgemmBias::kPerRow : SgemmBias::kNone;
    epilogue.activation = plan_.activation;
    if (plan_.hasResidual) {
      const float* residual = args.inputs[3];
      const int64_t elements = plan_.batch * plan_.outChannels * plan_.geometry.outPixels();
      if (residual != problems.output) std::memcpy(problems.output, residual, elements * sizeof(float));
      epilogue.accumulate = true;
    }
    sgemmBatched(plan_.outChannels / plan_.group, plan_.geometry.outPixels(), plan_.geometry.depth(), problems,
                 plan_.geometry.outPixels(), epilogue, args.scratch, scratchBytes_, args.pool);
  }

 private:
  void runDirect(const RunArgs& args) const {
    SgemmProblem weights;
    weights_.setOperand(weights, 0);
    const Conv2dGeometry& g = plan_.geometry;
    const float* bias = plan_.hasBias ? args.inputs[2] : nullptr;
    for (int64_t image = 0; image < plan_.batch; ++image)
      convDirect(g, *weights.lhs.packed, args.inputs[0] + image * g.channels * g.inPixels(), bias, plan_.activation,
                 args.outputs[0] + image * plan_.outChannels * g.outPixels(), args.scratch, scratchBytes_, args.pool);
  }

  ExecutorKind kind_;
  ConvPlan plan_;
  Storage storage_;
  WeightOperand weights_;
  bool direct_ = false;  // few input channels: kernels/conv_direct.h
  size_t scratchBytes_ = 0;
};

}  // namespace

std::unique_ptr<Executor> makeConvSgemmExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx) {
  return std::make_unique<ConvSgemmExecutor>(kind, plan, ctx);
}

}  // namespace petrel
