// ScatterND against the definition, on static and run-time data.
#include <gtest/gtest.h>

#include "ops/op_harness.h"
#include "ops/op_test_util.h"

namespace petrel::test {
namespace {

TEST(ScatterND, SliceAssignmentLikeSwinsMask) {
  // data [3, 4]; replace rows 2 and 0 (index tuples of length 1 -> whole rows).
  std::vector<float> data(12, 0.0f);
  const HarnessInput indices = HarnessInput::int64s({2, 1}, {2, -3});
  const std::vector<float> updates = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> expected = {5, 6, 7, 8, 0, 0, 0, 0, 1, 2, 3, 4};
  // Known at planning: computed then.
  HarnessResult r = runOp(makeNode("ScatterND"),
                          {HarnessInput::constant({3, 4}, data), indices, HarnessInput::constant({2, 4}, updates)});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.outputs[0], expected);
  // Computed at run time.
  r = runOp(makeNode("ScatterND"), {HarnessInput::runtime({3, 4}, data), indices, HarnessInput::runtime({2, 4}, updates)});
  EXPECT_EQ(r.kernel, "scatter_nd.f32");
  EXPECT_EQ(r.outputs[0], expected);
}

TEST(ScatterND, ElementTuplesInt64AndReductions) {
  const HarnessInput data = HarnessInput::int64s({2, 2}, {1, 2, 3, 4});
  const HarnessInput indices = HarnessInput::int64s({2, 2}, {0, 1, 1, 0});
  const HarnessInput updates = HarnessInput::int64s({2}, {10, 20});
  HarnessResult r = runOp(makeNode("ScatterND"), {data, indices, updates});
  ASSERT_TRUE(r.statics[0]);
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{1, 10, 20, 4}));
  r = runOp(makeNode("ScatterND", {{"reduction", std::string("add")}}), {data, indices, updates});
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{1, 12, 23, 4}));
  r = runOp(makeNode("ScatterND", {{"reduction", std::string("mul")}}), {data, indices, updates});
  EXPECT_EQ(r.statics[0]->i64, (std::vector<int64_t>{1, 20, 60, 4}));
}

TEST(ScatterND, Errors) {
  const HarnessInput data = HarnessInput::runtime({2, 2}, {1, 2, 3, 4});
  expectNodeError([&] { runOp(makeNode("ScatterND"), {data, HarnessInput::int64s({1, 1}, {2}), HarnessInput::runtime({1, 2}, {0, 0})}); },
                  "ScatterND");  // index out of range
  expectNodeError([&] { runOp(makeNode("ScatterND"), {data, HarnessInput::int64s({1, 1}, {0}), HarnessInput::runtime({1, 3}, {0, 0, 0})}); },
                  "ScatterND");  // updates shape
  expectNodeError([&] { runOp(makeNode("ScatterND"), {data, HarnessInput::int64s({1, 3}, {0, 0, 0}), HarnessInput::runtime({1}, {0})}); },
                  "ScatterND");  // tuple longer than the rank
}

}  // namespace
}  // namespace petrel::test
