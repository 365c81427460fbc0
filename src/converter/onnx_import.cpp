#include "converter/onnx_import.h"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "converter/onnx_tensors.h"
#include "graph/passes.h"
#include "ops/op.h"
#include "petrel/error.h"
#include "petrel/petrel.h"

namespace petrel {

namespace {

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;

bool isDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// "node 'name' (op Conv)": how the converter's messages name a node.
std::string nodeLabel(const std::string& name, const std::string& op) { return "node '" + name + "' (op " + op + ")"; }

std::string unsupportedOperator(const std::string& name, const std::string& op) {
  return nodeLabel(name, op) + ": operator is not supported by Petrel";
}

// Unnamed nodes get "<op>_<index>", so every message can name its node.
void nameNodes(onnx::GraphProto& graph) {
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    if (node.name().empty()) node.set_name(node.op_type() + "_" + std::to_string(i));
  }
}

void log(const ConvertOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

// ---------------------------------------------------------------------------
// Model-level checks, before anything is converted.

// The opset of the default domain; Error if missing or outside 11..17.
int64_t defaultOpset(const onnx::ModelProto& model, const std::string& source) {
  int64_t opset = -1;
  for (const auto& entry : model.opset_import())
    if (isDefaultDomain(entry.domain())) opset = entry.version();
  if (opset < 0) throw Error(source + ": the model imports no opset of the default ONNX domain");
  if (opset < kMinOpset || opset > kMaxOpset)
    throw Error(source + ": opset " + std::to_string(opset) + " is not supported (Petrel supports opsets " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  return opset;
}

// Every node is of the default domain and of an op ONNX defines at `opset`.
// (Whether Petrel has a planner for it is checked after the passes, which
// remove or replace some ops.)
void checkNodes(const onnx::GraphProto& graph, int64_t opset) {
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    const std::string& name = node.name();
    if (!isDefaultDomain(node.domain()))
      throw Error(nodeLabel(name, node.op_type()) + ": domain '" + node.domain() +
                  "' is not supported by Petrel (only the default ONNX domain)");
    if (!onnx::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(opset), "")) {
      if (onnx::OpSchemaRegistry::Schema(node.op_type(), ""))
        throw Error(nodeLabel(name, node.op_type()) + ": operator does not exist in opset " +
                    std::to_string(opset));
      throw Error(unsupportedOperator(name, node.op_type()));
    }
  }
  if (graph.sparse_initializer_size() > 0) throw Error("sparse initializers are not supported by Petrel");
}

void checkIsModel(const onnx::ModelProto& model, const std::string& source) {
  if (model.ir_version() <= 0 || !model.has_graph() || model.opset_import_size() == 0)
    throw Error(source + " is not an ONNX model (no IR version, graph or opset)");
}

// The tensor a Constant node produces.
onnx::TensorProto constantNodeTensor(const onnx::NodeProto& node) {
  const std::string what = "Constant '" + node.name() + "'";
  if (node.output_size() != 1 || node.attribute_size() != 1) throw Error(what + ": needs one output and one attribute");
  const onnx::AttributeProto& a = node.attribute(0);
  onnx::TensorProto t;
  if (a.name() == "value") {
    t = a.t();
  } else if (a.name() == "value_float") {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_float_data(a.f());
  } else if (a.name() == "value_floats") {
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(a.floats_size());
    *t.mutable_float_data() = a.floats();
  } else if (a.name() == "value_int") {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_int64_data(a.i());
  } else if (a.name() == "value_ints") {
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(a.ints_size());
    *t.mutable_int64_data() = a.ints();
  } else {
    throw Error(what + ": attribute '" + a.name() + "' is not supported by Petrel");
  }
  t.set_name(node.output(0));
  return t;
}

// Constant nodes become initializers before shape inference, so ONNX's
// inference sees their values (Reshape targets, Slice starts ...) and the
// builder has one kind of constant.
void hoistConstantNodes(onnx::GraphProto& graph) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    if (node.op_type() == "Constant")
      *graph.add_initializer() = constantNodeTensor(node);
    else
      *kept.Add() = std::move(node);
  }
  graph.mutable_node()->Swap(&kept);
}

