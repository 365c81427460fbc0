// Unary elementwise operators on float32: the activations (Relu, Clip,
// Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu) run through the vectorised
// applyActivation of kernels/activation.h, so a standalone Relu and a Relu
// fused into a Conv compute the same thing; the others (Sqrt, Erf, Exp, Neg,
// tanh-approximated Gelu) are plain maps. Identity aliases its input.
// Neg, Relu and Clip also accept int64 values known at planning; Not takes
// only those (Petrel's bool is int64 0/1).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "kernels/activation.h"
#include "kernels/cpu.h"
#include "ops/broadcast.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {

namespace {

// Activations are applied in place on blocks this size right after the copy,
// while the block is still in L1.
constexpr int64_t kBlock = 1024;

template <float (*f)(float)>
void mapRow(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

float sqrtScalar(float x) { return std::sqrt(x); }
float erfScalar(float x) { return std::erf(x); }
float expScalar(float x) { return std::exp(x); }
float negScalar(float x) { return -x; }
// Gelu with approximate="tanh".
float geluTanhScalar(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286536f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// The plain maps, by the name used in kernel names.
struct NamedMap {
  const char* name;
  MapRow row;
};
constexpr NamedMap kMaps[] = {
    {"sqrt", mapRow<sqrtScalar>}, {"erf", mapRow<erfScalar>},           {"exp", mapRow<expScalar>},
    {"neg", mapRow<negScalar>},   {"gelu_tanh", mapRow<geluTanhScalar>},
};

}  // namespace

// The map kernel `name` for `isa` (its AVX2 twin when there is one), nullptr
// for an unknown name. Also used by the tests.
MapRow unaryMapKernel(const char* name, Isa isa) {
  if (isa == Isa::kAvx2)
    if (MapRow avx2 = unaryMapAvx2(name)) return avx2;
  for (const NamedMap& m : kMaps)
    if (!std::strcmp(m.name, name)) return m.row;
  return nullptr;
}

namespace {

// Either an activation (applied in place after a copy) or a map.
class UnaryExecutor final : public Executor {
 public:
  UnaryExecutor(std::string name, int64_t elements, ActivationParams activation, MapRow map)
      : name_(std::move(name)), elements_(elements), activation_(activation), map_(map) {}

  std::string kernelName() const override { return name_; }
  std::vector<size_t> inputsReadElementwise() const override { return {0}; }

  void run(const RunArgs& args) override {
    const float* in = args.inputs[0];
    float* out = args.outputs[0];
    parallelOverRange(args.pool, elements_, elements_, [&](int64_t first, int64_t last) {
      if (map_) {
        map_(in + first, out + first, last - first);
        return;
      }
      for (int64_t i = first; i < last; i += kBlock) {
        const int64_t len = std::min(kBlock, last - i);
        if (in != out) std::memcpy(out + i, in + i, len * sizeof(float));
        applyActivation(activation_, out + i, len);
      }
    });
  }

 private:
  std::string name_;
  int64_t elements_;
  ActivationParams activation_;
  MapRow map_;
};

// Checks the data input and sets the output shape; returns the input.
const OpInput& unaryInput(PlanContext& ctx) {
  if (ctx.inputs.empty()) ctx.fail("expects an input");
  const OpInput& in = ctx.input(0);
  ctx.outputShapes[0] = in.shape;
  return in;
}

std::string kernelName(const char* op) { return std::string("unary.") + op + ".f32"; }

// int64 values are shape arithmetic: computed now, with fn.
template <typename Fn>
std::unique_ptr<Executor> evaluateInt(PlanContext& ctx, Fn fn) {
  const StaticTensor& in = ctx.staticInput(0);
  std::vector<int64_t> values(in.elements());
  for (int64_t i = 0; i < in.elements(); ++i) values[i] = fn(in.intAt(i));
  ctx.staticOutputs[0] = StaticTensor::ofInts(in.shape, std::move(values));
  return nullptr;
}

void rejectInt(const PlanContext& ctx, const OpInput& in) {
  if (in.dtype != DType::kFloat32) ctx.fail(std::string("does not support ") + dtypeName(in.dtype) + " input");
}

std::unique_ptr<Executor> activationExecutor(PlanContext& ctx, const char* op, ActivationParams params) {
  const OpInput& in = unaryInput(ctx);
  rejectInt(ctx, in);
  return std::make_unique<UnaryExecutor>(kernelName(op), shapeElements(in.shape), params, nullptr);
}

std::unique_ptr<Executor> mapExecutor(PlanContext& ctx, const char* op) {
  const OpInput& in = unaryInput(ctx);
  rejectInt(ctx, in);
  const Isa isa = bestIsa();
  MapRow map = unaryMapKernel(op, isa);
  std::string name = kernelName(op);
  if (map != unaryMapKernel(op, Isa::kScalar)) name += std::string(".") + isaName(isa);
  return std::make_unique<UnaryExecutor>(name, shapeElements(in.shape), ActivationParams{}, map);
}

// ---------------------------------------------------------------------------

std::unique_ptr<Executor> planIdentity(PlanContext& ctx) {
  unaryInput(ctx);
  ctx.aliasInput = 0;
  return nullptr;
}

std::unique_ptr<Executor> planRelu(PlanContext& ctx) {
  if (unaryInput(ctx).dtype == DType::kInt64) return evaluateInt(ctx, [](int64_t x) { return std::max<int64_t>(x, 0); });
  return activationExecutor(ctx, "relu", {Activation::kRelu});
}

// Bound `index` of Clip: the optional input (opset 11+) or the attribute
// (opset 6). Inputs must be scalars known at planning.
std::optional<double> clipBound(const PlanContext& ctx, size_t index, const char* attribute) {
  if (ctx.hasInput(index)) {
    const StaticTensor& bound = ctx.staticInput(index);
    if (bound.elements() != 1)
      ctx.fail(std::string("input '") + attribute + "' must be a scalar, got shape " + shapeToString(bound.shape));
    return bound.dtype == DType::kInt64 ? static_cast<double>(bound.i64[0]) : static_cast<double>(bound.f32[0]);
  }
  if (ctx.node.has(attribute)) return ctx.node.getFloat(attribute, 0.0f);
  return std::nullopt;
}

std::unique_ptr<Executor> planClip(PlanContext& ctx) {
  const OpInput& in = unaryInput(ctx);
  const std::optional<double> lo = clipBound(ctx, 1, "min");
  const std::optional<double> hi = clipBound(ctx, 2, "max");
  if (in.dtype == DType::kInt64) {
    const int64_t ilo = lo ? static_cast<int64_t>(*lo) : std::numeric_limits<int64_t>::min();
    const int64_t ihi = hi ? static_cast<int64_t>(*hi) : std::numeric_limits<int64_t>::max();
    return evaluateInt(ctx, [=](int64_t x) { return std::min(std::max(x, ilo), ihi); });
  }
  ActivationParams params{Activation::kClip, -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::infinity()};
  if (lo) params.alpha = static_cast<float>(*lo);
  if (hi) params.beta = static_cast<float>(*hi);
  return activationExecutor(ctx, "clip", params);
}

std::unique_ptr<Executor> planSigmoid(PlanContext& ctx) {
  return activationExecutor(ctx, "sigmoid", {Activation::kSigmoid});
}

std::unique_ptr<Executor> planHardSigmoid(PlanContext& ctx) {
  const float alpha = ctx.node.getFloat("alpha", 0.2f);
  const float beta = ctx.node.getFloat("beta", 0.5f);
  return activationExecutor(ctx, "hard_sigmoid", {Activation::kHardSigmoid, alpha, beta});
}

std::unique_ptr<Executor> planHardSwish(PlanContext& ctx) {
  return activationExecutor(ctx, "hard_swish", {Activation::kHardSwish});
}

std::unique_ptr<Executor> planTanh(PlanContext& ctx) { return activationExecutor(ctx, "tanh", {Activation::kTanh}); }

std::unique_ptr<Executor> planGelu(PlanContext& ctx) {
  const std::string approximate = ctx.node.getString("approximate", "none");
  if (approximate == "none") return activationExecutor(ctx, "gelu", {Activation::kGelu});
  if (approximate == "tanh") return mapExecutor(ctx, "gelu_tanh");
  ctx.fail("attribute 'approximate' must be \"none\" or \"tanh\", got \"" + approximate + "\"");
}

std::unique_ptr<Executor> planSqrt(PlanContext& ctx) { return mapExecutor(ctx, "sqrt"); }
std::unique_ptr<Executor> planErf(PlanContext& ctx) { return mapExecutor(ctx, "erf"); }
std::unique_ptr<Executor> planExp(PlanContext& ctx) { return mapExecutor(ctx, "exp"); }

std::unique_ptr<Executor> planNeg(PlanContext& ctx) {
  if (unaryInput(ctx).dtype == DType::kInt64) return evaluateInt(ctx, [](int64_t x) { return -x; });
  return mapExecutor(ctx, "neg");
}

// Not works on Petrel's bool (int64 0/1), which only shape arithmetic and
// masks known at planning produce.
std::unique_ptr<Executor> planNot(PlanContext& ctx) {
  if (unaryInput(ctx).dtype != DType::kInt64) ctx.fail("expects a boolean (int64 0/1) input known at planning");
  return evaluateInt(ctx, [](int64_t x) { return static_cast<int64_t>(x == 0); });
}

}  // namespace

PETREL_REGISTER_OP("Not", planNot);
PETREL_REGISTER_OP("Identity", planIdentity);
PETREL_REGISTER_OP("Relu", planRelu);
PETREL_REGISTER_OP("Clip", planClip);
PETREL_REGISTER_OP("Sigmoid", planSigmoid);
PETREL_REGISTER_OP("HardSigmoid", planHardSigmoid);
PETREL_REGISTER_OP("HardSwish", planHardSwish);
PETREL_REGISTER_OP("Tanh", planTanh);
PETREL_REGISTER_OP("Gelu", planGelu);
PETREL_REGISTER_OP("Sqrt", planSqrt);
PETREL_REGISTER_OP("Erf", planErf);
PETREL_REGISTER_OP("Exp", planExp);
PETREL_REGISTER_OP("Neg", planNeg);

}  // namespace petrel
