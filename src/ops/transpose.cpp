// Transpose: output dim i is input dim perm[i].
//
// Planning first simplifies the permutation: size-1 dims are dropped and input
// dims that stay neighbours in the output are merged, so NCHW -> NHWC becomes
// the 3-D [N][C][HW] -> [N][HW][C] and [B,S,H,D] -> [B,H,S,D] keeps D whole.
// Then one of three copies runs:
//   copy  - the permutation became the identity: float data is an alias of
//           the input (no copy at all), int64 data one memcpy;
//   rows  - the input's innermost dim stays innermost: contiguous rows are
//           copied, found by an odometer over the outer output dims;
//   tiles - the innermost dims differ: for each outer index, a 2-D transpose
//           between the output's innermost dim (B, strided in the input) and
//           the input's innermost dim (A, strided in the output), done in
//           kTile x kTile blocks through a local tile, so both sides touch few
//           cache lines.
// Large tensors are split across the thread pool (rows, or blocks of A).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {
namespace {

// Below this many elements a copy runs on the calling thread only.
constexpr int64_t kParallelMinElements = 1 << 15;
// Outer loops after simplification; more only for exotic tensors.
constexpr size_t kMaxLoops = 8;
// Block edge of the 2-D transpose (8 x 8 measured fastest on Zen 3, scalar code).
constexpr int64_t kTile = 8;

struct TransposePlan {
  enum class Kind { kCopy, kRows, kTiles } kind = Kind::kCopy;
  int64_t elements = 0;
  // Outer output loops (every output dim for kRows but the innermost; every
  // output dim but A's and B's for kTiles), with their input and output strides.
  std::vector<int64_t> outerDims, outerInStrides, outerOutStrides;
  int64_t inner = 1;  // kRows: contiguous elements per row
  // kTiles: A is contiguous in the input, B is contiguous in the output.
  int64_t a = 1, aOutStride = 1, b = 1, bInStride = 1;
  int64_t aBlocks() const { return (a + kTile - 1) / kTile; }
  int64_t outerCount() const { return shapeElements(outerDims); }
};

// Removes size-1 dims and merges input dims that are neighbours in the output.
// Returns the simplified input shape and permutation.
void simplify(const Shape& shape, const std::vector<int64_t>& perm, Shape& dims, std::vector<int64_t>& order) {
  std::vector<int64_t> newIndex(shape.size(), -1);
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) {
      newIndex[d] = static_cast<int64_t>(kept.size());
      kept.push_back(shape[d]);
    }
  // Groups of consecutive input dims, in output order.
  std::vector<std::pair<int64_t, int64_t>> groups;  // (first input dim, dim count)
  for (int64_t p : perm) {
    const int64_t d = newIndex[p];
    if (d < 0) continue;
    if (!groups.empty() && groups.back().first + groups.back().second == d)
      ++groups.back().second;
    else
      groups.push_back({d, 1});
  }
  // Number the groups in input order.
  std::vector<size_t> byInput(groups.size());
  std::iota(byInput.begin(), byInput.end(), 0);
  std::sort(byInput.begin(), byInput.end(), [&](size_t x, size_t y) { return groups[x].first < groups[y].first; });
  dims.assign(groups.size(), 1);
  order.assign(groups.size(), 0);
  for (size_t pos = 0; pos < byInput.size(); ++pos) {
    const auto [first, count] = groups[byInput[pos]];
    for (int64_t k = 0; k < count; ++k) dims[pos] *= kept[first + k];
    order[byInput[pos]] = static_cast<int64_t>(pos);
  }
}

