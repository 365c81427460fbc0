// ONNX MatMul (numpy semantics): 1-D operands are promoted ([K] -> [1, K] for
// A, [K] -> [K, 1] for B) and the promoted dimension removed from the result;
// batch dimensions broadcast. Two executors:
//  - B static and without real batch dims (ViT/BERT linear layers,
//    X[B, T, K] * W[K, N]): a weight matrix, packed once or read in its
//    stored form per block (memory mode low) as selectExecutor decides;
//    every row of A in one GEMM;
//  - otherwise (attention Q*K^T, attn*V) a batched GEMM over the broadcast
//    batch, both operands packed per tile at run time.
// Fused activation as for Conv. An optional input 2 (Petrel's, from the
// converter's fuseMatMulBias) is a bias [N] added in the store, with a
// constant 2-D B.
#include <memory>
#include <string>
#include <vector>

#include "kernels/sgemm.h"
#include "ops/op.h"
#include "ops/select.h"
#include "ops/weight_operand.h"

namespace petrel {

namespace {

class MatMulWeightsExecutor final : public Executor {
 public:
  MatMulWeightsExecutor(ExecutorKind kind, int64_t rows, int64_t n, int64_t k, PlanContext& ctx,
                        ActivationParams activation, std::vector<float> bias)
      : kind_(kind), storage_(ctx.weightStorage(1)), rows_(rows), n_(n), k_(k), activation_(activation),
        bias_(std::move(bias)) {
    WeightOperandSpec spec;
    spec.side = GemmSide::kRhs;
    spec.keepStored = executorKeepsWeightsStored(kind, storage_);
    spec.rows = n;
    spec.depth = k;
    spec.fp32Group0 = {nullptr, n, true};  // W = B^T, B [K][N] as stored
    weights_ = WeightOperand::prepare(ctx, spec);
    scratchBytes_ = sgemmScratchBytes(rows, n, k, false, weights_.isPacked(), ctx.config.threads,
                                      weights_.isEncoded());
  }
  std::string kernelName() const override { return executorKernelName(kind_, storage_); }
  size_t scratchBytes() const override { return scratchBytes_; }
  size_t preparedWeightBytes() const override { return weights_.preparedBytes(); }
  void run(const RunArgs& args) override {
    SgemmProblem p;
    p.lhs.matrix = {args.inputs[0], k_, false};
    weights_.setOperand(p, 0);
    p.c = args.outputs[0];
    SgemmEpilogue epilogue;
    epilogue.activation = activation_;
    if (!bias_.empty()) {
      epilogue.bias = SgemmBias::kPerColumn;
      p.bias = bias_.data();
    }
    sgemm(rows_, n_, k_, p, n_, epilogue, args.scratch, scratchBytes_, args.pool);
  }

 private:
  ExecutorKind kind_;
  Storage storage_;
  int64_t rows_, n_, k_;
  WeightOperand weights_;
  ActivationParams activation_;
  std::vector<float> bias_;  // N values, or empty
  size_t scratchBytes_ = 0;
};

class MatMulBatchedExecutor final : public Executor {
 public:
  // offsetsA/B: element offset of each batch entry's matrix in A and B.
  MatMulBatchedExecutor(int64_t m, int64_t n, int64_t k, std::vector<int64_t> offsetsA, std::vector<int64_t> offsetsB,
                        ActivationParams activation, int threads)
      : m_(m), n_(n), k_(k), offsetsA_(std::move(offsetsA)), offsetsB_(std::move(offsetsB)), activation_(activation) {
    scratchBytes_ = sgemmScratchBytes(m, n, k, false, false, threads);
  }
  std::string kernelName() const override { return "matmul.sgemm.batched"; }
  size_t scratchBytes() const override { return scratchBytes_; }
  void run(const RunArgs& args) override {
    struct Problems final : SgemmBatch {
      const MatMulBatchedExecutor* self;
      const float *a, *b;
      float* c;
      int64_t count() const override { return static_cast<int64_t>(self->offsetsA_.size()); }
      SgemmProblem problem(int64_t i) const override {
        SgemmProblem p;
        p.lhs.matrix = {a + self->offsetsA_[i], self->k_, false};
        p.rhs.matrix = {b + self->offsetsB_[i], self->n_, false};
        p.c = c + i * self->m_ * self->n_;
        return p;
      }
    } problems;
    problems.self = this;
    problems.a = args.inputs[0];
    problems.b = args.inputs[1];
    problems.c = args.outputs[0];
    SgemmEpilogue epilogue;
    epilogue.activation = activation_;
    sgemmBatched(m_, n_, k_, problems, n_, epilogue, args.scratch, scratchBytes_, args.pool);
  }