void inferShapes(onnx::ModelProto& model) {
  // Data propagation lets shape inference follow Shape -> Gather -> Concat ->
  // Reshape, so values after such a Reshape get known shapes too.
  onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/1, /*data_prop=*/true);
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    throw Error("ONNX shape inference failed (malformed model?): " + what);
  }
}

// ---------------------------------------------------------------------------
// ONNX graph -> Petrel graph

class GraphBuilder {
 public:
  GraphBuilder(const onnx::GraphProto& proto, int64_t opset) : proto_(proto), opset_(opset) {}

  Graph build() {
    collectTypes();
    addInputsAndInitializers();
    // Every node output gets its value first, so nodes may refer to values
    // produced later in the file (the graph is sorted afterwards).
    for (const auto& node : proto_.node()) addNodeOutputs(node);
    for (const auto& node : proto_.node()) addNode(node);
    for (const auto& output : proto_.output()) graph_.outputs.push_back(lookup(output.name(), "graph output"));
    return std::move(graph_);
  }

 private:
  void collectTypes() {
    for (const auto& v : proto_.input()) types_[v.name()] = &v.type();
    for (const auto& v : proto_.value_info()) types_[v.name()] = &v.type();
    for (const auto& v : proto_.output()) types_[v.name()] = &v.type();
    for (const auto& v : proto_.input()) names_.insert(v.name());
    for (const auto& t : proto_.initializer()) names_.insert(t.name());
    for (const auto& n : proto_.node())
      for (const auto& o : n.output()) names_.insert(o);
  }

  std::string uniqueName(const std::string& base) {
    std::string name = base;
    for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
    names_.insert(name);
    return name;
  }

  // A new value named `name`, typed from shape inference when known.
  int defineValue(const std::string& name, const std::string& definer) {
    if (ids_.count(name)) throw Error(definer + ": value '" + name + "' is defined twice");
    Value v;
    v.name = name;
    auto it = types_.find(name);
    if (it != types_.end() && it->second->has_tensor_type()) {
      const int elemType = it->second->tensor_type().elem_type();
      if (elemType != onnx::TensorProto::UNDEFINED) v.dtype = petrelDTypeOf(elemType, "value '" + name + "'");
      shapeOfType(*it->second, &v.shape);
    } else if (it != types_.end() && it->second->value_case() != onnx::TypeProto::VALUE_NOT_SET) {
      throw Error("value '" + name + "' is not a tensor (sequences, maps and optionals are not supported)");
    }
    const int id = graph_.addValue(std::move(v));
    ids_[name] = id;
    return id;
  }

  int lookup(const std::string& name, const std::string& user) const {
    auto it = ids_.find(name);
    if (it == ids_.end())
      throw Error(user + ": value '" + name + "' is not a graph input, an initializer or a node output");
    return it->second;
  }

  // Known rank of a value from shape inference, or -1.
  int64_t inferredRank(int id) const {
    auto it = types_.find(graph_.values[id].name);
    Shape shape;
    if (it == types_.end() || !shapeOfType(*it->second, &shape)) return -1;
    return static_cast<int64_t>(shape.size());
  }

  int addConstant(const std::string& baseName, std::shared_ptr<ConstantData> data) {
    Value v;
    v.name = uniqueName(baseName);
    v.dtype = data->storage == Storage::kInt64 ? DType::kInt64 : DType::kFloat32;
    v.shape = data->shape;
    v.constant = std::move(data);
    const int id = graph_.addValue(std::move(v));
    ids_[graph_.values[id].name] = id;
    return id;
  }

  int addIntermediate(const std::string& baseName, DType dtype, Shape shape) {
    Value v;
    v.name = uniqueName(baseName);
    v.dtype = dtype;
    v.shape = std::move(shape);
    const int id = graph_.addValue(std::move(v));
    ids_[graph_.values[id].name] = id;
    return id;
  }