TransposePlan makePlan(const Shape& shape, const std::vector<int64_t>& perm) {
  TransposePlan plan;
  plan.elements = shapeElements(shape);
  Shape dims;
  std::vector<int64_t> order;
  simplify(shape, perm, dims, order);
  const size_t rank = dims.size();
  if (rank <= 1 || plan.elements == 0) return plan;  // identity (or nothing to move)

  std::vector<int64_t> inStrides(rank, 1), outDims(rank), outStrides(rank, 1);
  for (size_t d = rank - 1; d-- > 0;) inStrides[d] = inStrides[d + 1] * dims[d + 1];
  for (size_t i = 0; i < rank; ++i) outDims[i] = dims[order[i]];
  for (size_t i = rank - 1; i-- > 0;) outStrides[i] = outStrides[i + 1] * outDims[i + 1];

  const size_t last = rank - 1;
  if (order[last] == static_cast<int64_t>(last)) {
    plan.kind = TransposePlan::Kind::kRows;
    plan.inner = outDims[last];
    for (size_t i = 0; i < last; ++i) {
      plan.outerDims.push_back(outDims[i]);
      plan.outerInStrides.push_back(inStrides[order[i]]);
      plan.outerOutStrides.push_back(outStrides[i]);
    }
    return plan;
  }
  plan.kind = TransposePlan::Kind::kTiles;
  const size_t aPos = std::find(order.begin(), order.end(), static_cast<int64_t>(last)) - order.begin();
  plan.a = outDims[aPos];
  plan.aOutStride = outStrides[aPos];
  plan.b = outDims[last];
  plan.bInStride = inStrides[order[last]];
  for (size_t i = 0; i < last; ++i) {
    if (i == aPos) continue;
    plan.outerDims.push_back(outDims[i]);
    plan.outerInStrides.push_back(inStrides[order[i]]);
    plan.outerOutStrides.push_back(outStrides[i]);
  }
  return plan;
}

// kRows: output rows [rowBegin, rowEnd).
template <typename T>
void copyRows(const TransposePlan& plan, const T* in, T* out, int64_t rowBegin, int64_t rowEnd) {
  if (rowBegin >= rowEnd) return;
  const size_t loops = plan.outerDims.size();
  int64_t index[kMaxLoops] = {};
  int64_t offset = 0;
  for (size_t k = loops, rest = rowBegin; k-- > 0;) {
    index[k] = rest % plan.outerDims[k];
    rest /= plan.outerDims[k];
    offset += index[k] * plan.outerInStrides[k];
  }
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    std::memcpy(out + row * plan.inner, in + offset, plan.inner * sizeof(T));
    for (size_t k = loops; k-- > 0;) {  // odometer step
      offset += plan.outerInStrides[k];
      if (++index[k] < plan.outerDims[k]) break;
      offset -= plan.outerInStrides[k] * plan.outerDims[k];
      index[k] = 0;
    }
  }
}

// One block: dst[a * dstStride + b] = src[a + b * srcStride]. Full blocks
// go through a fixed-size local tile, which the compiler keeps in registers.
template <typename T>
void transposeBlock(const T* src, int64_t srcStride, T* dst, int64_t dstStride, int64_t na, int64_t nb) {
  if (na == kTile && nb == kTile) {
    T tile[kTile][kTile];
    for (int64_t b = 0; b < kTile; ++b)
      for (int64_t a = 0; a < kTile; ++a) tile[a][b] = src[a + b * srcStride];
    for (int64_t a = 0; a < kTile; ++a)
      for (int64_t b = 0; b < kTile; ++b) dst[a * dstStride + b] = tile[a][b];
    return;
  }
  for (int64_t a = 0; a < na; ++a)
    for (int64_t b = 0; b < nb; ++b) dst[a * dstStride + b] = src[a + b * srcStride];
}

// kTiles: work units [unitBegin, unitEnd); unit = outer index * aBlocks + block
// of kTile values of A, against all of B.
template <typename T>
void copyTiles(const TransposePlan& plan, const T* in, T* out, int64_t unitBegin, int64_t unitEnd) {
  const int64_t aBlocks = plan.aBlocks();
  for (int64_t unit = unitBegin; unit < unitEnd; ++unit) {
    int64_t outer = unit / aBlocks;
    const int64_t a0 = (unit % aBlocks) * kTile;
    const int64_t na = std::min(kTile, plan.a - a0);
    int64_t inBase = a0, outBase = a0 * plan.aOutStride;
    for (size_t k = plan.outerDims.size(); k-- > 0;) {
      const int64_t index = outer % plan.outerDims[k];
      outer /= plan.outerDims[k];
      inBase += index * plan.outerInStrides[k];
      outBase += index * plan.outerOutStrides[k];
    }
    for (int64_t b0 = 0; b0 < plan.b; b0 += kTile)
      transposeBlock(in + inBase + b0 * plan.bInStride, plan.bInStride, out + outBase + b0, plan.aOutStride, na,
                     std::min(kTile, plan.b - b0));
  }
}

