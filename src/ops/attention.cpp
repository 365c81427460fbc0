// PetrelAttention: multi-head scaled dot-product attention, the fused form of
// the MatMul -> Softmax -> MatMul chain with its head split and merge that
// exporters write out as Slice, Reshape and Transpose nodes (graph/passes.h
// fuseAttention).
//
//   inputs   Q [Tq, N, Fq], K [Tk, N, Fk], V [Tk, N, Fv] (they may be one value)
//   attributes heads H, head_dim d, q_start, k_start, v_start, scale
//   output   Y [Tq, N * H, d]
//
// Head h of group n reads the d columns from start + h * d of each operand's
// group n (so Q, K and V may be column ranges of one fused projection), and
//   Y[t][n * H + h] = softmax_s(scale * q(t) . k(s)) * v(s).
// Each head is two GEMMs on strided views of the inputs with its score matrix
// [Tq][Tk] in per-thread scratch, softmaxed in place between them: the
// copies the unfused graph makes (slices, head transposes, the score tensor
// for every head) are never written. Threads take whole heads.
#include <algorithm>
#include <string>

#include "kernels/int_math.h"
#include "kernels/sgemm.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

// Where one operand's heads are: head (n, h) starts at n * groupStride +
// start + h * d, its rows rowStride apart.
struct HeadLayout {
  int64_t start = 0, groupStride = 0, rowStride = 0;
  const float* head(const float* data, int64_t n, int64_t h, int64_t d) const {
    return data + n * groupStride + start + h * d;
  }
};

class AttentionExecutor final : public Executor {
 public:
  AttentionExecutor(int64_t tq, int64_t tk, int64_t groups, int64_t heads, int64_t d, HeadLayout q, HeadLayout k,
                    HeadLayout v, float scale, int threads)
      : tq_(tq), tk_(tk), groups_(groups), heads_(heads), d_(d), q_(q), k_(k), v_(v), scale_(scale),
        threads_(std::max(threads, 1)), isa_(bestIsa()) {
    scoreFloats_ = roundUp(tq * tk, 16);  // 64-byte multiples keep every slot aligned
    const size_t gemm =
        std::max(sgemmScratchBytes(tq, tk, d, false, false, 1), sgemmScratchBytes(tq, d, tk, false, false, 1));
    gemmBytes_ = static_cast<size_t>(roundUp(static_cast<int64_t>(gemm), 64));
  }
  std::string kernelName() const override { return "attention.sgemm.f32"; }
  size_t scratchBytes() const override { return threads_ * slotBytes(); }
  void run(const RunArgs& args) override {
    if (tq_ == 0) return;
    const float *q = args.inputs[0], *k = args.inputs[1], *v = args.inputs[2];
    float* y = args.outputs[0];
    char* scratch = static_cast<char*>(args.scratch);
    const int64_t work = groups_ * heads_ * tq_ * tk_ * d_;
    parallelTasksOrInline(args.pool, groups_ * heads_, work, threads_, [&](int64_t task, int thread) {
      const int64_t n = task / heads_, h = task % heads_;
      float* scores = reinterpret_cast<float*>(scratch + thread * slotBytes());
      void* gemmScratch = scores + scoreFloats_;
      // scores = scale * q k^T
      SgemmProblem qk;
      qk.lhs.matrix = {q_.head(q, n, h, d_), q_.rowStride, false};
      qk.rhs.matrix = {k_.head(k, n, h, d_), k_.rowStride, true};
      qk.c = scores;
      SgemmEpilogue scaled;
      scaled.alpha = scale_;
      sgemm(tq_, tk_, d_, qk, tk_, scaled, gemmScratch, gemmBytes_, nullptr, isa_);
      for (int64_t t = 0; t < tq_; ++t) softmaxRow(scores + t * tk_, scores + t * tk_, tk_, isa_);
      // y = scores v, into the head's d columns of Y's rows
      SgemmProblem sv;
      sv.lhs.matrix = {scores, tk_, false};
      sv.rhs.matrix = {v_.head(v, n, h, d_), v_.rowStride, false};
      sv.c = y + task * d_;
      sgemm(tq_, d_, tk_, sv, groups_ * heads_ * d_, SgemmEpilogue{}, gemmScratch, gemmBytes_, nullptr, isa_);
    });
  }

 private:
  size_t slotBytes() const { return scoreFloats_ * sizeof(float) + gemmBytes_; }

  int64_t tq_, tk_, groups_, heads_, d_;
  HeadLayout q_, k_, v_;
  float scale_;
  int threads_;
  Isa isa_;
  int64_t scoreFloats_ = 0;
  size_t gemmBytes_ = 0;
};

std::unique_ptr<Executor> planAttention(PlanContext& ctx) {
  if (ctx.inputs.size() != 3) ctx.fail("expects 3 inputs (Q, K, V)");
  const int64_t heads = ctx.node.getInt("heads", 0), d = ctx.node.getInt("head_dim", 0);
  if (heads < 1 || d < 1)
    ctx.fail("attributes heads and head_dim must be positive, got " + std::to_string(heads) + " and " +
             std::to_string(d));
  const char* names[3] = {"Q", "K", "V"};
  const char* starts[3] = {"q_start", "k_start", "v_start"};
  HeadLayout layouts[3];
  for (size_t i = 0; i < 3; ++i) {
    const OpInput& in = ctx.input(i);
    const Shape& s = in.shape;
    if (in.dtype != DType::kFloat32 || s.size() != 3)
      ctx.fail(std::string("input ") + names[i] + " must be a float tensor [tokens, groups, features], got " +
               shapeToString(s));
    const int64_t start = ctx.node.getInt(starts[i], 0);
    if (start < 0 || start + heads * d > s[2])
      ctx.fail(std::string(starts[i]) + " " + std::to_string(start) + " + heads x head_dim " +
               std::to_string(heads * d) + " passes the " + std::to_string(s[2]) + " features of " + names[i] + " " +
               shapeToString(s));
    layouts[i] = HeadLayout{start, s[2], s[1] * s[2]};
  }
  const Shape &q = ctx.input(0).shape, &k = ctx.input(1).shape, &v = ctx.input(2).shape;
  if (q[1] != k[1] || q[1] != v[1])
    ctx.fail("Q " + shapeToString(q) + ", K " + shapeToString(k) + " and V " + shapeToString(v) +
             " must have the same number of groups (axis 1)");
  if (k[0] != v[0])
    ctx.fail("K " + shapeToString(k) + " and V " + shapeToString(v) + " must have the same number of tokens");
  const int64_t tq = q[0], tk = k[0], groups = q[1];
  ctx.outputShapes[0] = Shape{tq, groups * heads, d};
  ctx.multiplyAdds = 2 * groups * heads * tq * tk * d;
  if (tk == 0 && tq > 0) ctx.fail("K and V have no tokens: there is nothing to attend to");
  return std::make_unique<AttentionExecutor>(tq, tk, groups, heads, d, layouts[0], layouts[1], layouts[2],
                                             ctx.node.getFloat("scale", 1.0f), ctx.config.threads);
}

}  // namespace

PETREL_REGISTER_OP("PetrelAttention", planAttention);

}  // namespace petrel