  void addInputsAndInitializers() {
    std::unordered_set<std::string> initializerNames;
    for (const auto& t : proto_.initializer()) initializerNames.insert(t.name());
    for (const auto& input : proto_.input()) {
      if (initializerNames.count(input.name())) continue;  // a constant with a default, not an input
      const int id = defineValue(input.name(), "graph input");
      if (graph_.values[id].dtype != DType::kFloat32)
        throw Error("graph input '" + input.name() + "' is not a float tensor; Petrel's inputs are float32");
      graph_.inputs.push_back(id);
    }
    for (const auto& t : proto_.initializer()) {
      if (ids_.count(t.name())) throw Error("initializer '" + t.name() + "' is defined twice");
      Value v;
      v.name = t.name();
      v.constant = tensorToConstant(t, "initializer '" + t.name() + "'");
      v.dtype = v.constant->storage == Storage::kInt64 ? DType::kInt64 : DType::kFloat32;
      v.shape = v.constant->shape;
      ids_[t.name()] = graph_.addValue(std::move(v));
    }
  }

  void addNodeOutputs(const onnx::NodeProto& proto) {
    const std::string definer = nodeLabel(proto.name(), proto.op_type());
    for (const auto& output : proto.output())
      if (!output.empty()) defineValue(output, definer);
  }

  void addNode(const onnx::NodeProto& proto) {
    const std::string& name = proto.name();
    Node node;
    node.name = name;
    node.op = proto.op_type();
    const std::string description = nodeLabel(node.name, node.op);
    for (const auto& a : proto.attribute()) node.attributes[a.name()] = attributeToValue(a, description);
    for (const auto& input : proto.input())
      node.inputs.push_back(input.empty() ? -1 : lookup(input, description));
    // Omitted optional outputs: trailing ones are dropped, others get an unused value.
    int outputCount = proto.output_size();
    while (outputCount > 0 && proto.output(outputCount - 1).empty()) --outputCount;
    for (int o = 0; o < outputCount; ++o) {
      const std::string& output = proto.output(o);
      node.outputs.push_back(output.empty() ? addIntermediate(name + "_unused", DType::kFloat32, {})
                                            : lookup(output, description));
    }
    if (opset_ < 13) {
      normaliseOpset11(node);
      if (isSoftmaxFamily(node.op)) {
        addSoftmaxOpset11(std::move(node));
        return;
      }
    }
    graph_.nodes.push_back(std::move(node));
  }

  // Opset 11-12 passed these parameters as attributes; opset 13 as inputs.
  void normaliseOpset11(Node& node) {
    const char* key = nullptr;
    if (node.op == "Squeeze" || node.op == "Unsqueeze" || node.op == "ReduceSum") key = "axes";
    if (node.op == "Split") key = "split";
    if (!key || !node.has(key)) return;
    const std::vector<int64_t> values = node.getInts(key);
    node.attributes.erase(key);
    const int64_t n = static_cast<int64_t>(values.size());
    node.inputs.resize(1);
    node.inputs.push_back(addConstant(node.name + "_" + key, ConstantData::fromInt64s({n}, values)));
  }

  static bool isSoftmaxFamily(const std::string& op) {
    return op == "Softmax" || op == "LogSoftmax" || op == "Hardmax";
  }

