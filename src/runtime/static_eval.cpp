#include "runtime/static_eval.h"

#include <cstring>
#include <memory>

#include "memory/allocator.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {

StaticTensor toStaticTensor(const ConstantData& constant) {
  const int64_t n = constant.elements();
  switch (constant.storage) {
    case Storage::kFloat32:
      return StaticTensor::ofFloats(constant.shape, std::vector<float>(constant.floats(), constant.floats() + n));
    case Storage::kInt64:
      return StaticTensor::ofInts(constant.shape, std::vector<int64_t>(constant.int64s(), constant.int64s() + n));
    default:
      throw Error(std::string("a constant stored as ") + storageName(constant.storage) +
                  " cannot be used as a value known at planning");
  }
}

std::vector<StaticTensor> evaluateStaticNode(const Node& node, const std::vector<const StaticTensor*>& inputs) {
  OpPlanner planner = findOp(node.op);
  if (!planner) throw Error(node.describe() + ": operator type is not supported");
  PlanContext ctx(node, SessionConfig{});
  // Planners read weights through OpInput::constant, so every input is also
  // offered as an (unowned) constant view of the static data.
  std::vector<ConstantData> views(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const StaticTensor* value = inputs[i];
    OpInput in;
    in.present = value != nullptr;
    if (value) {
      in.dtype = value->dtype;
      in.shape = value->shape;
      in.value = value;
      ConstantData& view = views[i];
      view.shape = value->shape;
      view.storage = value->dtype == DType::kFloat32 ? Storage::kFloat32 : Storage::kInt64;
      view.bytes = value->dtype == DType::kFloat32 ? reinterpret_cast<const uint8_t*>(value->f32.data())
                                                   : reinterpret_cast<const uint8_t*>(value->i64.data());
      view.byteSize = value->elements() * (value->dtype == DType::kFloat32 ? 4 : 8);
      in.constant = &view;
    }
    ctx.inputs.push_back(in);
  }
  const size_t outputs = node.outputs.empty() ? 1 : node.outputs.size();
  ctx.outputShapes.resize(outputs);
  ctx.staticOutputs.resize(outputs);
  std::unique_ptr<Executor> exec = planner(ctx);

  std::vector<StaticTensor> results(outputs);
  if (ctx.aliasInput >= 0) {
    results[0] = *inputs.at(ctx.aliasInput);
    results[0].shape = ctx.outputShapes[0];
    return results;
  }
  if (!exec) {
    for (size_t o = 0; o < outputs; ++o) {
      if (!ctx.staticOutputs[o]) throw Error(node.describe() + ": planner produced no value for output " + std::to_string(o));
      results[o] = std::move(*ctx.staticOutputs[o]);
    }
    return results;
  }
  RunArgs args;
  for (const StaticTensor* value : inputs)
    args.inputs.push_back(value && value->dtype == DType::kFloat32 ? value->f32.data() : nullptr);
  for (size_t o = 0; o < outputs; ++o) {
    results[o] = StaticTensor::ofFloats(ctx.outputShapes[o], std::vector<float>(shapeElements(ctx.outputShapes[o])));
    args.outputs.push_back(results[o].f32.data());
  }
  const AlignedBuffer scratch = allocateScratch(*exec, node);
  args.scratch = scratch.get();
  ThreadPool pool(1);
  args.pool = &pool;
  exec->run(args);
  return results;
}

}  // namespace petrel
