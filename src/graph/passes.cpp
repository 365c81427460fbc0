#include "graph/passes.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <unordered_set>

#include "kernels/activation.h"
#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/static_eval.h"

namespace petrel {

namespace {

// Who produces and who reads each value. Built at the start of a pass; a pass
// that rewires keeps the parts it still reads up to date.
struct Uses {
  std::vector<int> producer;              // value -> node index, -1 if none
  std::vector<std::vector<int>> readers;  // value -> node index per input slot reading it
  std::vector<bool> graphOutput;
  std::vector<bool> graphInput;
};

Uses findUses(const Graph& graph) {
  Uses uses;
  const size_t count = graph.values.size();
  uses.producer.assign(count, -1);
  uses.readers.assign(count, {});
  uses.graphOutput.assign(count, false);
  uses.graphInput.assign(count, false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (int id : graph.nodes[i].inputs)
      if (id >= 0) uses.readers[id].push_back(static_cast<int>(i));
    for (int id : graph.nodes[i].outputs) uses.producer[id] = static_cast<int>(i);
  }
  for (int id : graph.outputs) uses.graphOutput[id] = true;
  for (int id : graph.inputs) uses.graphInput[id] = true;
  return uses;
}

// True if `value` is read by exactly one input slot, of node `node`, and is not
// a graph output: the value may then be rewritten away.
bool onlyReadBy(const Uses& uses, int value, int node) {
  return value >= 0 && !uses.graphOutput[value] && uses.readers[value].size() == 1 && uses.readers[value][0] == node;
}

// The index of the node that makes `value`; -1 for an omitted input (-1), a
// graph input or a constant.
int producerOf(const Uses& uses, int value) { return value >= 0 ? uses.producer[value] : -1; }

bool isUnused(const Uses& uses, int value) { return !uses.graphOutput[value] && uses.readers[value].empty(); }

void eraseNodes(Graph& graph, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
}

// Unique value names for values a pass creates.
class ValueNames {
 public:
  explicit ValueNames(const Graph& graph) {
    for (const Value& v : graph.values) used_.insert(v.name);
  }
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

 private:
  std::unordered_set<std::string> used_;
};

int addConstantValue(Graph& graph, ValueNames& names, const std::string& base, std::shared_ptr<ConstantData> data) {
  Value v;
  v.name = names.unique(base);
  v.dtype = data->storage == Storage::kInt64 ? DType::kInt64 : DType::kFloat32;
  v.shape = data->shape;
  v.constant = std::move(data);
  return graph.addValue(std::move(v));
}

const ConstantData* constantOf(const Graph& graph, int id) {
  if (id < 0) return nullptr;
  return graph.values[id].constant.get();
}

// All elements of an fp32 or int64 constant as floats.
std::vector<float> floatsOf(const ConstantData& c) {
  if (c.storage == Storage::kFloat32) return std::vector<float>(c.floats(), c.floats() + c.elements());
  if (c.storage == Storage::kInt64) {
    std::vector<float> out(c.elements());
    for (int64_t i = 0; i < c.elements(); ++i) out[i] = static_cast<float>(c.int64s()[i]);
    return out;
  }
  throw Error(std::string("a constant stored as ") + storageName(c.storage) + " cannot be folded");
}

// The value of a one-element constant, if `id` is one.
std::optional<float> scalarConstant(const Graph& graph, int id) {
  const ConstantData* c = constantOf(graph, id);
  if (!c || c->elements() != 1 || (c->storage != Storage::kFloat32 && c->storage != Storage::kInt64))
    return std::nullopt;
  return floatsOf(*c)[0];
}

bool isScalar(const Graph& graph, int id, float expected) {
  std::optional<float> v = scalarConstant(graph, id);
  return v && std::fabs(*v - expected) <= 1e-4f * std::max(1.0f, std::fabs(expected));
}

// ---------------------------------------------------------------------------
// removeNoOps

// ONNX TensorProto element types, as used by Cast's "to" (the graph code does
// not depend on the ONNX headers).
constexpr int64_t kOnnxFloat = 1, kOnnxDouble = 11, kOnnxBool = 9;
bool onnxTypeIsInteger(int64_t t) { return t == 2 || t == 3 || t == 4 || t == 5 || t == 6 || t == 7 || t == 12 || t == 13; }

bool isNoOp(const Graph& graph, const Node& node, const Uses& uses) {
  if (node.inputs.empty() || node.inputs[0] < 0 || node.outputs.empty()) return false;
  if (node.op == "Identity") return true;
  if (node.op == "Dropout") {
    // Inference: output = input. The optional mask must be unused.
    for (size_t o = 1; o < node.outputs.size(); ++o)
      if (!isUnused(uses, node.outputs[o])) return false;
    return true;
  }
  if (node.op == "Cast") {
    const int64_t to = node.getInt("to", 0);
    const DType from = graph.values[node.inputs[0]].dtype;
    if (from == DType::kFloat32) return to == kOnnxFloat || to == kOnnxDouble;
    // Petrel keeps every integer as int64; a cast to bool is not a no-op.
    return onnxTypeIsInteger(to) && to != kOnnxBool;
  }
  return false;
}

}  // namespace

int removeNoOps(Graph& graph) {
  Uses uses = findUses(graph);
  // replacedBy[v] = the value that now stands for v.
  std::vector<int> replacedBy(graph.values.size(), -1);
  auto resolve = [&](int id) {
    while (id >= 0 && replacedBy[id] >= 0) id = replacedBy[id];
    return id;
  };
  std::vector<bool> dead(graph.nodes.size(), false);
  int removed = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& node = graph.nodes[i];
    if (!isNoOp(graph, node, uses)) continue;
    const int in = resolve(node.inputs[0]);
    const int out = node.outputs[0];
    if (!uses.graphOutput[out]) {
      replacedBy[out] = in;
    } else if (graph.values[in].constant) {
      // The graph output keeps its name and becomes the constant.
      Value& o = graph.values[out];
      o.constant = graph.values[in].constant;
      o.dtype = graph.values[in].dtype;
      o.shape = graph.values[in].shape;
    } else if (uses.producer[in] >= 0 && !uses.graphOutput[in] && !uses.graphInput[in]) {
      // The graph output keeps its name: the input's producer writes it.
      Node& producer = graph.nodes[uses.producer[in]];
      for (int& id : producer.outputs)
        if (id == in) id = out;
      uses.producer[out] = uses.producer[in];
      uses.producer[in] = -1;
      replacedBy[in] = out;
    } else {
      continue;  // an input or another output under a second name: keep the node
    }
    dead[i] = true;
    ++removed;
  }
  for (Node& node : graph.nodes)
    for (int& id : node.inputs) id = resolve(id);
  eraseNodes(graph, dead);
  return removed;
}

// ---------------------------------------------------------------------------
// rewriteEinsum

namespace {

std::string withoutSpaces(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != ' ') out += c;
  return out;
}

}  // namespace