  // Before opset 13, Softmax coerced its input to 2-D at `axis` (default 1) and
  // normalised over everything after it. On the last axis that equals the
  // opset-13 form; otherwise (or when the rank is unknown)
  // Flatten(axis) -> Softmax(-1) -> Reshape(Shape(x)), which holds for any rank.
  void addSoftmaxOpset11(Node node) {
    const int x = node.inputs.at(0);
    const int64_t rank = inferredRank(x);
    int64_t axis = node.getInt("axis", 1);
    if (rank >= 0) {
      if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
        throw Error(nodeLabel(node.name, node.op) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                    std::to_string(rank));
      if (axis < 0) axis += rank;
    }
    if ((rank >= 0 && axis >= rank - 1) || axis == -1) {
      node.attributes["axis"] = int64_t{-1};
      graph_.nodes.push_back(std::move(node));
      return;
    }
    const Value in = graph_.values[x];  // a copy: adding values below moves the vector
    const int y = node.outputs.at(0);
    Shape flatShape = {-1, -1};
    if (!in.shape.empty()) {
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= in.shape[d];
      bool known = true;
      for (int64_t d : in.shape) known &= d >= 0;
      if (known) flatShape = {outer, inner};
    }
    const int flat = addIntermediate(in.name + "_flat2d", DType::kFloat32, flatShape);
    const int normalised = addIntermediate(graph_.values[y].name + "_2d", DType::kFloat32, flatShape);
    const int shape = addIntermediate(in.name + "_shape", DType::kInt64, rank >= 0 ? Shape{rank} : Shape{});

    Node flatten;
    flatten.name = node.name + "/flatten";
    flatten.op = "Flatten";
    flatten.attributes["axis"] = axis;
    flatten.inputs = {x};
    flatten.outputs = {flat};
    Node shapeOf;
    shapeOf.name = node.name + "/shape";
    shapeOf.op = "Shape";
    shapeOf.inputs = {x};
    shapeOf.outputs = {shape};
    Node reshape;
    reshape.name = node.name + "/reshape";
    reshape.op = "Reshape";
    reshape.inputs = {normalised, shape};
    reshape.outputs = {y};
    node.attributes["axis"] = int64_t{-1};
    node.inputs = {flat};
    node.outputs = {normalised};
    graph_.nodes.push_back(std::move(flatten));
    graph_.nodes.push_back(std::move(node));
    graph_.nodes.push_back(std::move(shapeOf));
    graph_.nodes.push_back(std::move(reshape));
  }

  const onnx::GraphProto& proto_;
  const int64_t opset_;
  std::unordered_map<std::string, const onnx::TypeProto*> types_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_set<std::string> names_;
  Graph graph_;
};

// ---------------------------------------------------------------------------

// True if a pass that reads shapes would meet a value whose shape ONNX's
// inference left unknown: the data of a Gather with constant indices
// (hoistRowGathers) or a Reshape's output (fuseAttention's head splits).
bool passNeedsUnknownShapes(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    if (node.op == "Gather" && node.inputs.size() == 2 && node.inputs[0] >= 0 && node.inputs[1] >= 0 &&
        graph.values[node.inputs[1]].isConstant() && graph.values[node.inputs[0]].shape.empty())
      return true;
    if (node.op == "Reshape" && graph.values[node.outputs[0]].shape.empty()) return true;
  }
  return false;
}

// ONNX's shape inference gives up after a Reshape to a computed shape (ViT's
// attention, and every value after it). Petrel's planner computes them all:
// the graph is planned with its dynamic dims at 1 and at 2 (memory mode low:
// no weights are transformed), and a dim equal in both plans is known, any
// other is -1 - the meaning Value::shape has for a dynamic batch. A graph the
// planner refuses keeps the shapes it had; converting it reports the problem.
void fillShapesByPlanning(Graph& graph, const ConvertOptions& options) {
  std::vector<std::vector<NodePlan>> plans;
  try {
    SessionConfig config;
    config.memory = MemoryMode::kLow;
    Session session(Model::fromGraph(graph), config);
    for (int64_t size : {1, 2}) {
      std::map<std::string, std::vector<int64_t>> inputs;
      for (int id : graph.inputs) {
        Shape shape = graph.values[id].shape;
        for (int64_t& d : shape) d = d < 0 ? size : d;
        inputs[graph.values[id].name] = shape;
      }
      session.resize(inputs);
      plans.push_back(session.plan());
    }
  } catch (const Error& e) {
    log(options, std::string("shapes left as ONNX inferred them: planning failed: ") + e.what());
    return;
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const Shape& one = plans[0][n].outputShapes[o];
      const Shape& two = plans[1][n].outputShapes[o];
      if (one.size() != two.size()) continue;
      Shape known(one.size());
      for (size_t d = 0; d < one.size(); ++d) known[d] = one[d] == two[d] ? one[d] : -1;
      graph.values[node.outputs[o]].shape = std::move(known);
    }
  }
}

std::string megabytes(size_t bytes) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << bytes / 1e6 << " MB";
  return out.str();
}

