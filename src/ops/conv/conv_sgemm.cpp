// Convolution as GEMM: out[Cout/g][pixels] = W[Cout/g][K] * im2col(x)[K][pixels]
// per image and group, with the weights packed once and the image's im2col
// packed tile by tile straight from the input (never materialised). The 1x1
// stride-1 unpadded case reads the NCHW input directly as the GEMM's B.
#include <string>
#include <vector>

#include "kernels/sgemm.h"
#include "ops/conv/conv_executors.h"

namespace petrel {

namespace {

class ConvSgemmExecutor final : public Executor {
 public:
  ConvSgemmExecutor(ConvExecutorKind kind, const ConvPlan& plan, const float* weights)
      : kind_(kind), plan_(plan) {
    const int64_t rows = plan.outChannels / plan.group;
    const int64_t depth = plan.geometry.depth();
    packed_.reserve(plan.group);
    for (int64_t g = 0; g < plan.group; ++g)
      packed_.emplace_back(SgemmMatrix{weights + g * rows * depth, depth, false}, rows, depth);
    scratchBytes_ = sgemmScratchBytes(rows, plan.geometry.outPixels(), depth, true, false, plan.threads);
  }

  std::string kernelName() const override { return convExecutorName(kind_); }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t preparedWeightBytes() const override {
    size_t bytes = 0;
    for (const SgemmPackedLhs& p : packed_) bytes += p.bytes();
    return bytes;
  }

  void run(const RunArgs& args) override {
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
        p.lhs.packed = &self->packed_[g];
        // (image, group) pairs are consecutive channel blocks in NCHW.
        const float* image = input + index * geo.channels * geo.inPixels();
        if (self->kind_ == ConvExecutorKind::kPointwiseSgemm) {
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
    sgemmBatched(plan_.outChannels / plan_.group, plan_.geometry.outPixels(), plan_.geometry.depth(), problems,
                 plan_.geometry.outPixels(), epilogue, args.scratch, scratchBytes_, args.pool);
  }

 private:
  ConvExecutorKind kind_;
  ConvPlan plan_;
  std::vector<SgemmPackedLhs> packed_;
  size_t scratchBytes_ = 0;
};

}  // namespace

std::unique_ptr<Executor> makeConvSgemmExecutor(ConvExecutorKind kind, const ConvPlan& plan, const float* weights) {
  return std::make_unique<ConvSgemmExecutor>(kind, plan, weights);
}

}  // namespace petrel
