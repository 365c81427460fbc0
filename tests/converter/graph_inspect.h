#pragma once
// Small helpers to look at a converted graph in the converter tests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/graph.h"

namespace petrel::test {

inline std::vector<std::string> opsOf(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op);
  return ops;
}

inline int countOp(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op == op;
  return n;
}

// The only node of type `op` (fails the test if there is not exactly one).
inline const Node& onlyNode(const Graph& g, const std::string& op) {
  const Node* found = nullptr;
  int count = 0;
  for (const Node& n : g.nodes)
    if (n.op == op) {
      found = &n;
      ++count;
    }
  EXPECT_EQ(count, 1) << "nodes of type " << op;
  if (!found) throw std::runtime_error("no node of type " + op);
  return *found;
}

inline std::vector<float> constFloats(const Graph& g, int id) {
  EXPECT_GE(id, 0);
  const auto& c = g.values.at(id).constant;
  EXPECT_TRUE(c) << "value '" << g.values.at(id).name << "' is not a constant";
  if (!c || c->storage != Storage::kFloat32) return {};
  return std::vector<float>(c->floats(), c->floats() + c->elements());
}

inline std::vector<int64_t> constInts(const Graph& g, int id) {
  EXPECT_GE(id, 0);
  const auto& c = g.values.at(id).constant;
  EXPECT_TRUE(c) << "value '" << g.values.at(id).name << "' is not a constant";
  if (!c || c->storage != Storage::kInt64) return {};
  return std::vector<int64_t>(c->int64s(), c->int64s() + c->elements());
}

inline const std::string& outputName(const Graph& g, size_t i) { return g.values.at(g.outputs.at(i)).name; }

}  // namespace petrel::test