Graph convert(onnx::ModelProto& model, const std::string& source, const ConvertOptions& options,
              ConvertReport* report) {
  checkIsModel(model, source);
  const int64_t opset = defaultOpset(model, source);
  nameNodes(*model.mutable_graph());
  checkNodes(model.graph(), opset);
  log(options, source + ": ir_version " + std::to_string(model.ir_version()) + ", opset " + std::to_string(opset) +
                   ", " + std::to_string(model.graph().node_size()) + " nodes, " +
                   std::to_string(model.graph().initializer_size()) + " initializers");
  ConvertReport r;
  r.onnxNodes = model.graph().node_size();
  hoistConstantNodes(*model.mutable_graph());
  inferShapes(model);

  Graph graph = GraphBuilder(model.graph(), opset).build();
  sortTopologically(graph);
  log(options, "imported " + std::to_string(graph.nodes.size()) + " nodes and " +
                   std::to_string(model.graph().initializer_size()) + " constants (Constant nodes included)");

  const int unused = removeDeadNodes(graph);
  if (unused) log(options, "removed " + std::to_string(unused) + " nodes that do not reach an output");
  r.removedNoOps = removeNoOps(graph);
  log(options, "removed " + std::to_string(r.removedNoOps) + " no-op nodes (Identity, Dropout, Cast)");
  const int einsums = rewriteEinsum(graph);
  if (einsums) log(options, "rewrote " + std::to_string(einsums) + " Einsum nodes as MatMul");
  r.foldedConstants = foldConstants(graph);
  log(options, "folded " + std::to_string(r.foldedConstants) + " constant nodes");
  const BatchNormFoldCounts bn = foldBatchNorm(graph);
  r.foldedBatchNorms = bn.intoConv;
  log(options, "folded " + std::to_string(bn.intoConv) + " BatchNormalization into Conv" +
                   (bn.toMulAdd ? ", " + std::to_string(bn.toMulAdd) + " became Mul+Add" : std::string()));
  const int gelus = fuseGelu(graph);
  if (gelus) log(options, "fused " + std::to_string(gelus) + " Gelu patterns");
  r.fusedBiasAdds = fuseMatMulBias(graph);
  if (r.fusedBiasAdds) log(options, "fused " + std::to_string(r.fusedBiasAdds) + " bias Adds into their MatMul");
  r.fusedActivations = fuseActivations(graph);
  log(options, "fused " + std::to_string(r.fusedActivations) + " activations");
  r.fusedResidualAdds = fuseResidualAdds(graph);
  if (r.fusedResidualAdds) log(options, "fused " + std::to_string(r.fusedResidualAdds) + " residual Adds into their Conv");
  r.fusedMaxPools = fuseConvMaxPool(graph);
  if (r.fusedMaxPools) log(options, "fused " + std::to_string(r.fusedMaxPools) + " MaxPools into their Conv");
  sortTopologically(graph);  // a fused Conv may now read a value produced after it; removeDeadNodes needs the order
  const int dead = removeDeadNodes(graph);
  if (dead) log(options, "removed " + std::to_string(dead) + " dead nodes");
  sortTopologically(graph);
  if (passNeedsUnknownShapes(graph)) {
    fillShapesByPlanning(graph, options);
    // Shape chains over values whose shapes are now known fold too (the
    // attention's Slice bounds, Reshape targets).
    const int folded = foldConstants(graph);
    if (folded) {
      log(options, "folded " + std::to_string(folded) + " more constant nodes with the planned shapes");
      r.foldedConstants += folded;
      removeDeadNodes(graph);
    }
  }
  r.hoistedGathers = hoistRowGathers(graph);
  if (r.hoistedGathers) {
    log(options, "moved " + std::to_string(r.hoistedGathers) + " Gathers above the row-wise ops that fed them");
    sortTopologically(graph);
    removeDeadNodes(graph);  // the values those ops wrote before
  }
  r.fusedAttentions = fuseAttention(graph);
  if (r.fusedAttentions) {
    log(options, "fused " + std::to_string(r.fusedAttentions) + " multi-head attentions into PetrelAttention nodes");
    removeDeadNodes(graph);  // the constants of the Reshapes and Slices it replaced
    r.gatheredAttentionQueries = gatherAttentionQueries(graph);
    if (r.gatheredAttentionQueries) {
      log(options, "narrowed " + std::to_string(r.gatheredAttentionQueries) +
                       " attentions to the tokens a Gather reads from them");
      removeDeadNodes(graph);  // the Reshapes' former targets
    }
  }
  graph.validate();

  for (const Node& node : graph.nodes) {
    if (!findOp(node.op)) throw Error(unsupportedOperator(node.name, node.op));
    ++r.opCounts[node.op];
  }
  r.petrelNodes = static_cast<int>(graph.nodes.size());
  std::string counts;
  for (const auto& [op, n] : r.opCounts) counts += " " + op + "=" + std::to_string(n);
  log(options, "result: " + std::to_string(r.petrelNodes) + " nodes, " + megabytes(graph.constantBytes()) +
                   " of constants;" + counts);
  if (report) *report = r;
  return graph;
}

