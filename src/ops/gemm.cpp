// ONNX Gemm: Y = act(alpha * A' * B' + beta * C), A' = transA ? A^T : A,
// B' = transB ? B^T : B, C broadcast to [M, N] (unidirectional), fused
// activation. A constant B (the usual linear layer) is a weight matrix: packed
// once at planning, or read in its stored form per block (memory mode low),
// as selectExecutor decides (ops/select.h). A static C that is a row, a column or a scalar becomes the GEMM's
// bias; any other C is written into Y first and accumulated onto.
#include <memory>
#include <string>
#include <vector>

#include "kernels/sgemm.h"
#include "ops/op.h"
#include "ops/select.h"
#include "ops/weight_operand.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

// How C enters the result.
enum class GemmC {
  kNone,
  kBias,     // folded into bias_ (beta applied)
  kPrefill,  // Y = beta * broadcast(C) before an accumulating GEMM
};

struct GemmPlan {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
  float alpha = 1.0f, beta = 1.0f;
  GemmC c = GemmC::kNone;
  Shape cShape;
  ActivationParams activation;
};

class GemmExecutor final : public Executor {
 public:
  // `weights` is the selected executor for a static B, kUnsupported for a B computed at run time.
  GemmExecutor(const GemmPlan& plan, ExecutorKind weights, PlanContext& ctx, SgemmBias biasKind,
               std::vector<float> bias)
      : plan_(plan), weightsKind_(weights), storage_(ctx.weightStorage(1)), biasKind_(biasKind),
        bias_(std::move(bias)) {
    if (weights != ExecutorKind::kUnsupported) {
      WeightOperandSpec spec;
      spec.side = GemmSide::kRhs;
      spec.keepStored = executorKeepsWeightsStored(weights, storage_);
      spec.rows = plan.n;
      spec.depth = plan.k;
      // W = B'^T [N][K]: B [N][K] as stored when transB, else B [K][N] transposed.
      spec.fp32Group0 = plan.transB ? SgemmMatrix{nullptr, plan.k, false} : SgemmMatrix{nullptr, plan.n, true};
      weights_ = WeightOperand::prepare(ctx, spec);
    }
    scratchBytes_ = sgemmScratchBytes(plan.m, plan.n, plan.k, false, weights_.isPacked(), ctx.config.threads,
                                      weights_.isEncoded());
  }

  std::string kernelName() const override {
    return weightsKind_ == ExecutorKind::kUnsupported ? "gemm.sgemm" : executorKernelName(weightsKind_, storage_);
  }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t preparedWeightBytes() const override { return weights_.preparedBytes(); }

  void run(const RunArgs& args) override {
    float* y = args.outputs[0];
    if (plan_.c == GemmC::kPrefill) prefill(args.inputs[2], y);
    SgemmProblem p;
    p.lhs.matrix = {args.inputs[0], plan_.transA ? plan_.m : plan_.k, plan_.transA};
    if (weightsKind_ != ExecutorKind::kUnsupported)
      weights_.setOperand(p, 0);
    else
      p.rhs.matrix = {args.inputs[1], plan_.transB ? plan_.k : plan_.n, plan_.transB};
    p.c = y;
    p.bias = bias_.empty() ? nullptr : bias_.data();
    SgemmEpilogue epilogue;
    epilogue.alpha = plan_.alpha;
    epilogue.accumulate = plan_.c == GemmC::kPrefill;
    epilogue.bias = biasKind_;
    epilogue.activation = plan_.activation;
    sgemm(plan_.m, plan_.n, plan_.k, p, plan_.n, epilogue, args.scratch, scratchBytes_, args.pool);
  }

 private:
  // y[i][j] = beta * c[i or 0][j or 0] (C has rank <= 2, right-aligned).
  void prefill(const float* c, float* y) const {
    const Shape& s = plan_.cShape;
    const int64_t rows = s.size() == 2 ? s[0] : 1;
    const int64_t cols = s.empty() ? 1 : s.back();
    for (int64_t i = 0; i < plan_.m; ++i) {
      const float* row = c + (rows == 1 ? 0 : i) * cols;
      for (int64_t j = 0; j < plan_.n; ++j) y[i * plan_.n + j] = plan_.beta * row[cols == 1 ? 0 : j];
    }
  }

