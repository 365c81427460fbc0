#include "ops/conv/select.h"

#include <optional>

namespace petrel {

namespace {

// One row of the selection table; an empty mode matches every mode.
struct Rule {
  Storage storage;
  std::optional<MemoryMode> memory;
  std::optional<PrecisionMode> precision;
  ConvGeometryClass geometry;
  ConvExecutorKind executor;
};

constexpr std::nullopt_t kAnyMode = std::nullopt;
using G = ConvGeometryClass;
using E = ConvExecutorKind;

// First matching row wins. fp32 weights are used as stored in every mode
// (packed once at planning). Compressed storages have no executor yet: they
// fall through to kUnsupportedStorage instead of reaching an fp32 kernel.
constexpr Rule kRules[] = {
    // weights          memory    precision  geometry         executor
    {Storage::kFloat32, kAnyMode, kAnyMode,  G::kPointwise,  E::kPointwiseSgemm},
    {Storage::kFloat32, kAnyMode, kAnyMode,  G::kGeneral,    E::kIm2colSgemm},
    {Storage::kFloat32, kAnyMode, kAnyMode,  G::kDepthwise,  E::kDepthwise},
    {Storage::kFloat32, kAnyMode, kAnyMode,  G::kGrouped,    E::kGroupedIm2colSgemm},
    {Storage::kFloat32, kAnyMode, kAnyMode,  G::kTransposed, E::kTransposedSgemm},
};

// What each executor can serve: weight storage and geometry classes (all
// memory and precision modes for the fp32 executors).
struct Capability {
  ConvExecutorKind executor;
  Storage storage;
  ConvGeometryClass geometries[2];
  int geometryCount;
};
constexpr Capability kCapabilities[] = {
    {E::kPointwiseSgemm, Storage::kFloat32, {G::kPointwise, G::kPointwise}, 1},
    // im2col serves any group-1 convolution, 1x1 included.
    {E::kIm2colSgemm, Storage::kFloat32, {G::kGeneral, G::kPointwise}, 2},
    {E::kDepthwise, Storage::kFloat32, {G::kDepthwise, G::kDepthwise}, 1},
    // Per-group im2col serves depthwise too (groups of one channel).
    {E::kGroupedIm2colSgemm, Storage::kFloat32, {G::kGrouped, G::kDepthwise}, 2},
    {E::kTransposedSgemm, Storage::kFloat32, {G::kTransposed, G::kTransposed}, 1},
};

}  // namespace

ConvExecutorKind selectConvExecutor(const ConvFacts& facts) {
  for (const Rule& rule : kRules) {
    if (rule.storage != facts.weightStorage || rule.geometry != facts.geometry) continue;
    if (rule.memory && *rule.memory != facts.memory) continue;
    if (rule.precision && *rule.precision != facts.precision) continue;
    return rule.executor;
  }
  return ConvExecutorKind::kUnsupportedStorage;
}

bool convExecutorServes(ConvExecutorKind kind, const ConvFacts& facts) {
  for (const Capability& c : kCapabilities) {
    if (c.executor != kind || c.storage != facts.weightStorage) continue;
    for (int i = 0; i < c.geometryCount; ++i)
      if (c.geometries[i] == facts.geometry) return true;
  }
  return false;
}

const char* convExecutorName(ConvExecutorKind kind) {
  switch (kind) {
    case E::kUnsupportedStorage: return "unsupported-storage";
    case E::kPointwiseSgemm: return "conv.pointwise.sgemm";
    case E::kIm2colSgemm: return "conv.im2col.sgemm";
    case E::kDepthwise: return "conv.depthwise";
    case E::kGroupedIm2colSgemm: return "conv.grouped.im2col.sgemm";
    case E::kTransposedSgemm: return "conv_transpose.sgemm.col2im";
  }
  return "?";
}

const char* convGeometryName(ConvGeometryClass geometry) {
  switch (geometry) {
    case G::kPointwise: return "pointwise";
    case G::kGeneral: return "general";
    case G::kDepthwise: return "depthwise";
    case G::kGrouped: return "grouped";
    case G::kTransposed: return "transposed";
  }
  return "?";
}

std::string describeConvFacts(const ConvFacts& facts) {
  return std::string("weights ") + storageName(facts.weightStorage) + ", memory " + toString(facts.memory) +
         ", precision " + toString(facts.precision) + ", geometry " + convGeometryName(facts.geometry);
}

ConvGeometryClass classifyConv(int64_t group, int64_t inChannels, int64_t outChannels, bool unitKernel,
                               bool unitStrides, bool zeroPads) {
  if (group > 1 && group == inChannels && group == outChannels) return G::kDepthwise;
  if (group > 1) return G::kGrouped;
  if (unitKernel && unitStrides && zeroPads) return G::kPointwise;
  return G::kGeneral;
}

}  // namespace petrel