int rewriteEinsum(Graph& graph) {
  ValueNames names(graph);
  int rewritten = 0;
  std::vector<Node> nodes;
  nodes.reserve(graph.nodes.size());
  for (Node& node : graph.nodes) {
    if (node.op != "Einsum") {
      nodes.push_back(std::move(node));
      continue;
    }
    const std::string equation = withoutSpaces(node.getString("equation", ""));
    auto unsupported = [&]() {
      return Error(node.describe() + ": Einsum equation '" + node.getString("equation", "") +
                   "' is not supported (only batched matrix products 'Pij,Pjk->Pik' and 'Pid,Pjd->Pij')");
    };
    const size_t comma = equation.find(','), arrow = equation.find("->");
    if (node.inputs.size() != 2 || comma == std::string::npos || arrow == std::string::npos || comma > arrow)
      throw unsupported();
    const std::string a = equation.substr(0, comma), b = equation.substr(comma + 1, arrow - comma - 1),
                      out = equation.substr(arrow + 2);
    const size_t rank = a.size();
    if (rank < 2 || b.size() != rank || out.size() != rank || a.find('.') != std::string::npos) throw unsupported();
    const std::string batch = a.substr(0, rank - 2);
    if (b.compare(0, rank - 2, batch) != 0 || out.compare(0, rank - 2, batch) != 0) throw unsupported();
    const char ai = a[rank - 2], aj = a[rank - 1], bj = b[rank - 2], bk = b[rank - 1];
    const char oi = out[rank - 2], ok = out[rank - 1];
    const bool letterFree = batch.find_first_of(std::string{ai, aj, bj, bk}) == std::string::npos;
    bool transposeB = false;
    if (letterFree && aj == bj && oi == ai && ok == bk && ai != aj && bk != aj && ai != bk) {
      transposeB = false;  // P i j, P j k -> P i k
    } else if (letterFree && aj == bk && oi == ai && ok == bj && ai != aj && bj != aj && ai != bj) {
      transposeB = true;  // P i d, P j d -> P i j
    } else {
      throw unsupported();
    }
    Node matmul;
    matmul.name = node.name;
    matmul.op = "MatMul";
    matmul.inputs = node.inputs;
    matmul.outputs = node.outputs;
    if (transposeB) {
      std::vector<int64_t> perm(rank);
      for (size_t d = 0; d < rank; ++d) perm[d] = static_cast<int64_t>(d);
      std::swap(perm[rank - 2], perm[rank - 1]);
      Value transposed;
      transposed.name = names.unique(graph.values[node.inputs[1]].name + "_transposed");
      transposed.dtype = DType::kFloat32;
      const int transposedId = graph.addValue(std::move(transposed));
      Node transpose;
      transpose.name = node.name + "/transpose_b";
      transpose.op = "Transpose";
      transpose.inputs = {node.inputs[1]};
      transpose.outputs = {transposedId};
      transpose.attributes["perm"] = perm;
      nodes.push_back(std::move(transpose));
      matmul.inputs[1] = transposedId;
    }
    nodes.push_back(std::move(matmul));
    ++rewritten;
  }
  graph.nodes = std::move(nodes);
  return rewritten;
}

// ---------------------------------------------------------------------------
// foldConstants

namespace {

// The dims Shape(x) returns, [start, end) of x's shape as known to the
// converter (-1 for a dynamic dim); nullopt if x's rank is unknown.
std::optional<Shape> shapeNodeDims(const Graph& graph, const Node& node) {
  if (node.inputs.empty() || node.inputs[0] < 0) return std::nullopt;
  const Shape& shape = graph.values[node.inputs[0]].shape;
  // An empty shape may mean "rank unknown": never fold it.
  if (shape.empty()) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(shape.size());
  auto clampAxis = [rank](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
  const int64_t start = clampAxis(node.getInt("start", 0));
  const int64_t end = clampAxis(node.getInt("end", rank));
  Shape dims;
  for (int64_t a = start; a < end; ++a) dims.push_back(shape[a]);
  return dims;
}

bool allKnown(const Shape& dims) {
  for (int64_t d : dims)
    if (d < 0) return false;
  return true;
}

// Gather(Shape(x), indices) picking only dims that are known, e.g. the 197 of
// a [-1, 197, 768] value: foldable even when the batch is dynamic.
std::optional<StaticTensor> gatherKnownDims(const Graph& graph, const Node& gather, const Shape& dims) {
  if (gather.inputs.size() != 2 || gather.inputs[1] < 0) return std::nullopt;
  const int64_t axis = gather.getInt("axis", 0);
  if (axis != 0 && axis != -1) return std::nullopt;
  const ConstantData* indices = graph.values[gather.inputs[1]].constant.get();
  if (!indices || indices->storage != Storage::kInt64) return std::nullopt;
  const int64_t n = static_cast<int64_t>(dims.size());
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < indices->elements(); ++i) {
    int64_t index = indices->int64s()[i];
    if (index < 0) index += n;
    if (index < 0 || index >= n || dims[index] < 0) return std::nullopt;
    picked.push_back(dims[index]);
  }
  return StaticTensor::ofInts(indices->shape, std::move(picked));
}

bool allInputsConstant(const Graph& graph, const Node& node) {
  bool any = false;
  for (int id : node.inputs) {
    if (id < 0) continue;
    if (!graph.values[id].constant) return false;
    any = true;
  }
  return any;
}

std::shared_ptr<ConstantData> toConstantData(const StaticTensor& t) {
  return t.dtype == DType::kFloat32 ? ConstantData::fromFloats(t.shape, t.f32) : ConstantData::fromInt64s(t.shape, t.i64);
}

bool knownLargerThan(const Shape& shape, int64_t limit) {
  return !shape.empty() && allKnown(shape) && shapeElements(shape) > limit;
}

}  // namespace

int foldConstants(Graph& graph, int64_t maxElements) {
  std::vector<bool> dead(graph.nodes.size(), false);
  // Outputs of Shape nodes that stay (a dim is dynamic): the dims known so far.
  std::map<int, Shape> partialShapes;
  int folded = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    std::vector<StaticTensor> results;
    if (node.op == "Shape" && !allInputsConstant(graph, node)) {
      std::optional<Shape> dims = shapeNodeDims(graph, node);
      if (!dims) continue;
      if (!allKnown(*dims)) {
        partialShapes[node.outputs.at(0)] = *dims;
        continue;
      }
      const int64_t n = static_cast<int64_t>(dims->size());
      results.push_back(StaticTensor::ofInts({n}, std::move(*dims)));
    } else if (node.op == "Gather" && !node.inputs.empty() && partialShapes.count(node.inputs[0])) {
      std::optional<StaticTensor> dims = gatherKnownDims(graph, node, partialShapes[node.inputs[0]]);
      if (!dims) continue;
      results.push_back(std::move(*dims));
    } else {
      if (!allInputsConstant(graph, node) || !findOp(node.op)) continue;
      bool tooLarge = false;
      for (int id : node.outputs) tooLarge |= knownLargerThan(graph.values[id].shape, maxElements);
      if (tooLarge) continue;
      std::vector<StaticTensor> inputs(node.inputs.size());
      std::vector<const StaticTensor*> pointers(node.inputs.size(), nullptr);
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        if (node.inputs[k] < 0) continue;
        inputs[k] = toStaticTensor(*graph.values[node.inputs[k]].constant);
        pointers[k] = &inputs[k];
      }
      results = evaluateStaticNode(node, pointers);
      for (const StaticTensor& r : results) tooLarge |= r.elements() > maxElements;
      if (tooLarge) continue;
    }
    if (results.size() < node.outputs.size())
      throw Error(node.describe() + ": constant folding produced " + std::to_string(results.size()) + " of " +
                  std::to_string(node.outputs.size()) + " outputs");
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      Value& v = graph.values[node.outputs[o]];
      v.constant = toConstantData(results[o]);
      v.dtype = results[o].dtype;
      v.shape = results[o].shape;
    }
    dead[i] = true;
    ++folded;
  }
  eraseNodes(graph, dead);
  return folded;
}

// ---------------------------------------------------------------------------
// foldBatchNorm