  GemmPlan plan_;
  ExecutorKind weightsKind_;
  Storage storage_;
  WeightOperand weights_;
  SgemmBias biasKind_;
  std::vector<float> bias_;
  size_t scratchBytes_ = 0;
};

std::unique_ptr<Executor> planGemm(PlanContext& ctx) {
  if (ctx.inputs.size() < 2 || ctx.inputs.size() > 3) ctx.fail("expects 2 or 3 inputs (A, B, optional C)");
  const OpInput& a = ctx.input(0);
  const OpInput& b = ctx.input(1);
  if (a.shape.size() != 2 || b.shape.size() != 2)
    ctx.fail("A " + shapeToString(a.shape) + " and B " + shapeToString(b.shape) + " must be 2-D");
  GemmPlan plan;
  plan.transA = ctx.node.getInt("transA", 0) != 0;
  plan.transB = ctx.node.getInt("transB", 0) != 0;
  plan.alpha = ctx.node.getFloat("alpha", 1.0f);
  plan.beta = ctx.node.getFloat("beta", 1.0f);
  plan.activation = ctx.fusedActivation();
  plan.m = plan.transA ? a.shape[1] : a.shape[0];
  plan.k = plan.transA ? a.shape[0] : a.shape[1];
  const int64_t kB = plan.transB ? b.shape[1] : b.shape[0];
  plan.n = plan.transB ? b.shape[0] : b.shape[1];
  if (kB != plan.k)
    ctx.fail("inner dimensions differ: A " + shapeToString(a.shape) + (plan.transA ? " (transposed)" : "") + ", B " +
             shapeToString(b.shape) + (plan.transB ? " (transposed)" : ""));
  ctx.outputShapes[0] = {plan.m, plan.n};
  ctx.multiplyAdds = plan.m * plan.n * plan.k;

  SgemmBias biasKind = SgemmBias::kNone;
  std::vector<float> bias;
  if (ctx.hasInput(2) && plan.beta != 0.0f) {
    const OpInput& c = ctx.input(2);
    plan.cShape = c.shape;
    const Shape& s = c.shape;
    const bool fits = s.size() <= 2 && (s.empty() || s.back() == 1 || s.back() == plan.n) &&
                      (s.size() < 2 || s[0] == 1 || s[0] == plan.m);
    if (!fits) ctx.fail("C " + shapeToString(s) + " does not broadcast to [" + std::to_string(plan.m) + ", " + std::to_string(plan.n) + "]");
    const int64_t rows = s.size() == 2 ? s[0] : 1;
    const int64_t cols = s.empty() ? 1 : s.back();
    const float* data = ctx.staticFloats(2);
    if (data && rows == 1) {  // a row or a scalar: one value per column
      biasKind = SgemmBias::kPerColumn;
      for (int64_t j = 0; j < plan.n; ++j) bias.push_back(plan.beta * data[cols == 1 ? 0 : j]);
      plan.c = GemmC::kBias;
      ctx.markInputCopied(2);
    } else if (data && cols == 1) {  // a column: one value per row
      biasKind = SgemmBias::kPerRow;
      for (int64_t i = 0; i < plan.m; ++i) bias.push_back(plan.beta * data[i]);
      plan.c = GemmC::kBias;
      ctx.markInputCopied(2);
    } else {
      plan.c = GemmC::kPrefill;
    }
  }
  ExecutorKind weights = ExecutorKind::kUnsupported;
  if (b.isStatic()) {
    const WeightedOpFacts facts{ctx.weightStorage(1), ctx.config.memory, ctx.config.precision, OpGeometry::kLinear};
    weights = selectExecutor(facts);
    if (weights != ExecutorKind::kLinearSgemm && weights != ExecutorKind::kLinearSgemmStored)
      ctx.fail("no executor for " + describeFacts(facts) + " (selection gave " + executorName(weights) + ")");
  }
  return std::make_unique<GemmExecutor>(plan, weights, ctx, biasKind, std::move(bias));
}

}  // namespace

PETREL_REGISTER_OP("Gemm", planGemm);

}  // namespace petrel
