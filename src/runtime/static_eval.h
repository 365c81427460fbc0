#pragma once
// Evaluates a node whose inputs are all known (constant folding in the
// converter, shape arithmetic while planning), with the same planners and
// executors that run the model: one definition of every operator.
#include <vector>

#include "graph/graph.h"
#include "ops/op.h"

namespace petrel {

// Plans `node` with the given static inputs (nullptr for an omitted optional
// input) and computes all its outputs. Throws Error (naming the node) if the
// op is unknown or rejects its inputs.
std::vector<StaticTensor> evaluateStaticNode(const Node& node, const std::vector<const StaticTensor*>& inputs);

// Converts a stored fp32/int64 constant to a StaticTensor (copies the data).
StaticTensor toStaticTensor(const ConstantData& constant);

}  // namespace petrel
