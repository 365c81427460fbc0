#pragma once
// Graph passes run by the converter after import. Each rewrites the graph in
// place, keeps the names of graph outputs, and returns how many nodes it
// changed. A pass may leave values that nothing uses; removeDeadNodes drops
// them (and the nodes that feed nothing). The order used by the converter:
//
//   removeDeadNodes, removeNoOps, rewriteEinsum, foldConstants, foldBatchNorm, fuseGelu, fuseMatMulBias,
//   fuseActivations, fuseResidualAdds, fuseConvMaxPool, sortTopologically, removeDeadNodes, sortTopologically,
//   (shapes the converter may first complete by planning, then foldConstants again), hoistRowGathers,
//   sortTopologically, removeDeadNodes, fuseAttention, removeDeadNodes, gatherAttentionQueries,
//   removeDeadNodes, Graph::validate
//
// Rewrites keep the topological order: a fused node takes over the output
// value of the last node of its pattern, and new nodes are inserted where the
// node they replace was.
#include <cstdint>

#include "graph/graph.h"

namespace petrel {

// Removes Identity, Dropout (inference: output = input) and Cast nodes that do
// not change the Petrel dtype (float->float, int->int); consumers read the
// input instead. When the removed node's output is a graph output, the output
// keeps its name: the input's producer writes it directly (or, for a constant
// input, the output becomes that constant).
int removeNoOps(Graph& graph);

// Rewrites Einsum nodes that are batched matrix products into MatMul:
//   "P i j, P j k -> P i k"  ->  MatMul(a, b)
//   "P i d, P j d -> P i j"  ->  MatMul(a, Transpose(b) over its last two axes)
// where P is the same run of batch letters in all three terms (MaxViT's
// attention). Any other equation is an Error naming the node and equation.
int rewriteEinsum(Graph& graph);

// Results larger than this are left to be computed at run time.
constexpr int64_t kMaxFoldedElements = 16 * 1024 * 1024;

// Evaluates every node whose inputs are all constants with the op's own
// planner (petrel::evaluateStaticNode) and replaces its outputs by constants.
// Shape of a value whose shape is fully known (no -1) folds too, so with fixed
// input shapes whole Shape -> Gather -> Concat chains disappear. With a
// dynamic batch, Gather(Shape(x), i) still folds when it picks only known dims
// (the 197 of a [-1, 197, 768] value); what depends on the batch stays and is
// evaluated by the runtime while planning. Nodes of unknown ops are skipped.
// Returns the number of nodes folded.
int foldConstants(Graph& graph, int64_t maxElements = kMaxFoldedElements);

struct BatchNormFoldCounts {
  int intoConv = 0;    // folded into a preceding Conv / ConvTranspose
  int toMulAdd = 0;    // standalone: replaced by Mul + Add with per-channel constants
};
// BatchNormalization (inference form) after a Conv or ConvTranspose whose
// output nothing else reads: scales the conv's weights and shifts its bias
// (created if absent). Any other BatchNormalization becomes Mul + Add with
// constants of shape [C, 1, ...] (broadcast over the spatial axes).
BatchNormFoldCounts foldBatchNorm(Graph& graph);

// The exact (erf) Gelu as exporters write it,
//   x * 0.5 * (1 + Erf(x / sqrt(2)))   (also with Mul(x, 1/sqrt(2)) and with
//   the Mul(0.5) at any place of the product)
// becomes one "Gelu" node. Returns the number of patterns replaced.
int fuseGelu(Graph& graph);

// Add(MatMul(x, W), b) with W a constant 2-D matrix [K][N], b a constant
// of shape [N] and the MatMul's output read only by that Add becomes one
// MatMul with b as its input 2 (a Petrel extension), added in the GEMM's
// store: ViT's and BERT's linear layers. Runs before fuseActivations, so the
// activation after the bias (Gelu) fuses into the MatMul too. Returns the
// number fused.
int fuseMatMulBias(Graph& graph);

// Relu, Clip (constant min/max), Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu,
// x * Sigmoid(x) (SiLU) and x * HardSigmoid(x; 1/6, 1/2) (HardSwish as written
// before opset 14) following a Conv, ConvTranspose, Gemm, MatMul or
// Add whose output nothing else reads are fused: the producer gets the
// attributes "activation" (activationName), "activation_alpha" and
// "activation_beta" (Clip: min, max; HardSigmoid: alpha, beta) and writes the
// activation's output. Returns the number of activations fused (an x * f(x)
// counts once).
int fuseActivations(Graph& graph);

// Add(Conv(x), r) where the Conv's output is read only by that Add, the Conv
// has no fused activation and r has the Conv output's shape
// becomes one Conv with r as its input 3, the residual summand:
// Y = act(conv(X) + B + R), the Add's fused activation moving to the Conv
// (ResNet's "conv3 + identity, relu"). The shapes must be equal and known but
// for a dynamic batch. The Conv may then come before r's producer:
// sortTopologically must run next (removeDeadNodes relies on the order).
// Returns the number fused.
int fuseResidualAdds(Graph& graph);

// MaxPool(Conv(x)) with a 2-D window, only the pooled output (no Indices),
// and the Conv's output read by nothing else becomes one Conv that carries
// the MaxPool's attributes (kAbsorbedPoolPrefix + name, graph.h) and writes
// the MaxPool's output: a network's first layer can then pool its rows while
// they are in cache instead of writing a few MB and reading them back. The
// Conv keeps its fused activation (applied first); one with a residual input
// is left alone. Runs after fuseActivations and fuseResidualAdds. Returns the
// number fused.
int fuseConvMaxPool(Graph& graph);

// Gather(y, constant indices, axis) before y's last axis, where y is read
// only by that Gather and made by an op that computes each slice along that
// axis from the same slice of its inputs (LayerNormalization and Softmax over
// later axes, MatMul by constant weights, elementwise ops whose other operands
// are constants of rank 0 or 1) moves above that op: the op then computes
// only the gathered slices. Repeated up the chain, with equal Gathers of one
// value merged, so that a classifier reading only ViT's class token computes
// the last encoder layer's MLP for that one token. Returns the number of
// Gathers moved.
int hoistRowGathers(Graph& graph);

// Multi-head attention as exporters write it out,
//   Q = Transpose(Reshape(q, [T, N*H, d]), [1, 0, 2])   (perhaps * or / a scalar)
//   K = Transpose(Reshape(k, [T, N*H, d]), [1, 2, 0])
//   V = Transpose(Reshape(v, [T, N*H, d]), [1, 0, 2])
//   Y = Transpose(MatMul(Softmax(MatMul(Q, K) (perhaps * or / a scalar)), V), [1, 0, 2])
// with q, k, v of shape [T, N, H*d] (each perhaps a Slice along the last axis
// of a wider [T, N, F], e.g. one fused q/k/v projection) and every value in
// between read only by the next node, becomes one PetrelAttention node
// (ops/attention.cpp) reading q, k, v (or the sliced values) in place and
// writing Y. Needs the shapes of q, k, v and the Reshapes' outputs (T, H and
// d known). A Softmax fed by anything else (a mask Add, say) is left alone.
// Returns the number fused.
int fuseAttention(Graph& graph);

// A Gather of some tokens of an attention block's output, where the tokens
// reach it through the block's out-projection as torch exports it,
//   Gather(Transpose(Reshape(linear(Reshape(PetrelAttention(Q, K, V))))), tokens)
// (the Transpose optional, `linear` a MatMul or Gemm applied to each row,
// each value read only by the next node), gathers Q's tokens instead: the
// attention and the out-projection then run for those tokens only (ViT's
// classifier reads only the class token of its last layer). The Reshapes get
// constant targets whose batch-dependent dim is -1. Runs after fuseAttention;
// scalar or 1-D indices. Returns the number of attentions narrowed.
int gatherAttentionQueries(Graph& graph);

// Removes nodes none of whose outputs reach a graph output, then values that
// no node, input or output refers to (ids are renumbered). Returns the number
// of nodes removed.
int removeDeadNodes(Graph& graph);

// Reorders the nodes so that every node comes after the producers of its
// inputs, keeping the current order where it already is valid. Error on a
// cycle.
void sortTopologically(Graph& graph);

}  // namespace petrel
