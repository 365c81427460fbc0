// Binary elementwise operators with numpy broadcasting: Add, Sub, Mul, Div,
// Pow on float32 at run time (Add may carry a fused activation), and the same
// on int64 shape values at planning. Equal, Mod and Where appear only in
// exported shape arithmetic and are evaluated at planning.
//
// Every broadcast is reduced by BroadcastPlan to rows whose operands are each
// either contiguous or one repeated value, so a single row kernel per
// (op, operand kinds) serves all the common cases:
//   same shapes                 -> one flat row, vector-vector
//   one scalar operand          -> one flat row, vector-scalar
//   [N,C,H,W] + [1,C,1,1]       -> N*C rows of H*W, vector-scalar
//   [N,T,D] + [D] (ViT biases)  -> N*T rows of D, vector-vector
//   [N,C,1,1] * [N,C,H,W] (SE)  -> N*C rows of H*W, scalar-vector
#include <array>
#include <cmath>
#include <memory>
#include <string>

#include "kernels/activation.h"
#include "kernels/cpu.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

// Fused activations run on blocks this size right after they are written,
// while the block is still in L1.
constexpr int64_t kActivationBlock = 1024;

// Values are the operator symbols, as used by binaryRowKernel().
enum class BinaryOp : char { kAdd = '+', kSub = '-', kMul = '*', kDiv = '/', kPow = '^' };

const char* binaryName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
    case BinaryOp::kPow: return "pow";
  }
  return "?";
}

template <BinaryOp op>
inline float binaryScalar(float a, float b) {
  if constexpr (op == BinaryOp::kAdd) return a + b;
  if constexpr (op == BinaryOp::kSub) return a - b;
  if constexpr (op == BinaryOp::kMul) return a * b;
  if constexpr (op == BinaryOp::kDiv) return a / b;
  if constexpr (op == BinaryOp::kPow) return std::pow(a, b);
}

template <BinaryOp op>
void rowVectorVector(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = binaryScalar<op>(a[i], b[i]);
}

template <BinaryOp op>
void rowVectorScalar(const float* a, const float* b, float* out, int64_t n) {
  const float s = *b;  // read once: `out` may alias the inputs
  if constexpr (op == BinaryOp::kPow) {
    // Exported graphs use x^2 (variance, LayerNorm decompositions) and x^0.5
    // (sqrt differs from pow only at -0 and -inf).
    if (s == 2.0f) {
      for (int64_t i = 0; i < n; ++i) out[i] = a[i] * a[i];
      return;
    }
    if (s == 0.5f) {
      for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(a[i]);
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) out[i] = binaryScalar<op>(a[i], s);
}

template <BinaryOp op>
void rowScalarVector(const float* a, const float* b, float* out, int64_t n) {
  const float s = *a;
  for (int64_t i = 0; i < n; ++i) out[i] = binaryScalar<op>(s, b[i]);
}

template <BinaryOp op>
void rowScalarScalar(const float* a, const float* b, float* out, int64_t n) {
  const float v = binaryScalar<op>(*a, *b);
  for (int64_t i = 0; i < n; ++i) out[i] = v;
}

template <BinaryOp op>
BinaryRowKernel scalarKernelFor(bool vectorA, bool vectorB) {
  if (vectorA && vectorB) return rowVectorVector<op>;
  if (vectorA) return rowVectorScalar<op>;
  if (vectorB) return rowScalarVector<op>;
  return rowScalarScalar<op>;
}

BinaryRowKernel scalarRowKernel(BinaryOp op, bool vectorA, bool vectorB) {
  switch (op) {
    case BinaryOp::kAdd: return scalarKernelFor<BinaryOp::kAdd>(vectorA, vectorB);
    case BinaryOp::kSub: return scalarKernelFor<BinaryOp::kSub>(vectorA, vectorB);
    case BinaryOp::kMul: return scalarKernelFor<BinaryOp::kMul>(vectorA, vectorB);
    case BinaryOp::kDiv: return scalarKernelFor<BinaryOp::kDiv>(vectorA, vectorB);
    case BinaryOp::kPow: return scalarKernelFor<BinaryOp::kPow>(vectorA, vectorB);
  }
  return nullptr;
}

const char* operandKinds(bool vectorA, bool vectorB) {
  if (vectorA && vectorB) return "vv";
  if (vectorA) return "vs";
  if (vectorB) return "sv";
  return "ss";
}

}  // namespace