namespace {

// Per-channel y = x * scale + shift of an inference BatchNormalization.
struct ChannelAffine {
  std::vector<float> scale;
  std::vector<float> shift;
};

ChannelAffine batchNormAffine(const Graph& graph, const Node& bn, const Uses& uses) {
  if (bn.inputs.size() < 5 || bn.inputs[0] < 0) throw Error(bn.describe() + ": needs 5 inputs");
  if (bn.getInt("training_mode", 0) != 0)
    throw Error(bn.describe() + ": training_mode=1 is not supported (inference only)");
  for (size_t o = 1; o < bn.outputs.size(); ++o)
    if (!isUnused(uses, bn.outputs[o]))
      throw Error(bn.describe() + ": the running mean/variance outputs of training mode are not supported");
  static const char* kParams[] = {"scale", "B", "input_mean", "input_var"};
  std::vector<std::vector<float>> params;
  for (int k = 0; k < 4; ++k) {
    const ConstantData* c = constantOf(graph, bn.inputs[k + 1]);
    if (!c) throw Error(bn.describe() + ": input '" + kParams[k] + "' must be a constant");
    params.push_back(floatsOf(*c));
  }
  const size_t channels = params[0].size();
  for (int k = 1; k < 4; ++k)
    if (params[k].size() != channels)
      throw Error(bn.describe() + ": input '" + kParams[k] + "' has " + std::to_string(params[k].size()) +
                  " elements, '" + kParams[0] + "' has " + std::to_string(channels));
  const float epsilon = bn.getFloat("epsilon", 1e-5f);
  ChannelAffine affine;
  affine.scale.resize(channels);
  affine.shift.resize(channels);
  for (size_t c = 0; c < channels; ++c) {
    const double factor = params[0][c] / std::sqrt(static_cast<double>(params[3][c]) + epsilon);
    affine.scale[c] = static_cast<float>(factor);
    affine.shift[c] = static_cast<float>(params[1][c] - params[2][c] * factor);
  }
  return affine;
}

// Output channel of each weight element's leading two dims, or -1 when the
// conv's geometry does not match `channels`.
// Conv: W[M, C/g, ...] -> channel m. ConvTranspose: W[C, M/g, ...] -> channel
// (c / (C/g)) * (M/g) + j.
bool convOutputChannelMap(const Node& conv, const Shape& w, int64_t channels, std::vector<int64_t>* channelOfRow) {
  if (w.size() < 3) return false;
  const int64_t rows = w[0] * w[1];
  channelOfRow->assign(rows, 0);
  if (conv.op == "Conv") {
    if (w[0] != channels) return false;
    for (int64_t r = 0; r < rows; ++r) (*channelOfRow)[r] = r / w[1];
    return true;
  }
  const int64_t groups = conv.getInt("group", 1);
  if (groups <= 0 || w[0] % groups != 0 || w[1] * groups != channels) return false;
  const int64_t inPerGroup = w[0] / groups;
  for (int64_t c = 0; c < w[0]; ++c)
    for (int64_t j = 0; j < w[1]; ++j) (*channelOfRow)[c * w[1] + j] = (c / inPerGroup) * w[1] + j;
  return true;
}

// Scales conv's weights and shifts its bias by `affine`; false (and no change)
// if the conv cannot take it.
bool foldIntoConv(Graph& graph, ValueNames& names, Node& conv, const ChannelAffine& affine) {
  if (conv.op != "Conv" && conv.op != "ConvTranspose") return false;
  if (conv.has("activation") || conv.inputs.size() < 2) return false;
  const ConstantData* w = constantOf(graph, conv.inputs[1]);
  if (!w || w->storage != Storage::kFloat32) return false;
  const int64_t channels = static_cast<int64_t>(affine.scale.size());
  std::vector<int64_t> channelOfRow;
  if (!convOutputChannelMap(conv, w->shape, channels, &channelOfRow)) return false;
  std::vector<float> bias(channels, 0.0f);
  const int biasId = conv.inputs.size() > 2 ? conv.inputs[2] : -1;
  if (biasId >= 0) {
    const ConstantData* b = constantOf(graph, biasId);
    if (!b || b->elements() != channels) return false;
    bias = floatsOf(*b);
  }

  std::vector<float> weights = floatsOf(*w);
  const int64_t rowSize = w->elements() / static_cast<int64_t>(channelOfRow.size());
  for (size_t r = 0; r < channelOfRow.size(); ++r) {
    const float s = affine.scale[channelOfRow[r]];
    for (int64_t k = 0; k < rowSize; ++k) weights[r * rowSize + k] *= s;
  }
  for (int64_t c = 0; c < channels; ++c) bias[c] = bias[c] * affine.scale[c] + affine.shift[c];

  // New constants: the original weights may be shared with another node.
  const std::string base = graph.values[conv.inputs[1]].name;
  const int newWeights = addConstantValue(graph, names, base + "_bnfold", ConstantData::fromFloats(w->shape, weights));
  const int newBias = addConstantValue(graph, names, base + "_bnfold_bias", ConstantData::fromFloats({channels}, bias));
  conv.inputs.resize(3);
  conv.inputs[1] = newWeights;
  conv.inputs[2] = newBias;
  return true;
}

// x * scale + shift with constants of shape [C, 1, ...] broadcasting over the
// axes after the channel axis (axis 1).
std::vector<Node> batchNormAsMulAdd(Graph& graph, ValueNames& names, const Node& bn, const ChannelAffine& affine) {
  const int x = bn.inputs[0];
  const Shape xShape = graph.values[x].shape;
  const int64_t channels = static_cast<int64_t>(affine.scale.size());
  Shape paramShape(xShape.size() - 1, 1);
  paramShape[0] = channels;
  const int scale = addConstantValue(graph, names, bn.name + "_scale", ConstantData::fromFloats(paramShape, affine.scale));
  const int shift = addConstantValue(graph, names, bn.name + "_shift", ConstantData::fromFloats(paramShape, affine.shift));
  Value scaled;
  scaled.name = names.unique(graph.values[bn.outputs[0]].name + "_scaled");
  scaled.dtype = DType::kFloat32;
  scaled.shape = xShape;
  const int scaledId = graph.addValue(std::move(scaled));

  Node mul;
  mul.name = bn.name + "/mul";
  mul.op = "Mul";
  mul.inputs = {x, scale};
  mul.outputs = {scaledId};
  Node add;
  add.name = bn.name + "/add";
  add.op = "Add";
  add.inputs = {scaledId, shift};
  add.outputs = {bn.outputs[0]};
  return {mul, add};
}

}  // namespace

BatchNormFoldCounts foldBatchNorm(Graph& graph) {
  const Uses uses = findUses(graph);
  ValueNames names(graph);
  BatchNormFoldCounts counts;
  // Replacement nodes for each BatchNormalization (empty: folded away).
  std::map<size_t, std::vector<Node>> replacements;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op != "BatchNormalization") continue;
    const Node bn = graph.nodes[i];
    const ChannelAffine affine = batchNormAffine(graph, bn, uses);
    const int x = bn.inputs[0];
    const int producer = producerOf(uses, x);
    if (producer >= 0 && onlyReadBy(uses, x, static_cast<int>(i)) && graph.nodes[producer].outputs[0] == x &&
        foldIntoConv(graph, names, graph.nodes[producer], affine)) {
      graph.nodes[producer].outputs[0] = bn.outputs[0];
      replacements[i] = {};
      ++counts.intoConv;
    } else if (graph.values[x].shape.size() >= 2) {
      replacements[i] = batchNormAsMulAdd(graph, names, bn, affine);
      ++counts.toMulAdd;
    }
    // Otherwise the rank is unknown here: the node stays and the runtime's
    // BatchNormalization operator serves it, knowing the shape.
  }
  if (replacements.empty()) return counts;
  std::vector<Node> nodes;
  nodes.reserve(graph.nodes.size() + counts.toMulAdd);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    auto it = replacements.find(i);
    if (it == replacements.end()) {
      nodes.push_back(std::move(graph.nodes[i]));
    } else {
      for (Node& n : it->second) nodes.push_back(std::move(n));
    }
  }
  graph.nodes = std::move(nodes);
  return counts;
}

// ---------------------------------------------------------------------------
// fuseGelu

namespace {

constexpr float kSqrt2 = 1.41421356237f;

// The other input of a two-input node, or -1 if `known` is not one of them.
int otherInput(const Node& node, int known) {
  if (node.inputs.size() != 2) return -1;
  if (node.inputs[0] == known) return node.inputs[1];
  if (node.inputs[1] == known) return node.inputs[0];
  return -1;
}

// Index of the only node reading `value`, or -1.
int soleReader(const Uses& uses, int value) {
  if (value < 0 || uses.graphOutput[value] || uses.readers[value].size() != 1) return -1;
  return uses.readers[value][0];
}

// For Mul(x, c) or Mul(c, x) with the constant c ~= `factor`: x, else -1.
int mulByScalarInput(const Graph& graph, const Node& node, float factor) {
  if (node.op != "Mul" || node.inputs.size() != 2) return -1;
  if (isScalar(graph, node.inputs[1], factor)) return node.inputs[0];
  if (isScalar(graph, node.inputs[0], factor)) return node.inputs[1];
  return -1;
}

}  // namespace