// Runs the plan's copy over [0, total work), optionally on the pool.
template <typename T>
void runPlan(const TransposePlan& plan, const T* in, T* out, ThreadPool* pool) {
  if (plan.elements == 0) return;
  if (plan.kind == TransposePlan::Kind::kCopy) {
    std::memcpy(out, in, plan.elements * sizeof(T));
    return;
  }
  struct Job {
    const TransposePlan* plan;
    const T* in;
    T* out;
  } job{&plan, in, out};
  const bool rows = plan.kind == TransposePlan::Kind::kRows;
  const int64_t work = rows ? plan.outerCount() : plan.outerCount() * plan.aBlocks();
  auto fn = [&job](size_t begin, size_t end) {
    if (job.plan->kind == TransposePlan::Kind::kRows)
      copyRows(*job.plan, job.in, job.out, begin, end);
    else
      copyTiles(*job.plan, job.in, job.out, begin, end);
  };
  if (!pool || work < 2 || plan.elements < kParallelMinElements)
    fn(0, work);
  else
    pool->parallelFor(work, fn);
}

class TransposeExecutor final : public Executor {
 public:
  explicit TransposeExecutor(TransposePlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override {
    switch (plan_.kind) {
      case TransposePlan::Kind::kCopy: break;  // planned as an alias
      case TransposePlan::Kind::kRows: return "transpose.rows.f32";
      case TransposePlan::Kind::kTiles: return "transpose.tiles.f32";
    }
    return "transpose.f32";
  }
  void run(const RunArgs& args) override { runPlan(plan_, args.inputs[0], args.outputs[0], args.pool); }

 private:
  TransposePlan plan_;
};

std::unique_ptr<Executor> planTranspose(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  const Shape& in = data.shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> perm = ctx.node.getInts("perm");
  if (perm.empty()) {  // default: reverse the dims
    for (int64_t d = rank; d-- > 0;) perm.push_back(d);
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    ctx.fail("perm " + shapeToString(perm) + " has " + std::to_string(perm.size()) + " entries for an input of rank " +
             std::to_string(rank));
  std::vector<bool> used(rank, false);
  for (int64_t& p : perm) {
    if (p < -rank || p >= rank || used[p < 0 ? p + rank : p])
      ctx.fail("perm " + shapeToString(perm) + " is not a permutation of the " + std::to_string(rank) + " input dims");
    if (p < 0) p += rank;
    used[p] = true;
  }
  Shape out(rank);
  for (int64_t i = 0; i < rank; ++i) out[i] = in[perm[i]];
  ctx.outputShapes[0] = out;

  TransposePlan plan = makePlan(in, perm);
  if (plan.outerDims.size() > kMaxLoops)
    ctx.fail("tensors of rank above " + std::to_string(kMaxLoops) + " are not supported");
  if (data.dtype == DType::kInt64) {
    std::vector<int64_t> values(plan.elements);
    runPlan(plan, ctx.staticInput(0).i64.data(), values.data(), nullptr);
    ctx.staticOutputs[0] = StaticTensor::ofInts(out, std::move(values));
    return nullptr;
  }
  // Only size-1 dims move (ViT's [1, 197, 768] <-> [197, 1, 768]): the bytes
  // are already in output order, so the output aliases the input, like a Reshape.
  if (plan.kind == TransposePlan::Kind::kCopy) {
    ctx.aliasInput = 0;
    return nullptr;
  }
  return std::make_unique<TransposeExecutor>(std::move(plan));
}

}  // namespace

PETREL_REGISTER_OP("Transpose", planTranspose);

}  // namespace petrel