// The row kernel for `op` ('+', '-', '*', '/', '^') on the given operand kinds;
// the AVX2 twin when `isa` allows and one exists. Also used by the tests.
BinaryRowKernel binaryRowKernel(char op, bool vectorA, bool vectorB, Isa isa) {
  if (isa == Isa::kAvx2)
    if (BinaryRowKernel avx2 = binaryRowKernelAvx2(op, vectorA, vectorB)) return avx2;
  return scalarRowKernel(static_cast<BinaryOp>(op), vectorA, vectorB);
}

namespace {

class BinaryExecutor final : public Executor {
 public:
  // `captured[i]` replaces run-time input i when non-empty (an int64 Pow
  // exponent, converted to float at planning).
  BinaryExecutor(BinaryOp op, BroadcastPlan plan, ActivationParams activation,
                 std::array<std::vector<float>, 2> captured)
      : plan_(std::move(plan)), activation_(activation) {
    strideA_ = plan_.innerStride(0);
    strideB_ = plan_.innerStride(1);
    const Isa isa = bestIsa();
    kernel_ = binaryRowKernel(static_cast<char>(op), strideA_ != 0, strideB_ != 0, isa);
    captured_ = std::move(captured);
    name_ = std::string("elementwise.") + binaryName(op);
    if (activation_.kind != Activation::kNone) name_ += std::string("_") + activationName(activation_.kind);
    name_ += std::string(".f32.") + operandKinds(strideA_ != 0, strideB_ != 0);
    if (kernel_ != scalarRowKernel(op, strideA_ != 0, strideB_ != 0)) name_ += std::string(".") + isaName(isa);
  }

  std::string kernelName() const override { return name_; }
  std::vector<size_t> inputsReadElementwise() const override { return {0, 1}; }

  void run(const RunArgs& args) override {
    const float* a = captured_[0].empty() ? args.inputs[0] : captured_[0].data();
    const float* b = captured_[1].empty() ? args.inputs[1] : captured_[1].data();
    float* out = args.outputs[0];
    const int64_t total = plan_.elements();
    parallelOverRange(args.pool, total, total, [&](int64_t first, int64_t last) { compute(a, b, out, first, last); });
  }

 private:
  // Output elements [first, last).
  void compute(const float* a, const float* b, float* out, int64_t first, int64_t last) const {
    const int64_t inner = plan_.inner();
    forEachRowPiece(plan_, first, last, [&](int64_t row, int64_t begin, int64_t end) {
      const float* ra = a + plan_.rowOffset(0, row) + begin * strideA_;
      const float* rb = b + plan_.rowOffset(1, row) + begin * strideB_;
      float* ro = out + row * inner + begin;
      const int64_t n = end - begin;
      if (activation_.kind == Activation::kNone) {
        kernel_(ra, rb, ro, n);
        return;
      }
      for (int64_t i = 0; i < n; i += kActivationBlock) {
        const int64_t len = std::min(kActivationBlock, n - i);
        kernel_(ra + i * strideA_, rb + i * strideB_, ro + i, len);
        applyActivation(activation_, ro + i, len);
      }
    });
  }

  BroadcastPlan plan_;
  ActivationParams activation_;
  int64_t strideA_ = 0, strideB_ = 0;
  BinaryRowKernel kernel_ = nullptr;
  std::array<std::vector<float>, 2> captured_;
  std::string name_;
};

// ---------------------------------------------------------------------------
// Planning-time evaluation (int64 shape arithmetic, Equal, Where).

int64_t binaryInt(const PlanContext& ctx, BinaryOp op, int64_t a, int64_t b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv:
      if (b == 0) ctx.fail("int64 division by zero");
      return a / b;  // truncates toward zero, as ONNX integer Div
    case BinaryOp::kPow: {
      if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;  // |a| > 1: truncates to 0
      int64_t result = 1;
      for (int64_t i = 0; i < b; ++i) result *= a;
      return result;
    }
  }
  return 0;
}

// Result shape of broadcasting all present inputs, or an Error naming them.
Shape broadcastInputs(const PlanContext& ctx) {
  std::vector<Shape> shapes;
  std::string list;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    shapes.push_back(ctx.input(i).shape);
    list += (i ? " and " : "") + shapeToString(shapes.back());
  }
  std::optional<Shape> out = broadcastShapes(shapes);
  if (!out) ctx.fail("cannot broadcast input shapes " + list);
  return *out;
}

