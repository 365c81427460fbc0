#pragma once
// Runs one operator through its planner and executor, the way a Session does,
// without building a graph. Used by the operator tests.
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "ops/op.h"
#include "petrel/petrel.h"

namespace petrel::test {

struct HarnessInput {
  enum class Kind { kRuntime, kConstant, kInts, kAbsent } kind = Kind::kAbsent;
  Shape shape;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  static HarnessInput runtime(Shape shape, std::vector<float> data);   // computed at run time
  static HarnessInput constant(Shape shape, std::vector<float> data);  // stored fp32 constant (weights)
  static HarnessInput int64s(Shape shape, std::vector<int64_t> data);  // static int64 value
  static HarnessInput absent();                                        // omitted optional input
};

struct HarnessResult {
  std::vector<Shape> shapes;                 // one per output
  std::vector<std::vector<float>> outputs;   // float outputs (computed or static)
  std::vector<std::optional<StaticTensor>> statics;  // set for static outputs
  std::string kernel;                        // executor's kernelName(), "" if none
  bool aliased = false;
};

// A config that runs on `threads` threads (other settings default).
SessionConfig withThreads(int threads);

// `node` gives op and attributes; its inputs/outputs are ignored.
HarnessResult runOp(const Node& node, const std::vector<HarnessInput>& inputs,
                    SessionConfig config = {}, int outputCount = 1);

// Builds a node: makeNode("Conv", {{"strides", std::vector<int64_t>{2, 2}}}).
Node makeNode(const std::string& op, std::map<std::string, AttributeValue> attributes = {});

}  // namespace petrel::test