int fuseGelu(Graph& graph) {
  const Uses uses = findUses(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  auto nodeAt = [&](int index) -> const Node& { return graph.nodes[index]; };
  for (size_t e = 0; e < graph.nodes.size(); ++e) {
    const Node& erf = graph.nodes[e];
    if (erf.op != "Erf" || dead[e] || erf.inputs.size() != 1) continue;
    // x / sqrt(2) or x * (1 / sqrt(2)), read only by the Erf.
    const int scaled = erf.inputs[0];
    const int div = producerOf(uses, scaled);
    if (div < 0 || soleReader(uses, scaled) != static_cast<int>(e)) continue;
    int x = -1;
    if (nodeAt(div).op == "Div" && nodeAt(div).inputs.size() == 2 && isScalar(graph, nodeAt(div).inputs[1], kSqrt2))
      x = nodeAt(div).inputs[0];
    else
      x = mulByScalarInput(graph, nodeAt(div), 1.0f / kSqrt2);
    if (x < 0 || graph.values[x].dtype != DType::kFloat32) continue;
    // 1 + erf(...)
    const int add = soleReader(uses, erf.outputs[0]);
    if (add < 0 || nodeAt(add).op != "Add" || !isScalar(graph, otherInput(nodeAt(add), erf.outputs[0]), 1.0f)) continue;
    const int onePlusErf = nodeAt(add).outputs[0];
    // Then the product of x, 0.5 and (1 + erf) in one of the orders exporters emit.
    const int mul1 = soleReader(uses, onePlusErf);
    if (mul1 < 0 || nodeAt(mul1).op != "Mul") continue;
    const int factor1 = otherInput(nodeAt(mul1), onePlusErf);
    std::vector<int> pattern = {div, static_cast<int>(e), add, mul1};
    int last = -1;
    if (factor1 == x || isScalar(graph, factor1, 0.5f)) {
      // (x * (1 + erf)) * 0.5  or  ((1 + erf) * 0.5) * x
      const int mul2 = soleReader(uses, nodeAt(mul1).outputs[0]);
      if (mul2 < 0 || nodeAt(mul2).op != "Mul") continue;
      const int factor2 = otherInput(nodeAt(mul2), nodeAt(mul1).outputs[0]);
      const bool ok = factor1 == x ? isScalar(graph, factor2, 0.5f) : factor2 == x;
      if (!ok) continue;
      pattern.push_back(mul2);
      last = mul2;
    } else {
      // (x * 0.5) * (1 + erf)
      const int half = producerOf(uses, factor1);
      if (half < 0 || soleReader(uses, factor1) != mul1 || mulByScalarInput(graph, nodeAt(half), 0.5f) != x) continue;
      pattern.push_back(half);
      last = mul1;
    }
    bool taken = false;
    for (int n : pattern) taken |= dead[n];
    if (taken) continue;

    Node gelu;
    gelu.name = nodeAt(last).name;
    gelu.op = "Gelu";
    gelu.inputs = {x};
    gelu.outputs = {nodeAt(last).outputs[0]};
    for (int n : pattern) dead[n] = true;
    dead[last] = false;
    graph.nodes[last] = std::move(gelu);
    ++fused;
  }
  eraseNodes(graph, dead);
  return fused;
}

// ---------------------------------------------------------------------------
// fuseActivations

namespace {

bool canTakeActivation(const Node& node) {
  static const std::unordered_set<std::string> kOps = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add"};
  return kOps.count(node.op) != 0 && !node.has("activation");
}

// The fused form of a one-input activation node; false if `node` is not one
// (or is a Clip with bounds known only at run time).
bool activationOf(const Graph& graph, const Node& node, ActivationParams* params) {
  const std::string& op = node.op;
  if (op == "Relu") {
    params->kind = Activation::kRelu;
  } else if (op == "Sigmoid") {
    params->kind = Activation::kSigmoid;
  } else if (op == "Tanh") {
    params->kind = Activation::kTanh;
  } else if (op == "HardSwish") {
    params->kind = Activation::kHardSwish;
  } else if (op == "HardSigmoid") {
    params->kind = Activation::kHardSigmoid;
    params->alpha = node.getFloat("alpha", 0.2f);
    params->beta = node.getFloat("beta", 0.5f);
  } else if (op == "Gelu") {
    if (node.getString("approximate", "none") != "none") return false;
    params->kind = Activation::kGelu;
  } else if (op == "Clip") {
    params->kind = Activation::kClip;
    params->alpha = std::numeric_limits<float>::lowest();
    params->beta = std::numeric_limits<float>::max();
    for (size_t k = 1; k < node.inputs.size() && k < 3; ++k) {
      if (node.inputs[k] < 0) continue;
      std::optional<float> bound = scalarConstant(graph, node.inputs[k]);
      if (!bound) return false;
      (k == 1 ? params->alpha : params->beta) = *bound;
    }
  } else {
    return false;
  }
  return true;
}

// x * f(x) written as two nodes: Sigmoid gives SiLU, HardSigmoid(1/6, 1/2)
// gives HardSwish (how exporters write it before opset 14).
std::optional<Activation> selfGated(const ActivationParams& params) {
  if (params.kind == Activation::kSigmoid) return Activation::kSilu;
  if (params.kind == Activation::kHardSigmoid && std::fabs(params.alpha - 1.0f / 6.0f) < 1e-6f &&
      std::fabs(params.beta - 0.5f) < 1e-6f)
    return Activation::kHardSwish;
  return std::nullopt;
}

}  // namespace

int fuseActivations(Graph& graph) {
  Uses uses = findUses(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& act = graph.nodes[i];
    if (dead[i] || act.inputs.empty() || act.inputs[0] < 0 || act.outputs.empty()) continue;
    ActivationParams params;
    if (!activationOf(graph, act, &params)) continue;
    const int x = act.inputs[0];
    int result = act.outputs[0];
    int alsoRemoved = -1;  // the Mul of x * f(x)
    const std::optional<Activation> gated = selfGated(params);
    if (gated && !onlyReadBy(uses, x, static_cast<int>(i))) {
      // x * f(x): x read by exactly f and the Mul, f(x) only by the Mul.
      const std::vector<int>& readers = uses.readers[x];
      if (uses.graphOutput[x] || readers.size() != 2) continue;
      const int mul = readers[0] == static_cast<int>(i) ? readers[1] : readers[0];
      if (mul == static_cast<int>(i) || graph.nodes[mul].op != "Mul" ||
          otherInput(graph.nodes[mul], act.outputs[0]) != x || !onlyReadBy(uses, act.outputs[0], mul))
        continue;
      params = ActivationParams{};
      params.kind = *gated;
      result = graph.nodes[mul].outputs[0];
      alsoRemoved = mul;
    } else if (!onlyReadBy(uses, x, static_cast<int>(i))) {
      continue;
    }
    const int p = uses.producer[x];
    if (p < 0 || dead[p]) continue;
    Node& producer = graph.nodes[p];
    if (!canTakeActivation(producer) || producer.outputs.empty() || producer.outputs[0] != x ||
        graph.values[x].dtype != DType::kFloat32)
      continue;
    producer.attributes["activation"] = std::string(activationName(params.kind));
    producer.attributes["activation_alpha"] = params.alpha;
    producer.attributes["activation_beta"] = params.beta;
    producer.outputs[0] = result;
    uses.producer[result] = p;
    dead[i] = true;
    if (alsoRemoved >= 0) dead[alsoRemoved] = true;
    ++fused;
  }
  eraseNodes(graph, dead);
  return fused;
}

namespace {

// Add(y, other) where y is read only by that Add and made by node p: if
// absorb(p, add, other) rewrites p to compute the sum itself (true), p takes
// over the Add's output and the Add goes. Returns the number absorbed.
template <class Absorb>
int fuseAddsIntoProducers(Graph& graph, const Absorb& absorb) {
  Uses uses = findUses(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& add = graph.nodes[i];
    if (dead[i] || add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    for (int side = 0; side < 2; ++side) {
      const int y = add.inputs[side], other = add.inputs[1 - side];
      if (y < 0 || other < 0 || y == other || !onlyReadBy(uses, y, static_cast<int>(i))) continue;
      const int p = uses.producer[y];
      if (p < 0 || dead[p] || graph.nodes[p].outputs.size() != 1 || !absorb(graph.nodes[p], add, other)) continue;
      graph.nodes[p].outputs[0] = add.outputs[0];
      uses.producer[add.outputs[0]] = p;
      dead[i] = true;
      ++fused;
      break;
    }
  }
  eraseNodes(graph, dead);
  return fused;
}

}  // namespace

int fuseMatMulBias(Graph& graph) {
  return fuseAddsIntoProducers(graph, [&](Node& matmul, const Node& add, int bias) {
    if (add.has("activation") || matmul.op != "MatMul" || matmul.inputs.size() != 2 || matmul.has("activation"))
      return false;
    const int w = matmul.inputs[1];
    const ConstantData* weights = w >= 0 ? graph.values[w].constant.get() : nullptr;
    const ConstantData* b = graph.values[bias].constant.get();
    if (!weights || weights->shape.size() != 2 || !b || b->storage != Storage::kFloat32 || b->shape.size() != 1 ||
        b->shape[0] != weights->shape[1])
      return false;
    matmul.inputs.push_back(bias);
    return true;
  });
}

int fuseResidualAdds(Graph& graph) {
  return fuseAddsIntoProducers(graph, [&](Node& conv, const Node& add, int residual) {
    if (conv.op != "Conv" || conv.has("activation") || conv.inputs.size() > 3 || conv.hasAbsorbedMaxPool())
      return false;
    // The same shape, known but for a dynamic batch (no broadcasting: the
    // runtime checks it again when planning).
    const Shape& shape = graph.values[conv.outputs[0]].shape;
    if (shape.size() < 3 || !allKnown(Shape(shape.begin() + 1, shape.end())) ||
        graph.values[residual].shape != shape || graph.values[residual].dtype != DType::kFloat32)
      return false;
    conv.inputs.resize(3, -1);  // bias absent: -1
    conv.inputs.push_back(residual);
    for (const char* key : {"activation", "activation_alpha", "activation_beta"})
      if (add.has(key)) conv.attributes[key] = add.attributes.at(key);
    return true;
  });
}

int fuseConvMaxPool(Graph& graph) {
  const Uses uses = findUses(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& pool = graph.nodes[i];
    if (pool.op != "MaxPool" || pool.inputs.size() != 1 || pool.outputs.size() != 1 || pool.inputs[0] < 0 ||
        pool.getInts("kernel_shape").size() != 2)
      continue;
    const int x = pool.inputs[0];
    const int p = uses.producer[x];
    if (p < 0 || !onlyReadBy(uses, x, static_cast<int>(i))) continue;
    Node& conv = graph.nodes[p];
    if (conv.op != "Conv" || conv.outputs.size() != 1 || conv.inputs.size() > 3 || conv.hasAbsorbedMaxPool()) continue;
    for (const auto& [name, value] : pool.attributes) conv.attributes[kAbsorbedPoolPrefix + name] = value;
    conv.outputs[0] = pool.outputs[0];
    dead[i] = true;
    ++fused;
  }
  eraseNodes(graph, dead);
  return fused;
}

// ---------------------------------------------------------------------------
// hoistRowGathers

namespace {

// `axis` in [-rank, rank) as an index from 0; -1 when out of range.
int64_t axisFrom0(int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) return -1;
  return axis < 0 ? axis + r : axis;
}

// Gather(x, constant int64 indices) along an axis before x's last one: the
// axis, or -1 if `node` is not such a Gather.
int64_t rowGatherAxis(const Graph& graph, const Node& node) {
  if (node.op != "Gather" || node.inputs.size() != 2 || node.outputs.size() != 1 || node.inputs[0] < 0) return -1;
  const ConstantData* indices = constantOf(graph, node.inputs[1]);
  const Value& x = graph.values[node.inputs[0]];
  if (!indices || indices->storage != Storage::kInt64 || x.dtype != DType::kFloat32 || x.shape.size() < 2) return -1;
  const int64_t axis = axisFrom0(node.getInt("axis", 0), x.shape.size());
  return axis >= 0 && axis + 1 < static_cast<int64_t>(x.shape.size()) ? axis : -1;
}

bool sameIndices(const Graph& graph, int a, int b) {
  if (a == b) return true;
  const ConstantData* x = constantOf(graph, a);
  const ConstantData* y = constantOf(graph, b);
  return x && y && x->shape == y->shape && std::equal(x->int64s(), x->int64s() + x->elements(), y->int64s());
}

// The input slots of `node` whose values must be gathered so that the node
// computes only the gathered rows of its output: the node must compute each
// slice of its output along `axis` (before the last axis) from the same
// slice of those inputs alone, its other inputs being constants that apply
// to every slice. nullopt if `node` is not such an op.
std::optional<std::vector<size_t>> rowInputs(const Graph& graph, const Node& node, int64_t axis) {
  static const std::unordered_set<std::string> kUnary = {"Relu", "Gelu", "Sigmoid", "Tanh", "Erf", "HardSwish",
                                                         "HardSigmoid", "LeakyRelu", "Clip"};
  static const std::unordered_set<std::string> kBinary = {"Add", "Sub", "Mul", "Div"};
  if (node.outputs.size() != 1 || node.inputs.empty() || node.inputs[0] < 0) return std::nullopt;
  const Shape& out = graph.values[node.outputs[0]].shape;
  const size_t rank = out.size();
  auto constantOrAbsent = [&](size_t from) {
    for (size_t s = from; s < node.inputs.size(); ++s)
      if (node.inputs[s] >= 0 && !constantOf(graph, node.inputs[s])) return false;
    return true;
  };
  // The data input keeps the output's shape, but for the last axis (MatMul).
  const Shape& x = graph.values[node.inputs[0]].shape;
  if (x.size() != rank || !std::equal(x.begin(), x.end() - 1, out.begin())) return std::nullopt;
  if (kUnary.count(node.op)) {
    if (x != out || !constantOrAbsent(1)) return std::nullopt;
    return std::vector<size_t>{0};
  }
  if (node.op == "LayerNormalization" || node.op == "Softmax") {
    // Normalised over the axes from `axis` on: those must all come after the gathered one.
    const int64_t normalized = axisFrom0(node.getInt("axis", -1), rank);
    if (x != out || normalized <= axis || !constantOrAbsent(1)) return std::nullopt;
    return std::vector<size_t>{0};
  }
  if (node.op == "MatMul") {  // x [..., K] times constant W [K][N] (+ bias [N])
    const ConstantData* w = node.inputs.size() >= 2 ? constantOf(graph, node.inputs[1]) : nullptr;
    if (!w || w->shape.size() != 2 || !constantOrAbsent(2)) return std::nullopt;
    return std::vector<size_t>{0};
  }
  if (kBinary.count(node.op) && node.inputs.size() == 2) {
    std::vector<size_t> slots;
    for (size_t s = 0; s < 2; ++s) {
      const int id = node.inputs[s];
      if (id < 0) return std::nullopt;
      if (graph.values[id].shape == out && !constantOf(graph, id)) {
        slots.push_back(s);
      } else if (!constantOf(graph, id) || graph.values[id].shape.size() > 1) {
        return std::nullopt;  // a run-time operand broadcast across rows, or a constant that could vary by row
      }
    }
    if (slots.empty()) return std::nullopt;
    return slots;
  }
  return std::nullopt;
}

// Gathers that read the same value with the same axis and indices become the
// first of them. Returns true if any was merged (`uses` is then stale).
bool mergeEqualGathers(Graph& graph, const Uses& uses) {
  std::vector<bool> dead(graph.nodes.size(), false);
  bool merged = false;
  for (size_t value = 0; value < graph.values.size(); ++value) {
    const std::vector<int>& readers = uses.readers[value];
    for (size_t a = 0; a < readers.size(); ++a) {
      const Node& first = graph.nodes[readers[a]];
      if (dead[readers[a]] || rowGatherAxis(graph, first) < 0 || first.inputs[0] != static_cast<int>(value)) continue;
      for (size_t b = a + 1; b < readers.size(); ++b) {
        const Node& other = graph.nodes[readers[b]];
        const bool same = rowGatherAxis(graph, other) == rowGatherAxis(graph, first) &&
                          other.inputs[0] == static_cast<int>(value) &&
                          sameIndices(graph, first.inputs[1], other.inputs[1]);
        if (readers[b] == readers[a] || dead[readers[b]] || !same || uses.graphOutput[other.outputs[0]]) continue;
        // readers[] is in node order, so `first` comes before every reader of `other`.
        const int from = other.outputs[0], to = first.outputs[0];
        for (int reader : uses.readers[from])
          for (int& id : graph.nodes[reader].inputs)
            if (id == from) id = to;
        dead[readers[b]] = true;
        merged = true;
      }
    }
  }
  if (merged) eraseNodes(graph, dead);
  return merged;
}

}  // namespace

int hoistRowGathers(Graph& graph) {
  ValueNames names(graph);
  int hoisted = 0;
  for (bool changed = true; changed;) {
    changed = false;
    const Uses uses = findUses(graph);
    if (mergeEqualGathers(graph, uses)) {
      changed = true;
      continue;
    }
    for (size_t i = 0; i < graph.nodes.size() && !changed; ++i) {
      const int64_t axis = rowGatherAxis(graph, graph.nodes[i]);
      if (axis < 0) continue;
      const int x = graph.nodes[i].inputs[0];
      const int p = uses.producer[x];
      if (p < 0 || !onlyReadBy(uses, x, static_cast<int>(i))) continue;
      const std::optional<std::vector<size_t>> slots = rowInputs(graph, graph.nodes[p], axis);
      if (!slots) continue;
      // The producer now reads gathered inputs and writes the Gather's output.
      const Node gather = graph.nodes[i];
      const Shape indicesShape = graph.values[gather.inputs[1]].shape;
      std::vector<Node> inserted;
      for (size_t slot : *slots) {
        const int input = graph.nodes[p].inputs[slot];
        Value rows = graph.values[input];
        rows.constant = nullptr;
        rows.name = names.unique(rows.name + "_rows");
        rows.shape.erase(rows.shape.begin() + axis);
        rows.shape.insert(rows.shape.begin() + axis, indicesShape.begin(), indicesShape.end());
        Node g;
        g.name = rows.name;
        g.op = "Gather";
        g.inputs = {input, gather.inputs[1]};
        g.attributes["axis"] = axis;
        g.outputs = {graph.addValue(std::move(rows))};
        graph.nodes[p].inputs[slot] = g.outputs[0];
        inserted.push_back(std::move(g));
      }
      graph.nodes[p].outputs[0] = gather.outputs[0];
      graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));  // after p: it read p's output
      graph.nodes.insert(graph.nodes.begin() + p, inserted.begin(), inserted.end());
      changed = true;
      ++hoisted;
    }
  }
  return hoisted;
}

