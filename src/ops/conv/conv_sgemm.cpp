// Convolution as GEMM: out[Cout/g][pixels] = W[Cout/g][K] * im2col(x)[K][pixels]
// per image and group, with the weights packed once (or decoded block by
// block from their stored form, memory mode low) and the image's im2col
// packed tile by tile straight from the input (never materialised). The 1x1
// stride-1 unpadded case reads the NCHW input directly as the GEMM's B. An
// image of few channels (a network's first layer) goes to the direct kernel
// (kernels/conv_direct.h), which reads B in place instead of packing it. A
// residual R (input 3) is the GEMM's C on entry (accumulated onto), so the
// output may be R's own memory. A MaxPool the Conv absorbed is applied by
// the direct kernel's path to a few output rows at a time, while they are in
// cache (a first layer's output is a few MB: written and read back it cost
// more than the pooling), and by withMaxPoolAfter on the other paths.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kernels/conv_direct.h"
#include "kernels/int_math.h"
#include "kernels/sgemm.h"
#include "ops/conv/conv_executors.h"
#include "ops/weight_operand.h"
#include "runtime/thread_pool.h"

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
    if (direct_ && plan.hasMaxPool) {
      const PoolAxis& h = plan.maxPool[0];
      const int64_t rowFloats = plan.outChannels * plan.geometry.outW;
      bandRows_ = std::max((h.kernel - 1) * h.dilation + 1, kPoolBandBytes / (rowFloats * int64_t{sizeof(float)}));
      poolRows_ = absorbedMaxPoolRows(plan);
      bandBuffersOffset_ = static_cast<size_t>(roundUp(static_cast<int64_t>(scratchBytes_), 64));
      scratchBytes_ = bandBuffersOffset_ + std::max(plan.threads, 1) * bandRows_ * rowFloats * sizeof(float);
    }
  }

  // Whether run() applies plan.hasMaxPool itself.
  bool poolsItself() const { return direct_; }

  std::string kernelName() const override {
    return executorKernelName(kind_, storage_) + (direct_ && plan_.hasMaxPool ? "+maxpool.fused" : "");
  }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t preparedWeightBytes() const override { return weights_.preparedBytes(); }
  std::vector<size_t> inputsReadElementwise() const override {
    return plan_.hasResidual ? std::vector<size_t>{3} : std::vector<size_t>{};
  }

  void run(const RunArgs& args) override {
    if (direct_) {
      if (plan_.hasMaxPool)
        runDirectMaxPool(args);
      else
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

  // Each thread pools a band of output rows, making the conv rows it reads
  // a few at a time in its own buffer of bandRows_ rows of all channels (row
  // r of channel i at buffer + r * outChannels * outW + i * outW), small
  // enough to stay in L2. Rows that the next windows read again move to the
  // front of the buffer instead of being made twice.
  void runDirectMaxPool(const RunArgs& args) const {
    SgemmProblem weights;
    weights_.setOperand(weights, 0);
    const SgemmPackedLhs& packed = *weights.lhs.packed;
    const Conv2dGeometry& g = plan_.geometry;
    const PoolRows& pool = *poolRows_;
    const float* bias = plan_.hasBias ? args.inputs[2] : nullptr;
    const int64_t m = plan_.outChannels, rowFloats = m * g.outW;
    const int64_t pooledH = plan_.maxPool[0].out, pooledW = plan_.maxPool[1].out, pooledPixels = pooledH * pooledW;
    const int workers = args.pool ? std::min(args.pool->threads(), std::max(plan_.threads, 1)) : 1;
    float* buffers = reinterpret_cast<float*>(static_cast<char*>(args.scratch) + bandBuffersOffset_);
    for (int64_t image = 0; image < plan_.batch; ++image) {
      const float* input = args.inputs[0] + image * g.channels * g.inPixels();
      float* output = args.outputs[0] + image * m * pooledPixels;
      auto band = [&](size_t task, int thread) {
        float* buffer = buffers + thread * bandRows_ * rowFloats;
        const int64_t last = pooledH * static_cast<int64_t>(task + 1) / workers;
        int64_t held = 0, heldEnd = 0;  // conv rows [held, heldEnd) are in the buffer, from its start
        for (int64_t oh = pooledH * static_cast<int64_t>(task) / workers; oh < last;) {
          // Pooled rows [oh, end) whose windows fit in the buffer from the first row they read.
          const int64_t first = pool.inputRows(oh).first;
          int64_t end = oh + 1, rowsEnd = pool.inputRows(oh).last;
          while (end < last && pool.inputRows(end).last - first <= bandRows_) rowsEnd = pool.inputRows(end++).last;
          int64_t have = first;
          if (held <= first && first < heldEnd) {
            std::memmove(buffer, buffer + (first - held) * rowFloats, (heldEnd - first) * rowFloats * sizeof(float));
            have = heldEnd;
          }
          if (have < rowsEnd)
            convDirectRows(g, packed, input, bias, plan_.activation, args.scratch, have, rowsEnd,
                           buffer + (have - first) * rowFloats, rowFloats, g.outW, thread);
          held = first;
          heldEnd = std::max(rowsEnd, have);
          for (int64_t i = 0; i < m; ++i)
            pool.rows(buffer + i * g.outW, rowFloats, oh, end, output + i * pooledPixels + oh * pooledW);
          oh = end;
        }
      };
      if (workers > 1)
        args.pool->parallelTasks(static_cast<size_t>(workers), band);
      else
        band(0, 0);
    }
  }

  // A thread's buffer of conv rows for the pooled path: about this many bytes.
  static constexpr int64_t kPoolBandBytes = 160 * 1024;

  ExecutorKind kind_;
  ConvPlan plan_;
  Storage storage_;
  WeightOperand weights_;
  bool direct_ = false;  // few input channels: kernels/conv_direct.h
  size_t scratchBytes_ = 0;
  int64_t bandRows_ = 0;               // conv rows per thread buffer (direct_ with a MaxPool)
  size_t bandBuffersOffset_ = 0;       // where in scratch the threads' buffers start, after the direct kernel's
  std::optional<PoolRows> poolRows_;  // direct_ with a MaxPool
};

}  // namespace

std::unique_ptr<Executor> makeConvSgemmExecutor(ExecutorKind kind, const ConvPlan& plan, PlanContext& ctx) {
  auto executor = std::make_unique<ConvSgemmExecutor>(kind, plan, ctx);
  if (plan.hasMaxPool && !executor->poolsItself()) return withMaxPoolAfter(std::move(executor), plan);
  return executor;
}

}  // namespace petrel