onnx::ModelProto readModelFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error("cannot read '" + path + "': no such file");
  if (std::filesystem::is_directory(path, ec)) throw Error("cannot read '" + path + "': it is a directory");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  const std::streamsize size = in.tellg();
  in.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (size < 0 || !in.read(bytes.data(), size)) throw Error("cannot read '" + path + "'");
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes))
    throw Error("'" + path + "' is not an ONNX model (it does not parse as an ONNX protobuf message)");
  return model;
}

// Reads a tensor's external data (ONNX keeps tensors of models over 2 GB in
// side files: key "location" relative to the model's folder, optional
// "offset" and "length") into its raw_data, so the rest of the import sees
// an ordinary tensor.
void loadExternalTensor(onnx::TensorProto& tensor, const std::filesystem::path& modelDir) {
  if (tensor.data_location() != onnx::TensorProto::EXTERNAL) return;
  const std::string what = "tensor '" + tensor.name() + "'";
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      if (entry.key() == "offset") offset = std::stoll(entry.value());
      if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      throw Error(what + ": external data " + entry.key() + " '" + entry.value() + "' is not a number");
    }
  }
  const std::filesystem::path relative(location);
  if (location.empty() || relative.is_absolute() ||
      std::find(relative.begin(), relative.end(), std::filesystem::path("..")) != relative.end())
    throw Error(what + ": external data location '" + location +
                "' must be a file name relative to the model's folder, without '..'");
  const std::filesystem::path file = modelDir / relative;
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) throw Error(what + ": cannot open its external data file '" + file.string() + "'");
  const int64_t fileSize = static_cast<int64_t>(in.tellg());
  if (length < 0) length = fileSize - offset;
  if (offset < 0 || length < 0 || offset > fileSize || length > fileSize - offset)
    throw Error(what + ": external data range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                ") is outside '" + file.string() + "' (" + std::to_string(fileSize) + " bytes)");
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  if (!in.read(bytes.data(), length)) throw Error(what + ": cannot read '" + file.string() + "'");
  tensor.set_raw_data(std::move(bytes));
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::DEFAULT);
}

void loadExternalData(onnx::ModelProto& model, const std::filesystem::path& modelDir) {
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) loadExternalTensor(tensor, modelDir);
  for (onnx::NodeProto& node : *model.mutable_graph()->mutable_node())
    for (onnx::AttributeProto& attribute : *node.mutable_attribute())
      if (attribute.has_t()) loadExternalTensor(*attribute.mutable_t(), modelDir);
}

}  // namespace

Graph importOnnx(const std::string& onnxPath, const ConvertOptions& options, ConvertReport* report) {
  onnx::ModelProto model = readModelFile(onnxPath);
  loadExternalData(model, std::filesystem::path(onnxPath).parent_path());
  return convert(model, "'" + onnxPath + "'", options, report);
}

Graph importOnnx(const onnx::ModelProto& model, const ConvertOptions& options, ConvertReport* report) {
  onnx::ModelProto copy = model;
  return convert(copy, "model", options, report);
}

}  // namespace petrel
