#include "ops/select.h"

#include <optional>

namespace petrel {

namespace {

// A set of weight storages, as bits.
using StorageSet = uint8_t;
constexpr StorageSet bit(Storage s) { return static_cast<StorageSet>(1u << static_cast<unsigned>(s)); }
constexpr StorageSet kFp32 = bit(Storage::kFloat32);
constexpr StorageSet kEveryWeightStorage =
    bit(Storage::kFloat32) | bit(Storage::kFloat16) | bit(Storage::kInt8) | bit(Storage::kInt4);

// One row of the selection table; an empty mode matches every mode.
struct Rule {
  StorageSet storages;
  std::optional<MemoryMode> memory;
  std::optional<PrecisionMode> precision;
  OpGeometry geometry;
  ExecutorKind executor;
};

constexpr std::nullopt_t kAnyMode = std::nullopt;
constexpr StorageSet kAny = kEveryWeightStorage;
constexpr MemoryMode kLow = MemoryMode::kLow;
constexpr MemoryMode kHigh = MemoryMode::kHigh;
constexpr PrecisionMode kNormalP = PrecisionMode::kNormal;
constexpr PrecisionMode kLowP = PrecisionMode::kLow;
using G = OpGeometry;
using E = ExecutorKind;

// First matching row wins.
//  - Memory low: weights stay in their stored form; every GEMM-based
//    executor decodes (or, for fp32, packs) them block by block. fp32
//    depthwise filters are read in place by the direct kernel already.
//  - Memory high, unless precision is high: Winograd where it pays, its
//    transformed weights being 4x the fp32 ones and its rounding a little
//    coarser (about 2e-6 relative per layer against 3e-7).
//  - Otherwise: weights are prepared once at planning (compressed storages
//    decoded to fp32) and packed for the GEMM.
constexpr Rule kRules[] = {
    // weights memory    precision  geometry         executor
    {kAny,  kLow,     kAnyMode,  G::kPointwise,  E::kPointwiseSgemmStored},
    {kAny,  kLow,     kAnyMode,  G::kGeneral,    E::kIm2colSgemmStored},
    {kAny,  kLow,     kAnyMode,  G::kWinograd,   E::kIm2colSgemmStored},
    {kFp32, kLow,     kAnyMode,  G::kDepthwise,  E::kDepthwise},
    {kAny,  kLow,     kAnyMode,  G::kDepthwise,  E::kDepthwiseStored},
    {kAny,  kLow,     kAnyMode,  G::kGrouped,    E::kGroupedIm2colSgemmStored},
    {kAny,  kLow,     kAnyMode,  G::kTransposed, E::kTransposedSgemmStored},
    {kAny,  kLow,     kAnyMode,  G::kLinear,     E::kLinearSgemmStored},
    {kAny,  kHigh,    kNormalP,  G::kWinograd,   E::kWinograd},
    {kAny,  kHigh,    kLowP,     G::kWinograd,   E::kWinograd},
    {kAny,  kAnyMode, kAnyMode,  G::kPointwise,  E::kPointwiseSgemm},
    {kAny,  kAnyMode, kAnyMode,  G::kGeneral,    E::kIm2colSgemm},
    {kAny,  kAnyMode, kAnyMode,  G::kWinograd,   E::kIm2colSgemm},
    {kAny,  kAnyMode, kAnyMode,  G::kDepthwise,  E::kDepthwise},
    {kAny,  kAnyMode, kAnyMode,  G::kGrouped,    E::kGroupedIm2colSgemm},
    {kAny,  kAnyMode, kAnyMode,  G::kTransposed, E::kTransposedSgemm},
    {kAny,  kAnyMode, kAnyMode,  G::kLinear,     E::kLinearSgemm},
};

// What each executor can serve (in every memory and precision mode), and
// whether it keeps weights in their stored form.
struct Capability {
  ExecutorKind executor;
  StorageSet storages;
  OpGeometry geometries[3];
  int geometryCount;
  StorageSet keepsStored;  // storages it reads in place, never expanding them
};
constexpr Capability kCapabilities[] = {
    {E::kPointwiseSgemm, kAny, {G::kPointwise, G::kPointwise}, 1, 0},
    // im2col serves any group-1 convolution, 1x1 included.
    {E::kIm2colSgemm, kAny, {G::kGeneral, G::kPointwise, G::kWinograd}, 3, 0},
    // The direct kernel reads fp32 filters in place; others are decoded once.
    {E::kDepthwise, kAny, {G::kDepthwise, G::kDepthwise}, 1, kFp32},
    // Per-group im2col serves depthwise too (groups of one channel).
    {E::kGroupedIm2colSgemm, kAny, {G::kGrouped, G::kDepthwise}, 2, 0},
    {E::kTransposedSgemm, kAny, {G::kTransposed, G::kTransposed}, 1, 0},
    {E::kLinearSgemm, kAny, {G::kLinear, G::kLinear}, 1, 0},
    {E::kPointwiseSgemmStored, kAny, {G::kPointwise, G::kPointwise}, 1, kAny},
    {E::kIm2colSgemmStored, kAny, {G::kGeneral, G::kPointwise, G::kWinograd}, 3, kAny},
    {E::kDepthwiseStored, kAny, {G::kDepthwise, G::kDepthwise}, 1, kAny},
    {E::kGroupedIm2colSgemmStored, kAny, {G::kGrouped, G::kDepthwise}, 2, kAny},
    {E::kTransposedSgemmStored, kAny, {G::kTransposed, G::kTransposed}, 1, kAny},
    {E::kLinearSgemmStored, kAny, {G::kLinear, G::kLinear}, 1, kAny},
    {E::kWinograd, kAny, {G::kWinograd, G::kWinograd}, 1, 0},
};

const Capability* capabilityOf(ExecutorKind kind) {
  for (const Capability& c : kCapabilities)
    if (c.executor == kind) return &c;
  return nullptr;
}

}  // namespace

ExecutorKind selectExecutor(const WeightedOpFacts& facts) {
  for (const Rule& rule : kRules) {
    if (!(rule.storages & bit(facts.weightStorage)) || rule.geometry != facts.geometry) continue;
    if (rule.memory && *rule.memory != facts.memory) continue;
    if (rule.precision && *rule.precision != facts.precision) continue;
    return rule.executor;
  }
  return ExecutorKind::kUnsupported;
}

bool executorServes(ExecutorKind kind, const WeightedOpFacts& facts) {
  const Capability* c = capabilityOf(kind);
  if (!c || !(c->storages & bit(facts.weightStorage))) return false;
  for (int i = 0; i < c->geometryCount; ++i)
    if (c->geometries[i] == facts.geometry) return true;
  return false;
}

bool executorKeepsWeightsStored(ExecutorKind kind, Storage weightStorage) {
  const Capability* c = capabilityOf(kind);
  return c && (c->keepsStored & bit(weightStorage));
}

const char* executorName(ExecutorKind kind) {
  switch (kind) {
    case E::kUnsupported: return "unsupported";
    case E::kPointwiseSgemm: return "conv.pointwise.sgemm";
    case E::kIm2colSgemm: return "conv.im2col.sgemm";
    case E::kDepthwise: return "conv.depthwise";
    case E::kGroupedIm2colSgemm: return "conv.grouped.im2col.sgemm";
    case E::kTransposedSgemm: return "conv_transpose.sgemm.col2im";
    case E::kLinearSgemm: return "linear.sgemm";
    case E::kPointwiseSgemmStored: return "conv.pointwise.sgemm.stored";
    case E::kIm2colSgemmStored: return "conv.im2col.sgemm.stored";
    case E::kDepthwiseStored: return "conv.depthwise.stored";
    case E::kGroupedIm2colSgemmStored: return "conv.grouped.im2col.sgemm.stored";
    case E::kTransposedSgemmStored: return "conv_transpose.sgemm.col2im.stored";
    case E::kLinearSgemmStored: return "linear.sgemm.stored";
    case E::kWinograd: return "conv.winograd.f4x4";
  }
  return "?";
}

std::string executorKernelName(ExecutorKind kind, Storage weightStorage) {
  return std::string(executorName(kind)) + "[" + storageName(weightStorage) + "]";
}

const char* opGeometryName(OpGeometry geometry) {
  switch (geometry) {
    case G::kPointwise: return "pointwise";
    case G::kGeneral: return "general";
    case G::kWinograd: return "winograd3x3";
    case G::kDepthwise: return "depthwise";
    case G::kGrouped: return "grouped";
    case G::kTransposed: return "transposed";
    case G::kLinear: return "linear";
  }
  return "?";
}

std::string describeFacts(const WeightedOpFacts& facts) {
  return std::string("weights ") + storageName(facts.weightStorage) + ", memory " + toString(facts.memory) +
         ", precision " + toString(facts.precision) + ", geometry " + opGeometryName(facts.geometry);
}

OpGeometry classifyConv(int64_t group, int64_t inChannels, int64_t outChannels, bool unitKernel, bool unitStrides,
                        bool zeroPads, bool winogradPays) {
  if (group > 1 && group == inChannels && group == outChannels) return G::kDepthwise;
  if (group > 1) return G::kGrouped;
  if (unitKernel && unitStrides && zeroPads) return G::kPointwise;
  return winogradPays ? G::kWinograd : G::kGeneral;
}

}  // namespace petrel
