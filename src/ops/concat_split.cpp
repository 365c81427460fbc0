// Concat and Split along one axis.
//
// Both see the tensor as [outer][axis * inner]: for each outer index, every
// input (Concat) or output (Split) owns one contiguous chunk of
// size[axis] * inner elements, so the work is a list of memcpy calls. Float
// data is copied at run time; int64 data (static shape values) at planning by
// the same code.
#include <algorithm>
#include <cstring>
#include <string>

#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {
namespace {

// Below this many elements a copy runs on the calling thread only.
constexpr int64_t kParallelMinElements = 1 << 15;

// The chunk layout shared by Concat (parts = inputs) and Split (parts = outputs).
struct ChunkPlan {
  int64_t outer = 1;                 // product of the dims before the axis
  int64_t wholeChunk = 0;            // elements of the whole tensor per outer index
  std::vector<int64_t> chunk;        // elements of part p per outer index
  std::vector<int64_t> chunkOffset;  // where part p starts inside a whole chunk
  int64_t elements() const { return outer * wholeChunk; }
};

ChunkPlan makeChunkPlan(const Shape& whole, int64_t axis, const std::vector<int64_t>& partSizes) {
  ChunkPlan plan;
  int64_t inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(whole.size()); ++d) {
    if (d < axis) plan.outer *= whole[d];
    if (d > axis) inner *= whole[d];
  }
  for (int64_t size : partSizes) {
    plan.chunkOffset.push_back(plan.wholeChunk);
    plan.chunk.push_back(size * inner);
    plan.wholeChunk += size * inner;
  }
  return plan;
}

// Copies work items [begin, end); item = outer index * parts + part.
// Concat gathers parts into the whole; Split scatters the whole into parts.
template <typename T>
void concatItems(const ChunkPlan& plan, const T* const* parts, T* whole, size_t begin, size_t end) {
  const size_t count = plan.chunk.size();
  for (size_t item = begin; item < end; ++item) {
    const size_t o = item / count, p = item % count;
    if (plan.chunk[p] == 0) continue;  // empty part: its pointer may be null
    std::memcpy(whole + o * plan.wholeChunk + plan.chunkOffset[p], parts[p] + o * plan.chunk[p],
                plan.chunk[p] * sizeof(T));
  }
}

template <typename T>
void splitItems(const ChunkPlan& plan, const T* whole, T* const* parts, size_t begin, size_t end) {
  const size_t count = plan.chunk.size();
  for (size_t item = begin; item < end; ++item) {
    const size_t o = item / count, p = item % count;
    if (plan.chunk[p] == 0) continue;  // empty part: its pointer may be null
    std::memcpy(parts[p] + o * plan.chunk[p], whole + o * plan.wholeChunk + plan.chunkOffset[p],
                plan.chunk[p] * sizeof(T));
  }
}

// Runs fn over all work items, in parallel when there is enough to copy.
template <typename Fn>
void forItems(ThreadPool* pool, const ChunkPlan& plan, const Fn& fn) {
  const size_t items = plan.outer * plan.chunk.size();
  if (!pool || items < 2 || plan.elements() < kParallelMinElements)
    fn(size_t{0}, items);
  else
    pool->parallelFor(items, fn);
}

// --- Concat ----------------------------------------------------------------------

class ConcatExecutor final : public Executor {
 public:
  explicit ConcatExecutor(ChunkPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "concat.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const ChunkPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    forItems(args.pool, plan_, [&job](size_t begin, size_t end) {
      concatItems(*job.plan, job.args->inputs.data(), job.args->outputs[0], begin, end);
    });
  }

 private:
  ChunkPlan plan_;
};

