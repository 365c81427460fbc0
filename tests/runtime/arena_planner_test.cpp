#include "memory/arena_planner.h"

#include <gtest/gtest.h>

#include <random>

#include "petrel/error.h"

namespace petrel {
namespace {

TEST(ArenaPlanner, ReusesMemoryOfDeadBuffers) {
  // A chain a -> b -> c: a and c never live together, so they share bytes.
  std::vector<BufferRequest> requests = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}};
  ArenaPlanner planner;
  ArenaPlan plan = planner.plan(requests);
  planner.verify(requests, plan);
  EXPECT_EQ(plan.offsets[0], plan.offsets[2]);
  EXPECT_EQ(plan.arenaBytes, 2 * 1024u);
  EXPECT_EQ(plan.unplannedBytes, 3000u);
}

TEST(ArenaPlanner, VerifyCatchesOverlap) {
  std::vector<BufferRequest> requests = {{128, 0, 2}, {128, 1, 3}};
  ArenaPlan bad{{0, 64}, 256, 256};
  EXPECT_THROW(ArenaPlanner().verify(requests, bad), Error);
}

TEST(ArenaPlanner, RandomGraphsNeverOverlapLiveBuffers) {
  std::mt19937 rng(7);
  ArenaPlanner planner;
  for (int trial = 0; trial < 300; ++trial) {
    const int steps = 1 + rng() % 60;
    const int buffers = 1 + rng() % 80;
    std::vector<BufferRequest> requests;
    size_t peakLive = 0;
    for (int i = 0; i < buffers; ++i) {
      BufferRequest r;
      r.firstUse = rng() % steps;
      r.lastUse = r.firstUse + rng() % (steps - r.firstUse);
      r.bytes = 1 + rng() % 100000;
      requests.push_back(r);
    }
    for (int s = 0; s < steps; ++s) {
      size_t live = 0;
      for (const auto& r : requests)
        if (r.firstUse <= s && s <= r.lastUse) live += r.bytes;
      peakLive = std::max(peakLive, live);
    }
    ArenaPlan plan = planner.plan(requests);
    ASSERT_NO_THROW(planner.verify(requests, plan)) << planner.describe(requests, plan);
    EXPECT_GE(plan.arenaBytes, peakLive);
    EXPECT_LE(plan.arenaBytes, plan.unplannedBytes + 64 * requests.size());
  }
}

}  // namespace
}  // namespace petrel
