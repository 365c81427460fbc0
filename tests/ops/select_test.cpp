// Executor selection (ops/select.h) over the whole matrix of facts.
#include <gtest/gtest.h>

#include "ops/select.h"

namespace petrel {
namespace {

const Storage kWeightStorages[] = {Storage::kFloat32, Storage::kFloat16, Storage::kInt8, Storage::kInt4};
const MemoryMode kMemoryModes[] = {MemoryMode::kNormal, MemoryMode::kHigh, MemoryMode::kLow};
const PrecisionMode kPrecisionModes[] = {PrecisionMode::kNormal, PrecisionMode::kHigh, PrecisionMode::kLow};

std::vector<ExecutorKind> everyExecutor() {
  std::vector<ExecutorKind> kinds;
  for (int k = 1; k < kExecutorKindCount; ++k) kinds.push_back(static_cast<ExecutorKind>(k));
  return kinds;
}

// The promise of the selection table: every weight storage in every mode and
// geometry gets an executor that can read its weights, and memory mode low
// always gets one that keeps them in their stored form.
TEST(Select, EveryCombinationGetsAnExecutorThatServesIt) {
  int combinations = 0;
  for (Storage storage : kWeightStorages)
    for (MemoryMode memory : kMemoryModes)
      for (PrecisionMode precision : kPrecisionModes)
        for (int geometry = 0; geometry < kOpGeometryCount; ++geometry) {
          const WeightedOpFacts facts{storage, memory, precision, static_cast<OpGeometry>(geometry)};
          const ExecutorKind kind = selectExecutor(facts);
          ++combinations;
          ASSERT_NE(kind, ExecutorKind::kUnsupported) << describeFacts(facts);
          EXPECT_TRUE(executorServes(kind, facts)) << executorName(kind) << " chosen for " << describeFacts(facts);
          if (memory == MemoryMode::kLow) {
            EXPECT_TRUE(executorKeepsWeightsStored(kind, storage))
                << executorName(kind) << " would expand the weights for " << describeFacts(facts);
          }
        }
  EXPECT_EQ(combinations, 4 * 3 * 3 * kOpGeometryCount);
}

// Not a weight storage: nothing serves it, so planning fails with a message.
TEST(Select, Int64WeightsAreUnsupportedAndNothingServesThem) {
  for (int geometry = 0; geometry < kOpGeometryCount; ++geometry) {
    const WeightedOpFacts facts{Storage::kInt64, MemoryMode::kNormal, PrecisionMode::kNormal,
                                static_cast<OpGeometry>(geometry)};
    EXPECT_EQ(selectExecutor(facts), ExecutorKind::kUnsupported);
    for (ExecutorKind e : everyExecutor()) EXPECT_FALSE(executorServes(e, facts)) << executorName(e);
  }
}

// The capability table is not the selection table restated: an executor
// refuses geometries it cannot compute.
TEST(Select, ExecutorsRefuseGeometriesTheyCannotCompute) {
  const WeightedOpFacts transposed{Storage::kFloat16, MemoryMode::kLow, PrecisionMode::kNormal,
                                   OpGeometry::kTransposed};
  EXPECT_FALSE(executorServes(ExecutorKind::kPointwiseSgemmStored, transposed));
  EXPECT_FALSE(executorServes(ExecutorKind::kDepthwise, transposed));
  const WeightedOpFacts grouped{Storage::kInt8, MemoryMode::kNormal, PrecisionMode::kNormal, OpGeometry::kGrouped};
  EXPECT_FALSE(executorServes(ExecutorKind::kIm2colSgemm, grouped));
  EXPECT_TRUE(executorServes(ExecutorKind::kGroupedIm2colSgemm, grouped));
}

TEST(Select, TheTable) {
  for (PrecisionMode precision : kPrecisionModes)
    for (Storage s : kWeightStorages) {
      auto pick = [&](MemoryMode m, OpGeometry g) { return selectExecutor({s, m, precision, g}); };
      for (MemoryMode m : {MemoryMode::kNormal, MemoryMode::kHigh}) {
        EXPECT_EQ(pick(m, OpGeometry::kPointwise), ExecutorKind::kPointwiseSgemm);
        EXPECT_EQ(pick(m, OpGeometry::kGeneral), ExecutorKind::kIm2colSgemm);
        EXPECT_EQ(pick(m, OpGeometry::kDepthwise), ExecutorKind::kDepthwise);
        EXPECT_EQ(pick(m, OpGeometry::kGrouped), ExecutorKind::kGroupedIm2colSgemm);
        EXPECT_EQ(pick(m, OpGeometry::kTransposed), ExecutorKind::kTransposedSgemm);
        EXPECT_EQ(pick(m, OpGeometry::kLinear), ExecutorKind::kLinearSgemm);
      }
      // Winograd: memory high (its weights are 4x), never at precision high.
      EXPECT_EQ(pick(MemoryMode::kNormal, OpGeometry::kWinograd), ExecutorKind::kIm2colSgemm);
      EXPECT_EQ(pick(MemoryMode::kHigh, OpGeometry::kWinograd),
                precision == PrecisionMode::kHigh ? ExecutorKind::kIm2colSgemm : ExecutorKind::kWinograd);
      EXPECT_EQ(pick(MemoryMode::kLow, OpGeometry::kWinograd), ExecutorKind::kIm2colSgemmStored);
      const MemoryMode low = MemoryMode::kLow;
      EXPECT_EQ(pick(low, OpGeometry::kPointwise), ExecutorKind::kPointwiseSgemmStored);
      EXPECT_EQ(pick(low, OpGeometry::kGeneral), ExecutorKind::kIm2colSgemmStored);
      EXPECT_EQ(pick(low, OpGeometry::kDepthwise),
                s == Storage::kFloat32 ? ExecutorKind::kDepthwise : ExecutorKind::kDepthwiseStored);
      EXPECT_EQ(pick(low, OpGeometry::kGrouped), ExecutorKind::kGroupedIm2colSgemmStored);
      EXPECT_EQ(pick(low, OpGeometry::kTransposed), ExecutorKind::kTransposedSgemmStored);
      EXPECT_EQ(pick(low, OpGeometry::kLinear), ExecutorKind::kLinearSgemmStored);
    }
}

TEST(Select, GeometryClassification) {
  EXPECT_EQ(classifyConv(1, 8, 16, true, true, true, false), OpGeometry::kPointwise);
  EXPECT_EQ(classifyConv(1, 8, 16, true, false, true, false), OpGeometry::kGeneral);
  EXPECT_EQ(classifyConv(1, 8, 16, true, true, false, false), OpGeometry::kGeneral);
  EXPECT_EQ(classifyConv(1, 8, 16, false, true, true, false), OpGeometry::kGeneral);
  EXPECT_EQ(classifyConv(8, 8, 8, false, true, false, false), OpGeometry::kDepthwise);
  EXPECT_EQ(classifyConv(8, 8, 16, false, true, false, false), OpGeometry::kGrouped);
  EXPECT_EQ(classifyConv(2, 8, 16, true, true, true, false), OpGeometry::kGrouped);
  EXPECT_EQ(classifyConv(1, 64, 64, false, true, false, true), OpGeometry::kWinograd);
  EXPECT_EQ(classifyConv(2, 64, 64, false, true, false, true), OpGeometry::kGrouped);
}

TEST(Select, KernelNamesCarryTheStorage) {
  EXPECT_EQ(executorKernelName(ExecutorKind::kPointwiseSgemmStored, Storage::kFloat16),
            "conv.pointwise.sgemm.stored[fp16]");
  EXPECT_EQ(executorKernelName(ExecutorKind::kLinearSgemm, Storage::kInt4), "linear.sgemm[int4]");
  for (ExecutorKind e : everyExecutor()) EXPECT_STRNE(executorName(e), "?");
}

}  // namespace
}  // namespace petrel
