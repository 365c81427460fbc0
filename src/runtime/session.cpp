// Session: planning (shapes, static values, executors, memory plan) and running.
//
// Every value of the graph ends up in one of these places:
//   constant   - stored in the model (weights); read in place
//   static     - computed while planning (shape arithmetic, folded values)
//   user input - the caller's input tensor, read in place during run()
//   arena      - an intermediate float tensor at a planned offset of the arena
// Values produced by an alias (Reshape, Flatten, ...) share their source's place.
// The inputs of a Concat whose parts are contiguous blocks of its output (the
// channel axis at batch 1) are written in place, as slices of the output:
// the Concat itself then does nothing.
#include <algorithm>
#include <chrono>
#include <cstring>

#include <unistd.h>

#include "graph/graph.h"
#include "memory/allocator.h"
#include "memory/arena_planner.h"
#include "ops/op.h"
#include "petrel/petrel.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

enum class Place { kUnplanned, kConstant, kStatic, kUserInput, kArena };

struct ValueState {
  Place place = Place::kUnplanned;
  DType dtype = DType::kFloat32;
  Shape shape;
  int aliasOf = -1;                         // source value when produced by an alias
  const StaticTensor* staticValue = nullptr;  // for kStatic, and small kConstant
  int userInput = -1;                       // index into graph.inputs for kUserInput
  int arenaBuffer = -1;                     // index of the arena buffer for kArena
  size_t arenaOffset = 0;                   // bytes into that buffer (a slice of a Concat's output)
};

struct Step {
  int node = -1;
  std::unique_ptr<Executor> executor;
  std::vector<int> inputs;   // root value ids, -1 if absent
  std::vector<int> outputs;  // root value ids
  bool inPlace = false;      // a Concat whose inputs were written into its output: nothing to run
};

Shape defaultShape(const Shape& declared) {
  Shape shape = declared;
  for (int64_t& d : shape)
    if (d < 0) d = 1;
  return shape;
}

}  // namespace

class SessionImpl {
 public:
  SessionImpl(std::shared_ptr<const Model> model, SessionConfig config)
      : model_(std::move(model)), graph_(model_->graph()), config_(config) {
    if (config_.threads < 1) throw Error("thread count must be at least 1, got " + std::to_string(config_.threads));
    pool_ = std::make_unique<ThreadPool>(config_.threads);
    for (int id : graph_.inputs) inputShapes_[graph_.values[id].name] = defaultShape(graph_.values[id].shape);
    plan();
  }