 private:
  int64_t m_, n_, k_;
  std::vector<int64_t> offsetsA_, offsetsB_;
  ActivationParams activation_;
  size_t scratchBytes_ = 0;
};

// Element offsets of each output batch entry's matrix in an operand with
// batch dims `dims` (right-aligned to `out`, broadcast where 1).
std::vector<int64_t> batchOffsets(const Shape& dims, const Shape& out, int64_t matrixSize) {
  const size_t rank = out.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = matrixSize;
  for (size_t i = 0; i < dims.size(); ++i) {
    const size_t axis = rank - 1 - i;
    const int64_t d = dims[dims.size() - 1 - i];
    strides[axis] = d == 1 ? 0 : stride;
    stride *= d;
  }
  std::vector<int64_t> offsets(static_cast<size_t>(shapeElements(out)));
  std::vector<int64_t> index(rank, 0);
  for (int64_t& offset : offsets) {
    int64_t o = 0;
    for (size_t axis = 0; axis < rank; ++axis) o += index[axis] * strides[axis];
    offset = o;
    for (size_t axis = rank; axis-- > 0;) {  // next index, last axis fastest
      if (++index[axis] < out[axis]) break;
      index[axis] = 0;
    }
  }
  return offsets;
}

std::unique_ptr<Executor> planMatMul(PlanContext& ctx) {
  if (ctx.inputs.size() != 2 && ctx.inputs.size() != 3) ctx.fail("expects 2 inputs (3 with a fused bias)");
  const OpInput& a = ctx.input(0);
  const OpInput& b = ctx.input(1);
  if (a.shape.empty() || b.shape.empty()) ctx.fail("inputs must have rank at least 1");
  const bool vectorA = a.shape.size() == 1, vectorB = b.shape.size() == 1;
  const Shape shapeA = vectorA ? Shape{1, a.shape[0]} : a.shape;
  const Shape shapeB = vectorB ? Shape{b.shape[0], 1} : b.shape;
  const int64_t m = shapeA[shapeA.size() - 2], k = shapeA.back();
  const int64_t n = shapeB.back();
  if (shapeB[shapeB.size() - 2] != k)
    ctx.fail("inner dimensions differ: A " + shapeToString(a.shape) + ", B " + shapeToString(b.shape));
  const Shape batchA(shapeA.begin(), shapeA.end() - 2), batchB(shapeB.begin(), shapeB.end() - 2);

  // Broadcast batch dims.
  Shape batch(std::max(batchA.size(), batchB.size()), 1);
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t da = i < batchA.size() ? batchA[batchA.size() - 1 - i] : 1;
    const int64_t db = i < batchB.size() ? batchB[batchB.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      ctx.fail("batch dimensions of A " + shapeToString(a.shape) + " and B " + shapeToString(b.shape) +
               " do not broadcast");
    batch[batch.size() - 1 - i] = da == 1 ? db : da;
  }
  Shape out = batch;
  if (!vectorA) out.push_back(m);
  if (!vectorB) out.push_back(n);
  ctx.outputShapes[0] = out;
  ctx.multiplyAdds = shapeElements(batch) * m * n * k;

  const ActivationParams activation = ctx.fusedActivation();
  const bool bHasBatch = shapeElements(batchB) != 1;
  std::vector<float> bias;
  if (ctx.inputs.size() == 3) {
    const OpInput& c = ctx.input(2);
    if (!b.isStatic() || bHasBatch || vectorB) ctx.fail("a bias (input 2) needs a constant 2-D B");
    if (!c.isStatic() || c.shape != Shape{n})
      ctx.fail("bias (input 2) must be a constant of shape [" + std::to_string(n) + "], got " + shapeToString(c.shape));
    const float* values = ctx.staticFloats(2);
    bias.assign(values, values + n);
  }
  if (b.isStatic() && !bHasBatch) {
    // Every row of every batch entry of A times the same weight matrix.
    const WeightedOpFacts facts{ctx.weightStorage(1), ctx.config.memory, ctx.config.precision, OpGeometry::kLinear};
    const ExecutorKind kind = selectExecutor(facts);
    if (kind != ExecutorKind::kLinearSgemm && kind != ExecutorKind::kLinearSgemmStored)
      ctx.fail("no executor for " + describeFacts(facts) + " (selection gave " + executorName(kind) + ")");
    return std::make_unique<MatMulWeightsExecutor>(kind, shapeElements(batch) * m, n, k, ctx, activation,
                                                   std::move(bias));
  }
  if (ctx.weightStorage(1) != Storage::kFloat32)
    ctx.fail("B " + shapeToString(b.shape) + " is stored as " + storageName(ctx.weightStorage(1)) +
             "; compressed MatMul weights must be a 2-D matrix");
  return std::make_unique<MatMulBatchedExecutor>(m, n, k, batchOffsets(batchA, batch, m * k),
                                                 batchOffsets(batchB, batch, k * n), activation, ctx.config.threads);
}

}  // namespace

PETREL_REGISTER_OP("MatMul", planMatMul);

}  // namespace petrel