// ---------------------------------------------------------------------------
// fuseAttention

namespace {

// One operand of the attention as the fused node reads it: `value`
// [T, N, F], its heads from column `start` on.
struct HeadSource {
  int value = -1;
  int64_t start = 0;
  int64_t heads = 0, headDim = 0;
  std::vector<int> nodes;  // the Slice, Reshape and Transpose it replaces
};

// The factor of Mul(x, c), Mul(c, x) or Div(x, c) with c a constant of one
// element and rank at most 1 (so the product keeps x's shape); sets *x.
std::optional<float> scalarFactor(const Graph& graph, const Node& node, int* x) {
  if (node.inputs.size() != 2 || (node.op != "Mul" && node.op != "Div")) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const int c = node.inputs[1 - side];
    const std::optional<float> value = scalarConstant(graph, c);
    if (!value || graph.values[c].shape.size() > 1) continue;
    if (node.op == "Div" && (side == 1 || *value == 0.0f)) continue;  // c / x is no scaling
    *x = node.inputs[side];
    return node.op == "Div" ? 1.0f / *value : *value;
  }
  return std::nullopt;
}

// Steps over a scalar Mul or Div (scalarFactor) that makes `value` and that
// only *reader reads: multiplies *scale by its factor, adds it to *pattern,
// makes it the reader and returns its input. Else returns `value` unchanged.
int peelScalarFactor(const Graph& graph, const Uses& uses, int value, int* reader, float* scale,
                     std::vector<int>* pattern) {
  const int p = producerOf(uses, value);
  if (p < 0 || !onlyReadBy(uses, value, *reader)) return value;
  int input = -1;
  const std::optional<float> factor = scalarFactor(graph, graph.nodes[p], &input);
  if (!factor) return value;
  *scale *= *factor;
  pattern->push_back(p);
  *reader = p;
  return input;
}