void requireInputCount(const PlanContext& ctx, size_t count) {
  if (ctx.inputs.size() != count)
    ctx.fail("expects " + std::to_string(count) + " inputs, got " + std::to_string(ctx.inputs.size()));
  for (size_t i = 0; i < count; ++i) ctx.input(i);  // Error if absent
}

std::unique_ptr<Executor> planBinary(PlanContext& ctx, BinaryOp op) {
  requireInputCount(ctx, 2);
  const Shape outShape = broadcastInputs(ctx);
  ctx.outputShapes[0] = outShape;
  const OpInput& a = ctx.input(0);
  const OpInput& b = ctx.input(1);
  const bool intA = a.dtype == DType::kInt64;
  const bool intB = b.dtype == DType::kInt64;
  const ActivationParams activation = ctx.fusedActivation();
  const BroadcastPlan plan = makeBroadcastPlan({a.shape, b.shape}, outShape);

  // int64 results (the base's type decides for Pow) are shape arithmetic.
  if (intA && (intB || op == BinaryOp::kPow)) {
    if (activation.kind != Activation::kNone) ctx.fail("a fused activation needs float32 inputs, not int64");
    const StaticTensor& va = ctx.staticInput(0);
    const StaticTensor& vb = ctx.staticInput(1);
    std::vector<int64_t> values(shapeElements(outShape));
    forEachBroadcastElement(plan, [&](int64_t o, const int64_t* offsets) {
      values[o] = binaryInt(ctx, op, va.intAt(offsets[0]), vb.intAt(offsets[1]));
    });
    ctx.staticOutputs[0] = StaticTensor::ofInts(outShape, std::move(values));
    return nullptr;
  }
  std::array<std::vector<float>, 2> captured;
  if (intB && op == BinaryOp::kPow) {  // Pow(float, int64 exponent): the exponent is static
    const StaticTensor& exponent = ctx.staticInput(1);
    for (int64_t i = 0; i < exponent.elements(); ++i) captured[1].push_back(exponent.floatAt(i));
  } else if (intA || intB) {
    ctx.fail(std::string("mixes input types ") + dtypeName(a.dtype) + " and " + dtypeName(b.dtype));
  }
  return std::make_unique<BinaryExecutor>(op, plan, activation, std::move(captured));
}

std::unique_ptr<Executor> planAdd(PlanContext& ctx) { return planBinary(ctx, BinaryOp::kAdd); }
std::unique_ptr<Executor> planSub(PlanContext& ctx) { return planBinary(ctx, BinaryOp::kSub); }
std::unique_ptr<Executor> planMul(PlanContext& ctx) { return planBinary(ctx, BinaryOp::kMul); }
std::unique_ptr<Executor> planDiv(PlanContext& ctx) { return planBinary(ctx, BinaryOp::kDiv); }
std::unique_ptr<Executor> planPow(PlanContext& ctx) { return planBinary(ctx, BinaryOp::kPow); }

// The planning prologue of the ops evaluated only at planning (Equal, Mod,
// Where): their input values, broadcast together.
struct StaticOperands {
  std::vector<const StaticTensor*> values;
  Shape shape;
  BroadcastPlan plan;
};

StaticOperands staticOperands(PlanContext& ctx, size_t count) {
  requireInputCount(ctx, count);
  StaticOperands operands;
  operands.shape = broadcastInputs(ctx);
  ctx.outputShapes[0] = operands.shape;
  if (!ctx.allInputsStatic()) ctx.fail("is only supported on values known at planning (shape arithmetic)");
  std::vector<Shape> shapes;
  for (size_t i = 0; i < count; ++i) {
    operands.values.push_back(&ctx.staticInput(i));
    shapes.push_back(operands.values.back()->shape);
  }
  operands.plan = makeBroadcastPlan(shapes, operands.shape);
  return operands;
}

