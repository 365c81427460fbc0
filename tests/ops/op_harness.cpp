#include "ops/op_harness.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "memory/allocator.h"
#include "runtime/thread_pool.h"

namespace petrel::test {

HarnessInput HarnessInput::runtime(Shape shape, std::vector<float> data) {
  HarnessInput in;
  in.kind = Kind::kRuntime;
  in.shape = std::move(shape);
  in.floats = std::move(data);
  return in;
}
HarnessInput HarnessInput::constant(Shape shape, std::vector<float> data) {
  HarnessInput in = runtime(std::move(shape), std::move(data));
  in.kind = Kind::kConstant;
  return in;
}
HarnessInput HarnessInput::int64s(Shape shape, std::vector<int64_t> data) {
  HarnessInput in;
  in.kind = Kind::kInts;
  in.shape = std::move(shape);
  in.ints = std::move(data);
  return in;
}
HarnessInput HarnessInput::absent() { return HarnessInput{}; }

SessionConfig withThreads(int threads) {
  SessionConfig config;
  config.threads = threads;
  return config;
}

Node makeNode(const std::string& op, std::map<std::string, AttributeValue> attributes) {
  Node node;
  node.op = op;
  node.name = "test_" + op;
  node.attributes = std::move(attributes);
  return node;
}

HarnessResult runOp(const Node& node, const std::vector<HarnessInput>& inputs, SessionConfig config,
                    int outputCount) {
  OpPlanner planner = findOp(node.op);
  if (!planner) throw Error("no planner registered for op " + node.op);

  std::vector<std::shared_ptr<ConstantData>> constants(inputs.size());
  std::vector<StaticTensor> statics(inputs.size());
  PlanContext ctx(node, config);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const HarnessInput& h = inputs[i];
    OpInput in;
    in.present = h.kind != HarnessInput::Kind::kAbsent;
    in.shape = h.shape;
    if (h.kind == HarnessInput::Kind::kInts) {
      in.dtype = DType::kInt64;
      statics[i] = StaticTensor::ofInts(h.shape, h.ints);
      in.value = &statics[i];
    } else if (h.kind == HarnessInput::Kind::kConstant) {
      constants[i] = ConstantData::fromFloats(h.shape, h.floats);
      in.constant = constants[i].get();
      if (shapeElements(h.shape) <= kSmallConstantElements) {
        statics[i] = StaticTensor::ofFloats(h.shape, h.floats);
        in.value = &statics[i];
      }
    }
    ctx.inputs.push_back(in);
  }
  ctx.outputShapes.resize(outputCount);
  ctx.staticOutputs.resize(outputCount);

  std::unique_ptr<Executor> exec = planner(ctx);

  HarnessResult result;
  result.shapes = ctx.outputShapes;
  result.statics = ctx.staticOutputs;
  result.outputs.resize(outputCount);
  if (ctx.aliasInput >= 0) {
    result.aliased = true;
    result.outputs[0] = inputs.at(ctx.aliasInput).floats;
    return result;
  }
  if (!exec) {
    for (int o = 0; o < outputCount; ++o)
      if (ctx.staticOutputs[o] && ctx.staticOutputs[o]->dtype == DType::kFloat32)
        result.outputs[o] = ctx.staticOutputs[o]->f32;
    return result;
  }
  result.kernel = exec->kernelName();
  RunArgs args;
  for (const HarnessInput& h : inputs)
    args.inputs.push_back(h.kind == HarnessInput::Kind::kRuntime || h.kind == HarnessInput::Kind::kConstant
                              ? h.floats.data()
                              : nullptr);
  for (int o = 0; o < outputCount; ++o) {
    result.outputs[o].assign(shapeElements(ctx.outputShapes[o]), std::nanf(""));
    args.outputs.push_back(result.outputs[o].data());
  }
  const AlignedBuffer scratch = allocateScratch(*exec, node);
  args.scratch = scratch.get();
  ThreadPool pool(config.threads);
  args.pool = &pool;
  exec->run(args);
  return result;
}

}  // namespace petrel::test