// A Slice of `data` along its last axis (rank 3, step 1, constant bounds) whose
// result is `width` columns wide: the first column, else nullopt.
std::optional<int64_t> lastAxisSliceStart(const Graph& graph, const Node& slice, int64_t width) {
  if (slice.op != "Slice" || slice.inputs.size() < 4 || slice.inputs.size() > 5) return std::nullopt;
  const Shape& data = graph.values[slice.inputs[0]].shape;
  auto single = [&](size_t i) -> std::optional<int64_t> {
    const ConstantData* c = i < slice.inputs.size() ? constantOf(graph, slice.inputs[i]) : nullptr;
    if (!c || c->storage != Storage::kInt64 || c->elements() != 1) return std::nullopt;
    return c->int64s()[0];
  };
  const std::optional<int64_t> start = single(1), axis = single(3);
  if (data.size() != 3 || data[2] <= 0 || !start || !axis || (*axis != 2 && *axis != -1)) return std::nullopt;
  if (slice.inputs.size() == 5 && single(4) != std::optional<int64_t>(1)) return std::nullopt;
  const int64_t first = *start < 0 ? *start + data[2] : *start;
  if (first < 0 || first + width > data[2]) return std::nullopt;
  return first;
}

// `x` = Transpose(Reshape(src), perm), read only by node `reader`, where the
// Reshape splits src [T, N, H * d] into [T, N * H, d]; src may itself be a
// Slice of a wider [T, N, F] along its last axis, read only by the Reshape.
std::optional<HeadSource> headSplit(const Graph& graph, const Uses& uses, int x, int reader,
                                    const std::vector<int64_t>& perm) {
  const int t = producerOf(uses, x);
  if (t < 0 || !onlyReadBy(uses, x, reader)) return std::nullopt;
  const Node& transpose = graph.nodes[t];
  if (transpose.op != "Transpose" || transpose.inputs.size() != 1 || transpose.getInts("perm") != perm)
    return std::nullopt;
  const int reshaped = transpose.inputs[0];
  const int r = producerOf(uses, reshaped);
  if (r < 0 || !onlyReadBy(uses, reshaped, t) || graph.nodes[r].op != "Reshape") return std::nullopt;
  const int src = graph.nodes[r].inputs[0];
  const Shape &from = graph.values[src].shape, &to = graph.values[reshaped].shape;
  // T and the features known; N may be dynamic (-1), and then N * H is too.
  if (from.size() != 3 || to.size() != 3 || from[0] <= 0 || from[0] != to[0] || from[2] <= 0 || to[2] <= 0 ||
      from[2] % to[2] != 0)
    return std::nullopt;
  HeadSource s;
  s.headDim = to[2];
  s.heads = from[2] / to[2];
  const bool groupsKnown = from[1] > 0, headsKnown = to[1] > 0;
  if (groupsKnown != headsKnown || (groupsKnown && to[1] != from[1] * s.heads)) return std::nullopt;
  s.value = src;
  s.nodes = {t, r};
  const int sl = producerOf(uses, src);
  if (sl >= 0 && onlyReadBy(uses, src, r)) {
    const std::optional<int64_t> start = lastAxisSliceStart(graph, graph.nodes[sl], from[2]);
    const Shape& data = graph.values[graph.nodes[sl].inputs[0]].shape;
    if (start && data[0] == from[0] && data[1] == from[1]) {
      s.value = graph.nodes[sl].inputs[0];
      s.start = *start;
      s.nodes.push_back(sl);
    }
  }
  return s;
}

}  // namespace