// Equal: ONNX returns bool; Petrel has no bool type and uses int64 0/1.
std::unique_ptr<Executor> planEqual(PlanContext& ctx) {
  const StaticOperands in = staticOperands(ctx, 2);
  const StaticTensor& a = *in.values[0];
  const StaticTensor& b = *in.values[1];
  const bool ints = a.dtype == DType::kInt64 && b.dtype == DType::kInt64;
  std::vector<int64_t> values(shapeElements(in.shape));
  forEachBroadcastElement(in.plan, [&](int64_t o, const int64_t* offsets) {
    values[o] = ints ? a.intAt(offsets[0]) == b.intAt(offsets[1]) : a.floatAt(offsets[0]) == b.floatAt(offsets[1]);
  });
  ctx.staticOutputs[0] = StaticTensor::ofInts(in.shape, std::move(values));
  return nullptr;
}

// Mod appears in exported shape arithmetic (Swin's window padding). fmod = 0:
// the result takes the divisor's sign, as Python's %; fmod = 1: the dividend's,
// as C's fmod (required by ONNX for floats).
std::unique_ptr<Executor> planMod(PlanContext& ctx) {
  const StaticOperands in = staticOperands(ctx, 2);
  const StaticTensor& a = *in.values[0];
  const StaticTensor& b = *in.values[1];
  const Shape& outShape = in.shape;
  const BroadcastPlan& plan = in.plan;
  const bool cStyle = ctx.node.getInt("fmod", 0) != 0;
  if (a.dtype == DType::kInt64 && b.dtype == DType::kInt64) {
    std::vector<int64_t> values(shapeElements(outShape));
    forEachBroadcastElement(plan, [&](int64_t o, const int64_t* off) {
      const int64_t x = a.i64[off[0]], y = b.i64[off[1]];
      if (y == 0) ctx.fail("int64 modulo by zero");
      int64_t r = x % y;  // C++: the dividend's sign
      if (!cStyle && r != 0 && ((r < 0) != (y < 0))) r += y;
      values[o] = r;
    });
    ctx.staticOutputs[0] = StaticTensor::ofInts(outShape, std::move(values));
    return nullptr;
  }
  if (a.dtype != b.dtype) ctx.fail(std::string("mixes input types ") + dtypeName(a.dtype) + " and " + dtypeName(b.dtype));
  if (!cStyle) ctx.fail("float inputs need attribute fmod = 1 (ONNX)");
  std::vector<float> values(shapeElements(outShape));
  forEachBroadcastElement(plan, [&](int64_t o, const int64_t* off) { values[o] = std::fmod(a.f32[off[0]], b.f32[off[1]]); });
  ctx.staticOutputs[0] = StaticTensor::ofFloats(outShape, std::move(values));
  return nullptr;
}

// Where(condition, X, Y): condition is int64 0/1 (Petrel's bool) or float.
std::unique_ptr<Executor> planWhere(PlanContext& ctx) {
  const StaticOperands in = staticOperands(ctx, 3);
  const StaticTensor& cond = *in.values[0];
  const StaticTensor& x = *in.values[1];
  const StaticTensor& y = *in.values[2];
  const Shape& outShape = in.shape;
  const BroadcastPlan& plan = in.plan;
  if (x.dtype != y.dtype)
    ctx.fail(std::string("mixes value types ") + dtypeName(x.dtype) + " and " + dtypeName(y.dtype));
  const int64_t n = shapeElements(outShape);
  if (x.dtype == DType::kInt64) {
    std::vector<int64_t> values(n);
    forEachBroadcastElement(plan, [&](int64_t o, const int64_t* off) {
      values[o] = cond.floatAt(off[0]) != 0.0f ? x.i64[off[1]] : y.i64[off[2]];
    });
    ctx.staticOutputs[0] = StaticTensor::ofInts(outShape, std::move(values));
  } else {
    std::vector<float> values(n);
    forEachBroadcastElement(plan, [&](int64_t o, const int64_t* off) {
      values[o] = cond.floatAt(off[0]) != 0.0f ? x.f32[off[1]] : y.f32[off[2]];
    });
    ctx.staticOutputs[0] = StaticTensor::ofFloats(outShape, std::move(values));
  }
  return nullptr;
}

}  // namespace

PETREL_REGISTER_OP("Add", planAdd);
PETREL_REGISTER_OP("Sub", planSub);
PETREL_REGISTER_OP("Mul", planMul);
PETREL_REGISTER_OP("Div", planDiv);
PETREL_REGISTER_OP("Pow", planPow);
PETREL_REGISTER_OP("Equal", planEqual);
PETREL_REGISTER_OP("Mod", planMod);
PETREL_REGISTER_OP("Where", planWhere);

}  // namespace petrel