  void resize(const std::map<std::string, std::vector<int64_t>>& shapes) {
    for (const auto& [name, shape] : shapes) {
      auto it = inputShapes_.find(name);
      if (it == inputShapes_.end()) throw Error("resize: the model has no input named '" + name + "'");
      const Shape& declared = declaredShape(name);
      if (shape.size() != declared.size())
        throw Error("resize: input '" + name + "' has rank " + std::to_string(declared.size()) + ", got shape " +
                    shapeToString(shape));
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] <= 0) throw Error("resize: input '" + name + "' shape " + shapeToString(shape) + " has a non-positive dimension");
        if (declared[d] >= 0 && declared[d] != shape[d])
          throw Error("resize: input '" + name + "' dimension " + std::to_string(d) + " is fixed to " +
                      std::to_string(declared[d]) + " by the model, got " + std::to_string(shape[d]));
      }
    }
    for (const auto& [name, shape] : shapes) inputShapes_[name] = shape;
    plan();
  }

  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) {
    for (const auto& [name, tensor] : inputs)
      if (!inputShapes_.count(name)) throw Error("unknown input '" + name + "' (model inputs: " + inputNames() + ")");
    for (size_t i = 0; i < graph_.inputs.size(); ++i) {
      const std::string& name = graph_.values[graph_.inputs[i]].name;
      auto it = inputs.find(name);
      if (it == inputs.end()) throw Error("input '" + name + "' is missing");
      const Shape& expected = values_[graph_.inputs[i]].shape;
      if (it->second.shape != expected)
        throw Error("input '" + name + "' has shape " + shapeToString(it->second.shape) + ", expected " +
                    shapeToString(expected) + (sameRank(it->second.shape, expected) ? " (call resize() for another batch size)" : ""));
      if (static_cast<int64_t>(it->second.data.size()) != shapeElements(expected))
        throw Error("input '" + name + "' has " + std::to_string(it->second.data.size()) + " values for shape " +
                    shapeToString(expected));
      userInputs_[i] = it->second.data.data();
    }

    RunArgs args;
    args.scratch = scratch_.get();
    args.pool = pool_.get();
    for (size_t s = 0; s < steps_.size(); ++s) {
      const Step& step = steps_[s];
      if (step.inPlace) continue;
      args.inputs.clear();
      args.outputs.clear();
      for (int id : step.inputs) args.inputs.push_back(id < 0 ? nullptr : pointerOf(id));
      for (int id : step.outputs) args.outputs.push_back(const_cast<float*>(pointerOf(id)));
      if (profiling_) {
        const auto start = std::chrono::steady_clock::now();
        step.executor->run(args);
        stepMilliseconds_[s] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      } else {
        step.executor->run(args);
      }
    }

    std::map<std::string, Tensor> outputs;
    for (int id : graph_.outputs) {
      const ValueState& v = values_[id];
      Tensor tensor(v.shape);
      const int root = rootOf(id);
      if (values_[root].dtype == DType::kInt64) {
        for (int64_t i = 0; i < tensor.elements(); ++i) tensor.data[i] = static_cast<float>(values_[root].staticValue->i64[i]);
      } else if (tensor.elements() > 0) {
        std::memcpy(tensor.data.data(), pointerOf(id), tensor.data.size() * sizeof(float));
      }
      outputs[graph_.values[id].name] = std::move(tensor);
    }
    for (auto& p : userInputs_) p = nullptr;
    return outputs;
  }

  const SessionConfig& config() const { return config_; }

  std::vector<NodePlan> nodePlans() const { return nodePlans_; }

  MemoryStats memoryStats() const { return stats_; }

  std::vector<TensorInfo> inputs() const {
    std::vector<TensorInfo> infos;
    for (int id : graph_.inputs) infos.push_back({graph_.values[id].name, values_[id].shape});
    return infos;
  }

  void setProfiling(bool enabled) { profiling_ = enabled; }

  std::vector<double> nodeMilliseconds() const {
    std::vector<double> perNode(graph_.nodes.size(), 0.0);
    for (size_t s = 0; s < steps_.size(); ++s) perNode[steps_[s].node] = stepMilliseconds_[s];
    return perNode;
  }

 private:
  const Shape& declaredShape(const std::string& name) const {
    for (int id : graph_.inputs)
      if (graph_.values[id].name == name) return graph_.values[id].shape;
    throw Error("no input named '" + name + "'");
  }

  static bool sameRank(const Shape& a, const Shape& b) { return a.size() == b.size(); }

  std::string inputNames() const {
    std::string names;
    for (int id : graph_.inputs) names += (names.empty() ? "" : ", ") + graph_.values[id].name;
    return names;
  }

  int rootOf(int id) const {
    while (values_[id].aliasOf >= 0) id = values_[id].aliasOf;
    return id;
  }

  const float* pointerOf(int id) const {
    const ValueState& root = values_[rootOf(id)];
    switch (root.place) {
      case Place::kArena:
        return reinterpret_cast<const float*>(arena_.get() + arenaPlan_.offsets[root.arenaBuffer] + root.arenaOffset);
      case Place::kUserInput: return userInputs_[root.userInput];
      case Place::kStatic: return root.dtype == DType::kFloat32 ? root.staticValue->f32.data() : nullptr;
      case Place::kConstant: {
        const ConstantData& c = *graph_.values[rootOf(id)].constant;
        return c.storage == Storage::kFloat32 ? c.floats() : nullptr;
      }
      case Place::kUnplanned: break;
    }
    return nullptr;
  }

  const StaticTensor* keepStatic(StaticTensor tensor) {
    statics_.push_back(std::make_unique<StaticTensor>(std::move(tensor)));
    return statics_.back().get();
  }

  void plan() {
    values_.assign(graph_.values.size(), ValueState{});
    steps_.clear();
    statics_.clear();
    nodePlans_.clear();
    stats_ = MemoryStats{};
    userInputs_.assign(graph_.inputs.size(), nullptr);

    for (size_t id = 0; id < graph_.values.size(); ++id) {
      const Value& value = graph_.values[id];
      if (!value.constant) continue;
      ValueState& v = values_[id];
      v.place = Place::kConstant;
      v.shape = value.constant->shape;
      v.dtype = value.constant->storage == Storage::kInt64 ? DType::kInt64 : DType::kFloat32;
      if (v.dtype == DType::kInt64 ||
          (value.constant->storage == Storage::kFloat32 && value.constant->elements() <= kSmallConstantElements)) {
        StaticTensor t;
        t.dtype = v.dtype;
        t.shape = v.shape;
        if (v.dtype == DType::kInt64)
          t.i64.assign(value.constant->int64s(), value.constant->int64s() + value.constant->elements());
        else
          t.f32.assign(value.constant->floats(), value.constant->floats() + value.constant->elements());
        v.staticValue = keepStatic(std::move(t));
      }
    }
    for (size_t i = 0; i < graph_.inputs.size(); ++i) {
      ValueState& v = values_[graph_.inputs[i]];
      v.place = Place::kUserInput;
      v.dtype = DType::kFloat32;
      v.shape = inputShapes_.at(graph_.values[graph_.inputs[i]].name);
      v.userInput = static_cast<int>(i);
    }

    // How many nodes still have to be planned that read each constant: when
    // the last one is planned and none reads it at run time, its file pages go.
    constantReadersLeft_.assign(graph_.values.size(), 0);
    constantReadAtRun_.assign(graph_.values.size(), false);
    for (const Node& node : graph_.nodes)
      for (int id : distinctInputs(node))
        if (graph_.values[id].constant) ++constantReadersLeft_[id];
    for (int id : graph_.outputs) constantReadAtRun_[id] = true;

    for (size_t n = 0; n < graph_.nodes.size(); ++n) planNode(static_cast<int>(n));
    planMemory();
  }

  void planNode(int nodeIndex) {
    const Node& node = graph_.nodes[nodeIndex];
    OpPlanner planner = findOp(node.op);
    if (!planner) throw Error(node.describe() + ": operator type '" + node.op + "' is not supported by Petrel");

    PlanContext ctx(node, config_);
    bool allStatic = true;
    for (int id : node.inputs) {
      OpInput in;
      if (id >= 0) {
        const ValueState& v = values_[id];
        in.present = true;
        in.dtype = v.dtype;
        in.shape = v.shape;
        in.value = v.staticValue;
        const int root = rootOf(id);
        if (values_[root].place == Place::kConstant && v.aliasOf < 0) in.constant = graph_.values[id].constant.get();
        allStatic = allStatic && in.isStatic();
      }
      ctx.inputs.push_back(in);
    }
    ctx.outputShapes.resize(node.outputs.size());
    ctx.staticOutputs.resize(node.outputs.size());
    std::unique_ptr<Executor> executor = planner(ctx);

    NodePlan nodePlan{node.name, node.op, "", {}};
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      for (int64_t d : ctx.outputShapes[o])
        if (d < 0) throw Error(node.describe() + ": planned output " + std::to_string(o) + " has negative shape " +
                               shapeToString(ctx.outputShapes[o]));
      ValueState& out = values_[node.outputs[o]];
      out.shape = ctx.outputShapes[o];
      nodePlan.outputShapes.push_back(out.shape);
    }

    if (ctx.aliasInput >= 0) {
      const int source = node.inputs.at(ctx.aliasInput);
      ValueState& out = values_[node.outputs[0]];
      const ValueState& in = values_[source];
      if (shapeElements(out.shape) != shapeElements(in.shape))
        throw Error(node.describe() + ": reshaped output " + shapeToString(out.shape) + " does not match input " +
                    shapeToString(in.shape));
      out.dtype = in.dtype;
      if (in.staticValue) {
        StaticTensor t = *in.staticValue;
        t.shape = out.shape;
        out.place = Place::kStatic;
        out.staticValue = keepStatic(std::move(t));
      } else {
        out.aliasOf = source;
        out.place = values_[rootOf(source)].place;
        constantReadAtRun_[rootOf(source)] = true;  // readers of the alias read the constant
      }
      nodePlan.kernel = "alias";
    } else if (!executor) {
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        if (!ctx.staticOutputs[o])
          throw Error(node.describe() + ": planner gave neither an executor nor a value for output " + std::to_string(o));
        storeStatic(node.outputs[o], std::move(*ctx.staticOutputs[o]));
      }
      nodePlan.kernel = "static";
    } else if (allStatic) {
      evaluateNow(node, ctx, *executor);
      nodePlan.kernel = "static";
    } else {
      Step step;
      step.node = nodeIndex;
      ctx.inputCopied.resize(node.inputs.size(), false);
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        const int id = node.inputs[i];
        if (id < 0 || ctx.inputCopied[i]) {
          step.inputs.push_back(-1);  // absent, or copied by the executor: not read at run time
          continue;
        }
        step.inputs.push_back(rootOf(id));
        constantReadAtRun_[rootOf(id)] = true;
      }
      for (int id : node.outputs) {
        ValueState& out = values_[id];
        out.place = Place::kArena;
        out.dtype = DType::kFloat32;
        step.outputs.push_back(id);
      }
      nodePlan.kernel = executor->kernelName();
      nodePlan.multiplyAdds = ctx.multiplyAdds;
      step.executor = std::move(executor);
      steps_.push_back(std::move(step));
    }
    nodePlans_.push_back(std::move(nodePlan));
    for (int id : distinctInputs(node)) {
      if (!graph_.values[id].constant || --constantReadersLeft_[id] > 0 || constantReadAtRun_[id]) continue;
      stats_.releasedWeightBytes += graph_.values[id].constant->releasePages();
    }
  }

  static std::vector<int> distinctInputs(const Node& node) {
    std::vector<int> ids;
    for (int id : node.inputs)
      if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    return ids;
  }

  void storeStatic(int id, StaticTensor value) {
    ValueState& out = values_[id];
    out.place = Place::kStatic;
    out.dtype = value.dtype;
    out.shape = value.shape;
    out.staticValue = keepStatic(std::move(value));
  }

  // All inputs are known: run the executor once now and keep its outputs.
  void evaluateNow(const Node& node, const PlanContext& ctx, Executor& executor) {
    RunArgs args;
    for (int id : node.inputs) args.inputs.push_back(id < 0 ? nullptr : pointerOf(id));
    std::vector<StaticTensor> results;
    for (size_t o = 0; o < node.outputs.size(); ++o)
      results.push_back(StaticTensor::ofFloats(ctx.outputShapes[o], std::vector<float>(shapeElements(ctx.outputShapes[o]))));
    for (auto& r : results) args.outputs.push_back(r.f32.data());
    const AlignedBuffer scratch = allocateScratch(executor, node);
    args.scratch = scratch.get();
    args.pool = pool_.get();
    executor.run(args);
    for (size_t o = 0; o < node.outputs.size(); ++o) storeStatic(node.outputs[o], std::move(results[o]));
  }

  // The last step reading each root value (graph outputs: past the end).
  std::vector<int> lastReadingStep() const {
    std::vector<int> last(values_.size(), -1);
    for (size_t s = 0; s < steps_.size(); ++s)
      for (int id : steps_[s].inputs)
        if (id >= 0) last[id] = static_cast<int>(s);
    for (int id : graph_.outputs) last[rootOf(id)] = static_cast<int>(steps_.size());
    return last;
  }

  // A Concat that can run in place: float, every part a contiguous block of
  // the output (nothing but size-1 dims before the axis), each part a distinct
  // arena value made by an earlier step with one output, which is neither a
  // graph output, nor itself a Concat run in place, nor a part of another
  // Concat run in place (`concatOfPart`). Returns the byte offset of each part
  // in the output, or nothing.
  std::vector<size_t> concatSlices(size_t c, const std::vector<int>& producer,
                                   const std::vector<int>& concatOfPart) const {
    const Step& step = steps_[c];
    const Node& node = graph_.nodes[step.node];
    if (node.op != "Concat" || step.outputs.size() != 1) return {};
    const ValueState& out = values_[step.outputs[0]];
    const int64_t rank = static_cast<int64_t>(out.shape.size());
    int64_t axis = node.getInt("axis", 0);
    if (axis < 0) axis += rank;
    if (out.dtype != DType::kFloat32 || axis < 0 || axis >= rank) return {};
    for (int64_t d = 0; d < axis; ++d)
      if (out.shape[d] != 1) return {};
    std::vector<size_t> offsets;
    size_t offset = 0;
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const int root = step.inputs[i];
      if (root < 0 || values_[root].place != Place::kArena || values_[root].dtype != DType::kFloat32) return {};
      if (concatOfPart[root] >= 0) return {};
      const int p = producer[root];
      if (p < 0 || static_cast<size_t>(p) >= c || steps_[p].outputs.size() != 1 || steps_[p].inPlace) return {};
      for (size_t j = 0; j < i; ++j)
        if (step.inputs[j] == root) return {};
      for (int id : graph_.outputs)
        if (rootOf(id) == root) return {};
      offsets.push_back(offset);
      offset += static_cast<size_t>(shapeElements(values_[root].shape)) * sizeof(float);
    }
    if (offset != static_cast<size_t>(shapeElements(out.shape)) * sizeof(float)) return {};
    return offsets;
  }

  // The arena buffers being planned: one request (size, liveness) each, and
  // whether it holds the output of an in-place Concat (its parts' slices).
  struct ArenaBuffers {
    std::vector<BufferRequest> requests;
    std::vector<bool> holdsSlices;
    int add(size_t bytes, size_t step, bool slices) {
      requests.push_back({bytes, static_cast<int>(step), static_cast<int>(step)});
      holdsSlices.push_back(slices);
      return static_cast<int>(requests.size()) - 1;
    }
  };

  // Bytes of value `id`, the output of step s (an Error naming the node on overflow).
  size_t outputBytes(int id, size_t s) const {
    return static_cast<size_t>(checkedBytes(shapeElements(values_[id].shape), sizeof(float),
                                            graph_.nodes[steps_[s].node].describe(),
                                            "output '" + graph_.values[id].name + "'"));
  }

  // The arena buffer a step may write its output into: that of an input it
  // reads elementwise (Executor::inputsReadElementwise), of the output's
  // shape, which no later step reads and which holds nothing else (not the
  // output of an in-place Concat); -1 if none.
  int reusableInputBuffer(size_t s, const std::vector<int>& lastRead, const ArenaBuffers& buffers) const {
    const Step& step = steps_[s];
    if (step.outputs.size() != 1) return -1;
    const Node& node = graph_.nodes[step.node];
    const Shape& outShape = values_[step.outputs[0]].shape;
    for (size_t i : step.executor->inputsReadElementwise()) {
      if (i >= node.inputs.size()) continue;
      const int root = step.inputs[i];
      if (root < 0 || lastRead[root] != static_cast<int>(s)) continue;
      const int buffer = values_[root].arenaBuffer;
      if (buffer < 0 || buffers.holdsSlices[buffer]) continue;
      if (values_[node.inputs[i]].shape != outShape) continue;
      // Every other input of this step must not share that buffer (x + x).
      bool shared = false;
      for (size_t j = 0; j < node.inputs.size(); ++j)
        shared = shared || (j != i && step.inputs[j] >= 0 && values_[step.inputs[j]].arenaBuffer == buffer);
      if (!shared) return buffer;
    }
    return -1;
  }

  void planMemory() {
    // Liveness of arena buffers, in step indices. An elementwise step whose
    // input dies there writes its output over that input (one buffer).
    ArenaBuffers buffers;
    const std::vector<int> lastRead = lastReadingStep();

    // Concats run in place: each part is written as a slice of the output,
    // whose buffer is live from the first part's step.
    std::vector<int> producer(values_.size(), -1), concatOfPart(values_.size(), -1);
    std::vector<size_t> partOffset(values_.size(), 0);
    for (size_t s = 0; s < steps_.size(); ++s) {
      for (int id : steps_[s].outputs) producer[id] = static_cast<int>(s);
      const std::vector<size_t> offsets = concatSlices(s, producer, concatOfPart);
      if (offsets.empty()) continue;
      steps_[s].inPlace = true;
      nodePlans_[steps_[s].node].kernel = "concat.in_place";
      for (size_t i = 0; i < offsets.size(); ++i) {
        concatOfPart[steps_[s].inputs[i]] = static_cast<int>(s);
        partOffset[steps_[s].inputs[i]] = offsets[i];
      }
    }

    for (size_t s = 0; s < steps_.size(); ++s) {
      const int part = steps_[s].outputs.size() == 1 ? steps_[s].outputs[0] : -1;
      if (part >= 0 && concatOfPart[part] >= 0) {
        const int whole = steps_[concatOfPart[part]].outputs[0];
        if (values_[whole].arenaBuffer < 0)
          values_[whole].arenaBuffer = buffers.add(outputBytes(whole, concatOfPart[part]), s, true);
        values_[part].arenaBuffer = values_[whole].arenaBuffer;
        values_[part].arenaOffset = partOffset[part];
      } else if (!steps_[s].inPlace) {  // an in-place Concat's buffer was made with its first part
        const int reuse = reusableInputBuffer(s, lastRead, buffers);
        for (int id : steps_[s].outputs)
          values_[id].arenaBuffer = reuse >= 0 ? reuse : buffers.add(outputBytes(id, s), s, false);
      }
      for (int id : steps_[s].inputs)
        if (id >= 0 && values_[id].arenaBuffer >= 0)
          buffers.requests[values_[id].arenaBuffer].lastUse = static_cast<int>(s);
    }
    const int end = static_cast<int>(steps_.size());
    for (int id : graph_.outputs) {
      const int buffer = values_[rootOf(id)].arenaBuffer;
      if (buffer >= 0) buffers.requests[buffer].lastUse = end;
    }
    allocatePlannedMemory(buffers.requests);
  }

  // The arena laid out from the buffer requests, the executors' scratch, and
  // the memory statistics.
  void allocatePlannedMemory(const std::vector<BufferRequest>& requests) {
    ArenaPlanner planner;
    arenaPlan_ = planner.plan(requests);
    const size_t physical = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (arenaPlan_.arenaBytes > physical)
      throw Error("the plan needs a " + std::to_string(arenaPlan_.arenaBytes >> 20) +
                  " MiB tensor arena, more than this machine's memory (" + std::to_string(physical >> 20) +
                  " MiB); check the input shapes");
    arena_.reset();
    if (arenaPlan_.arenaBytes > 0)
      arena_ = allocateBuffer(static_cast<int64_t>(arenaPlan_.arenaBytes), "session", "tensor arena");

    size_t scratchBytes = 0;
    for (const Step& step : steps_) {
      scratchBytes = std::max(scratchBytes, step.executor->scratchBytes());
      stats_.preparedWeightBytes += step.executor->preparedWeightBytes();
    }
    scratch_.reset();
    if (scratchBytes > 0) scratch_ = allocateBuffer(static_cast<int64_t>(scratchBytes), "session", "executor scratch");
    for (size_t id = 0; id < graph_.values.size(); ++id) {
      const ConstantData* c = graph_.values[id].constant.get();
      if (!c || !constantReadAtRun_[id]) continue;
      WeightBytesByStorage& stored = stats_.storedWeightBytes;
      switch (c->storage) {
        case Storage::kFloat32: stored.fp32 += c->byteSize; break;
        case Storage::kFloat16: stored.fp16 += c->byteSize; break;
        case Storage::kInt8: stored.int8 += c->byteSize; break;
        case Storage::kInt4: stored.int4 += c->byteSize; break;
        case Storage::kInt64: break;  // shape data, not weights
      }
    }
    stats_.arenaBytes = arenaPlan_.arenaBytes;
    stats_.unplannedBytes = arenaPlan_.unplannedBytes;
    stats_.scratchBytes = scratchBytes;
    stepMilliseconds_.assign(steps_.size(), 0.0);
  }

  std::shared_ptr<const Model> model_;
  const Graph& graph_;
  SessionConfig config_;
  std::unique_ptr<ThreadPool> pool_;
  std::map<std::string, Shape> inputShapes_;

  std::vector<ValueState> values_;
  std::vector<std::unique_ptr<StaticTensor>> statics_;
  std::vector<Step> steps_;
  std::vector<NodePlan> nodePlans_;
  std::vector<const float*> userInputs_;
  std::vector<int> constantReadersLeft_;
  std::vector<bool> constantReadAtRun_;
  ArenaPlan arenaPlan_;
  AlignedBuffer arena_;
  AlignedBuffer scratch_;
  MemoryStats stats_;
  bool profiling_ = false;
  std::vector<double> stepMilliseconds_;
};

Session::Session(std::shared_ptr<const Model> model, SessionConfig config)
    : impl_(std::make_unique<SessionImpl>(std::move(model), config)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

void Session::resize(const std::map<std::string, std::vector<int64_t>>& inputShapes) { impl_->resize(inputShapes); }
std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs) { return impl_->run(inputs); }
const SessionConfig& Session::config() const { return impl_->config(); }
std::vector<NodePlan> Session::plan() const { return impl_->nodePlans(); }
MemoryStats Session::memoryStats() const { return impl_->memoryStats(); }
std::vector<TensorInfo> Session::inputs() const { return impl_->inputs(); }
void Session::setProfiling(bool enabled) { impl_->setProfiling(enabled); }
std::vector<double> Session::lastRunNodeMilliseconds() const { return impl_->nodeMilliseconds(); }

}  // namespace petrel