int fuseAttention(Graph& graph) {
  const Uses uses = findUses(graph);
  std::vector<bool> dead(graph.nodes.size(), false);
  int fused = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    // From the end: Y = Transpose(MatMul(Softmax(scores), Vh), perm [1, 0, 2]).
    const Node& merge = graph.nodes[i];
    if (merge.op != "Transpose" || merge.inputs.size() != 1 || merge.getInts("perm") != std::vector<int64_t>{1, 0, 2})
      continue;
    std::vector<int> pattern = {static_cast<int>(i)};
    const int attended = merge.inputs[0];
    const int m2 = producerOf(uses, attended);
    if (m2 < 0 || !onlyReadBy(uses, attended, static_cast<int>(i)) || graph.nodes[m2].op != "MatMul" ||
        graph.nodes[m2].inputs.size() != 2 || graph.nodes[m2].has("activation"))
      continue;
    pattern.push_back(m2);
    const int probabilities = graph.nodes[m2].inputs[0];
    const int sm = producerOf(uses, probabilities);
    if (sm < 0 || !onlyReadBy(uses, probabilities, m2) || graph.nodes[sm].op != "Softmax") continue;
    const int64_t axis = graph.nodes[sm].getInt("axis", -1);
    if (axis != -1 && axis != 2) continue;
    pattern.push_back(sm);
    // Scores, perhaps scaled: Q K^T (* or / a scalar).
    float scale = 1.0f;
    int reader = sm;
    const int scores = peelScalarFactor(graph, uses, graph.nodes[sm].inputs[0], &reader, &scale, &pattern);
    const int m1 = producerOf(uses, scores);
    if (m1 < 0 || !onlyReadBy(uses, scores, reader) || graph.nodes[m1].op != "MatMul" ||
        graph.nodes[m1].inputs.size() != 2 || graph.nodes[m1].has("activation"))
      continue;
    pattern.push_back(m1);
    // Q's heads, perhaps scaled first.
    int qReader = m1;
    const int q = peelScalarFactor(graph, uses, graph.nodes[m1].inputs[0], &qReader, &scale, &pattern);
    const std::optional<HeadSource> qh = headSplit(graph, uses, q, qReader, {1, 0, 2});
    const std::optional<HeadSource> kh = headSplit(graph, uses, graph.nodes[m1].inputs[1], m1, {1, 2, 0});
    const std::optional<HeadSource> vh = headSplit(graph, uses, graph.nodes[m2].inputs[1], m2, {1, 0, 2});
    if (!qh || !kh || !vh) continue;
    if (qh->headDim != kh->headDim || qh->headDim != vh->headDim || qh->heads != kh->heads || qh->heads != vh->heads)
      continue;
    for (const HeadSource* s : {&*qh, &*kh, &*vh}) pattern.insert(pattern.end(), s->nodes.begin(), s->nodes.end());
    bool taken = false;
    for (int n : pattern) taken |= dead[n];
    if (taken) continue;

    Node attention;
    attention.name = graph.nodes[m2].name;
    attention.op = "PetrelAttention";
    attention.inputs = {qh->value, kh->value, vh->value};
    attention.outputs = {merge.outputs[0]};
    attention.attributes["heads"] = qh->heads;
    attention.attributes["head_dim"] = qh->headDim;
    attention.attributes["q_start"] = qh->start;
    attention.attributes["k_start"] = kh->start;
    attention.attributes["v_start"] = vh->start;
    attention.attributes["scale"] = scale;
    for (int n : pattern) dead[n] = true;
    dead[i] = false;  // the last node of the pattern: its place keeps the order valid
    graph.nodes[i] = std::move(attention);
    ++fused;
  }
  eraseNodes(graph, dead);
  return fused;
}

// ---------------------------------------------------------------------------
// gatherAttentionQueries

namespace {

// A linear layer applied to each row of its first input alone: MatMul by a
// constant 2-D W (+ constant bias), or Gemm with A not transposed, constant B
// and a constant C that is the same for every row.
bool isRowWiseLinear(const Graph& graph, const Node& node) {
  if (node.op == "MatMul") {
    const std::optional<std::vector<size_t>> slots = rowInputs(graph, node, 0);
    return slots && *slots == std::vector<size_t>{0};
  }
  if (node.op != "Gemm" || node.inputs.size() < 2 || node.getInt("transA", 0) != 0) return false;
  if (!constantOf(graph, node.inputs[1])) return false;
  if (node.inputs.size() < 3 || node.inputs[2] < 0) return true;
  const ConstantData* c = constantOf(graph, node.inputs[2]);
  return c && (c->shape.size() <= 1 || (c->shape.size() == 2 && c->shape[0] == 1));
}

// The chain from a PetrelAttention's output to a Gather of some of its
// tokens, as torch's multi-head attention exports it (ViT's last layer):
//   Y = PetrelAttention(Q, K, V)           [T, N*H, d]
//   merged = Reshape(Y)                      [T*N, H*d]
//   projected = row-wise linear(merged)      [T*N, E]
//   split = Reshape(projected)               [T, N, E]
//   (Transpose(split), the token axis moved to the Gather's axis)
//   Gather(.., token indices)
// Node indices, -1 for an absent Transpose.
struct GatheredAttentionChain {
  int attention = -1, merge = -1, linear = -1, split = -1, transpose = -1;
};

std::optional<GatheredAttentionChain> gatheredAttentionChain(const Graph& graph, const Uses& uses, int gatherNode,
                                                             int64_t axis) {
  GatheredAttentionChain chain;
  int reader = gatherNode;
  int value = graph.nodes[gatherNode].inputs[0];
  // Steps to the producer of `value` if it is read only by `reader`.
  auto up = [&](int* node) {
    *node = producerOf(uses, value);
    if (*node < 0 || !onlyReadBy(uses, value, reader)) return false;
    reader = *node;
    value = graph.nodes[*node].inputs.empty() ? -1 : graph.nodes[*node].inputs[0];
    return value >= 0;
  };
  int p = producerOf(uses, value);
  if (p >= 0 && graph.nodes[p].op == "Transpose") {
    const std::vector<int64_t> perm = graph.nodes[p].getInts("perm");
    if (perm.size() != 3 || perm[axis] != 0 || !up(&chain.transpose)) return std::nullopt;
  } else if (axis != 0) {
    return std::nullopt;
  }
  if (!up(&chain.split) || graph.nodes[chain.split].op != "Reshape") return std::nullopt;
  if (!up(&chain.linear) || !isRowWiseLinear(graph, graph.nodes[chain.linear])) return std::nullopt;
  if (!up(&chain.merge) || graph.nodes[chain.merge].op != "Reshape") return std::nullopt;
  if (!up(&chain.attention) || graph.nodes[chain.attention].op != "PetrelAttention") return std::nullopt;

  // The shapes, -1 where they depend on the batch: the token count T and the
  // widths known, N*H and N unknown or consistent.
  const Node& attention = graph.nodes[chain.attention];
  const int64_t heads = attention.getInt("heads", 0), d = attention.getInt("head_dim", 0);
  const Shape& y = graph.values[attention.outputs[0]].shape;
  const Shape& merged = graph.values[graph.nodes[chain.merge].outputs[0]].shape;
  const Shape& projected = graph.values[graph.nodes[chain.linear].outputs[0]].shape;
  const Shape& split = graph.values[graph.nodes[chain.split].outputs[0]].shape;
  const Shape& q = graph.values[attention.inputs[0]].shape;
  if (q.size() != 3 || y.size() != 3 || merged.size() != 2 || projected.size() != 2 || split.size() != 3)
    return std::nullopt;
  if (y[0] <= 0 || y[2] != d || merged[1] != heads * d || split[0] != y[0] || split[2] <= 0 ||
      projected[1] != split[2])
    return std::nullopt;
  const bool groupsKnown = split[1] > 0;
  if (groupsKnown != (y[1] > 0) || (groupsKnown && y[1] != split[1] * heads)) return std::nullopt;
  return chain;
}

}  // namespace