std::unique_ptr<Executor> planConcat(PlanContext& ctx) {
  if (ctx.inputs.empty()) ctx.fail("needs at least one input");
  if (!ctx.node.has("axis")) ctx.fail("attribute 'axis' is missing");
  const Shape& first = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(first.size());
  const int64_t axis = ctx.normalizedAxis(ctx.node.getInt("axis", 0), rank);

  Shape out = first;
  out[axis] = 0;
  std::vector<int64_t> sizes;
  bool anyInt = false, anyFloat = false;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const OpInput& in = ctx.input(i);
    (in.dtype == DType::kInt64 ? anyInt : anyFloat) = true;
    bool matches = static_cast<int64_t>(in.shape.size()) == rank;
    for (int64_t d = 0; matches && d < rank; ++d) matches = d == axis || in.shape[d] == first[d];
    if (!matches)
      ctx.fail("input " + std::to_string(i) + " has shape " + shapeToString(in.shape) +
               ", which does not match input 0's shape " + shapeToString(first) + " outside axis " +
               std::to_string(axis));
    sizes.push_back(in.shape[axis]);
    out[axis] += in.shape[axis];
  }
  if (anyInt && anyFloat) ctx.fail("inputs mix float32 and int64 tensors");
  ctx.outputShapes[0] = out;
  ChunkPlan plan = makeChunkPlan(out, axis, sizes);

  if (anyInt) {
    std::vector<const int64_t*> parts;
    for (size_t i = 0; i < ctx.inputs.size(); ++i) parts.push_back(ctx.staticInput(i).i64.data());
    std::vector<int64_t> values(shapeElements(out));
    concatItems(plan, parts.data(), values.data(), 0, plan.outer * parts.size());
    ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::move(values));
    return nullptr;
  }
  return std::make_unique<ConcatExecutor>(std::move(plan));
}

// --- Split -----------------------------------------------------------------------

class SplitExecutor final : public Executor {
 public:
  explicit SplitExecutor(ChunkPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "split.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const ChunkPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    forItems(args.pool, plan_, [&job](size_t begin, size_t end) {
      splitItems(*job.plan, job.args->inputs[0], job.args->outputs.data(), begin, end);
    });
  }

 private:
  ChunkPlan plan_;
};

std::unique_ptr<Executor> planSplit(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  const int64_t axis = ctx.normalizedAxis(ctx.node.getInt("axis", 0), rank);
  const int64_t dim = data.shape[axis];
  const int64_t outputs = static_cast<int64_t>(ctx.outputShapes.size());
  if (outputs < 1) ctx.fail("needs at least one output");

  std::vector<int64_t> sizes;
  if (ctx.hasInput(1) && ctx.staticInput(1).elements() > 0) {
    sizes = ctx.staticInput(1).toInts();
  } else if (ctx.node.has("num_outputs")) {
    // Opset 18: chunks of ceil(dim / n); the last one may be smaller.
    const int64_t n = ctx.node.getInt("num_outputs", 0);
    if (n != outputs)
      ctx.fail("num_outputs is " + std::to_string(n) + " but the node has " + std::to_string(outputs) +
               " outputs");
    const int64_t chunk = (dim + n - 1) / n;
    for (int64_t j = 0; j < n; ++j) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - j * chunk)));
  } else {
    if (dim % outputs != 0)
      ctx.fail("cannot split axis " + std::to_string(axis) + " of size " + std::to_string(dim) + " into " +
               std::to_string(outputs) + " equal parts");
    sizes.assign(outputs, dim / outputs);
  }

  if (static_cast<int64_t>(sizes.size()) != outputs)
    ctx.fail("split sizes " + shapeToString(sizes) + " give " + std::to_string(sizes.size()) +
             " parts but the node has " + std::to_string(outputs) + " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) ctx.fail("split sizes " + shapeToString(sizes) + " contain a negative size");
    total += s;
  }
  if (total != dim)
    ctx.fail("split sizes " + shapeToString(sizes) + " add up to " + std::to_string(total) + ", not to axis " +
             std::to_string(axis) + "'s size " + std::to_string(dim));

  for (int64_t j = 0; j < outputs; ++j) {
    ctx.outputShapes[j] = data.shape;
    ctx.outputShapes[j][axis] = sizes[j];
  }
  ChunkPlan plan = makeChunkPlan(data.shape, axis, sizes);

  if (data.dtype == DType::kInt64) {
    std::vector<std::vector<int64_t>> values(outputs);
    std::vector<int64_t*> parts;
    for (int64_t j = 0; j < outputs; ++j) {
      values[j].resize(shapeElements(ctx.outputShapes[j]));
      parts.push_back(values[j].data());
    }
    splitItems(plan, ctx.staticInput(0).i64.data(), parts.data(), 0, plan.outer * outputs);
    for (int64_t j = 0; j < outputs; ++j)
      ctx.staticOutputs[j] = StaticTensor::ofInts(ctx.outputShapes[j], std::move(values[j]));
    return nullptr;
  }
  return std::make_unique<SplitExecutor>(std::move(plan));
}

}  // namespace

PETREL_REGISTER_OP("Concat", planConcat);
PETREL_REGISTER_OP("Split", planSplit);

}  // namespace petrel