int gatherAttentionQueries(Graph& graph) {
  ValueNames names(graph);
  // Each rewrite changes only its own chain, whose values have one reader
  // each, so one look at the uses serves every Gather.
  const Uses uses = findUses(graph);
  std::vector<std::pair<int, Node>> queryGathers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const int64_t axis = rowGatherAxis(graph, graph.nodes[i]);
    if (axis < 0) continue;
    const ConstantData* indices = constantOf(graph, graph.nodes[i].inputs[1]);
    if (indices->shape.size() > 1) continue;
    const std::optional<GatheredAttentionChain> chain =
        gatheredAttentionChain(graph, uses, static_cast<int>(i), axis);
    if (!chain) continue;
    const int64_t count = indices->elements();
    if (count >= graph.values[graph.nodes[chain->attention].outputs[0]].shape[0]) continue;  // nothing to save
    Node& attention = graph.nodes[chain->attention];
    const int64_t width = attention.getInt("heads", 0) * attention.getInt("head_dim", 0);
    auto outputShape = [&](int node) -> Shape& { return graph.values[graph.nodes[node].outputs[0]].shape; };
    const Shape split = outputShape(chain->split);
    const int64_t groups = split[1];  // -1 if it depends on the batch
    auto int64Constant = [&](const std::string& base, Shape shape, std::vector<int64_t> values) {
      return addConstantValue(graph, names, base, ConstantData::fromInt64s(std::move(shape), values));
    };

    // Q's gathered tokens: a Gather along Q's token axis (1-D indices, so
    // that Q keeps its rank).
    const int q = attention.inputs[0];
    Value rows = graph.values[q];
    rows.constant = nullptr;
    rows.name = names.unique(rows.name + "_rows");
    rows.shape[0] = count;
    Node gatherQ;
    gatherQ.name = rows.name;
    gatherQ.op = "Gather";
    gatherQ.inputs = {q, int64Constant(rows.name + "_indices", {count},
                                       std::vector<int64_t>(indices->int64s(), indices->int64s() + count))};
    gatherQ.attributes["axis"] = int64_t{0};
    gatherQ.outputs = {graph.addValue(std::move(rows))};
    attention.inputs[0] = gatherQ.outputs[0];

    // Every value down the chain now has `count` tokens. The Reshapes get
    // constant targets: the dim that depends on the batch is inferred.
    const int64_t mergedRows = groups > 0 ? count * groups : -1;
    outputShape(chain->attention)[0] = count;
    graph.nodes[chain->merge].inputs[1] = int64Constant(graph.nodes[chain->merge].name + "_target", {2},
                                                        {mergedRows, width});
    outputShape(chain->merge)[0] = mergedRows;
    outputShape(chain->linear)[0] = mergedRows;
    graph.nodes[chain->split].inputs[1] =
        int64Constant(graph.nodes[chain->split].name + "_target", {3}, {count, groups, split[2]});
    outputShape(chain->split)[0] = count;
    if (chain->transpose >= 0) outputShape(chain->transpose)[axis] = count;
    // The Gather now picks every token left, in order.
    std::vector<int64_t> positions(count);
    for (int64_t t = 0; t < count; ++t) positions[t] = t;
    graph.nodes[i].inputs[1] = int64Constant(graph.nodes[i].name + "_positions", indices->shape, positions);
    queryGathers.emplace_back(chain->attention, std::move(gatherQ));
  }
  // From the last attention back, so that each insertion leaves the earlier positions as they are.
  std::sort(queryGathers.begin(), queryGathers.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (auto& [attention, gather] : queryGathers) graph.nodes.insert(graph.nodes.begin() + attention, std::move(gather));
  return static_cast<int>(queryGathers.size());
}

// ---------------------------------------------------------------------------
// removeDeadNodes, sortTopologically

namespace {

// Drops values no node, input or output refers to and renumbers the rest.
void removeUnusedValues(Graph& graph) {
  std::vector<bool> used(graph.values.size(), false);
  for (int id : graph.inputs) used[id] = true;
  for (int id : graph.outputs) used[id] = true;
  for (const Node& node : graph.nodes) {
    for (int id : node.inputs)
      if (id >= 0) used[id] = true;
    for (int id : node.outputs) used[id] = true;
  }
  std::vector<int> newId(graph.values.size(), -1);
  std::vector<Value> kept;
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (!used[v]) continue;
    newId[v] = static_cast<int>(kept.size());
    kept.push_back(std::move(graph.values[v]));
  }
  graph.values = std::move(kept);
  auto remap = [&](std::vector<int>& ids) {
    for (int& id : ids)
      if (id >= 0) id = newId[id];
  };
  remap(graph.inputs);
  remap(graph.outputs);
  for (Node& node : graph.nodes) {
    remap(node.inputs);
    remap(node.outputs);
  }
}

}  // namespace

int removeDeadNodes(Graph& graph) {
  std::vector<bool> live(graph.values.size(), false);
  for (int id : graph.outputs) live[id] = true;
  std::vector<bool> dead(graph.nodes.size(), true);
  int removed = 0;
  for (size_t k = graph.nodes.size(); k-- > 0;) {
    const Node& node = graph.nodes[k];
    bool needed = false;
    for (int id : node.outputs) needed |= live[id];
    if (!needed) {
      ++removed;
      continue;
    }
    dead[k] = false;
    for (int id : node.inputs)
      if (id >= 0) live[id] = true;
  }
  eraseNodes(graph, dead);
  removeUnusedValues(graph);
  return removed;
}

void sortTopologically(Graph& graph) {
  const size_t count = graph.nodes.size();
  std::vector<int> producer(graph.values.size(), -1);
  for (size_t i = 0; i < count; ++i)
    for (int id : graph.nodes[i].outputs) producer[id] = static_cast<int>(i);
  // pending[i]: input slots of node i whose producer has not been placed yet.
  std::vector<int> pending(count, 0);
  std::vector<std::vector<int>> dependents(count);
  for (size_t i = 0; i < count; ++i)
    for (int id : graph.nodes[i].inputs)
      if (id >= 0 && producer[id] >= 0) {
        ++pending[i];
        dependents[producer[id]].push_back(static_cast<int>(i));
      }
  // Always place the earliest ready node: an already sorted graph is unchanged.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < count; ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<Node> sorted;
  sorted.reserve(count);
  std::vector<bool> placed(count, false);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    placed[i] = true;
    sorted.push_back(graph.nodes[i]);
    for (int d : dependents[i])
      if (--pending[d] == 0) ready.push(d);
  }
  if (sorted.size() != count) {
    for (size_t i = 0; i < count; ++i)
      if (!placed[i]) throw Error(graph.nodes[i].describe() + ": the graph has a cycle through this node");
  }
  graph.nodes = std::move(sorted);
}

}  // namespace petrel
