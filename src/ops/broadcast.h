#pragma once
// Numpy-style ("multidirectional") broadcasting for elementwise operators.
//
// Shapes are aligned on their last dimension; each pair of dimensions must be
// equal or one of them 1. A BroadcastPlan turns a broadcast into simple loops:
//   1. size-1 output dimensions are dropped;
//   2. neighbouring dimensions are merged when every input treats both alike
//      (contiguous in both, or broadcast along both).
// So [N,C,H,W] + [1,C,1,1] becomes the loops [N][C][H*W] with the bias
// constant along the innermost one, [N,T,D] + [D] becomes [N*T][D], and two
// equal shapes become a single flat loop. The innermost stride of every input
// is then 0 (repeated) or 1 (contiguous), which is what the row kernels need.
//
// Also here, for every elementwise-like executor: parallelOverRange and
// parallelTasksOrInline, which split big work across the thread pool, run
// small work inline, and allocate nothing.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "graph/graph.h"
#include "runtime/thread_pool.h"

namespace petrel {

// Shape of the broadcast result; std::nullopt if the shapes are incompatible.
std::optional<Shape> broadcastShapes(const Shape& a, const Shape& b);
std::optional<Shape> broadcastShapes(const std::vector<Shape>& shapes);

// True if `from` broadcasts to exactly `to` (ONNX "unidirectional").
bool broadcastsTo(const Shape& from, const Shape& to);

struct BroadcastPlan {
  Shape outShape;
  std::vector<int64_t> dims;                  // merged loops, outermost first; never empty
  std::vector<std::vector<int64_t>> strides;  // strides[input][loop], in elements; 0 = broadcast

  int64_t inner() const { return dims.back(); }
  int64_t rows() const;  // product of every loop but the innermost
  int64_t elements() const { return rows() * inner(); }
  int64_t innerStride(size_t input) const { return strides[input].back(); }  // 0 or 1
  // Element offset into input `input` at the start of row `row`.
  int64_t rowOffset(size_t input, int64_t row) const;
};

// Every shape in `inputs` must broadcast to `outShape` (checked by the caller,
// e.g. with broadcastShapes).
BroadcastPlan makeBroadcastPlan(const std::vector<Shape>& inputs, const Shape& outShape);

// Calls fn(row, begin, end) for the pieces of rows that cover the flat output
// range [first, last): element (row, i) is output element row * inner() + i.
template <typename Fn>
void forEachRowPiece(const BroadcastPlan& plan, int64_t first, int64_t last, Fn&& fn) {
  const int64_t inner = plan.inner();
  while (first < last) {
    const int64_t row = first / inner;
    const int64_t begin = first - row * inner;
    const int64_t end = std::min(inner, begin + (last - first));
    fn(row, begin, end);
    first += end - begin;
  }
}

// Calls fn(outIndex, offsets) for every output element in order, where
// offsets[i] is the matching element of input i. For planning-time evaluation
// (int64 shape arithmetic) and other small work; row kernels are faster.
template <typename Fn>
void forEachBroadcastElement(const BroadcastPlan& plan, Fn&& fn) {
  const size_t count = plan.strides.size();
  std::vector<int64_t> offsets(count);
  for (int64_t row = 0; row < plan.rows(); ++row) {
    for (int64_t i = 0; i < plan.inner(); ++i) {
      for (size_t k = 0; k < count; ++k) offsets[k] = plan.rowOffset(k, row) + i * plan.innerStride(k);
      fn(row * plan.inner() + i, offsets.data());
    }
  }
}

// Writes `src` broadcast to the plan's output (a one-input plan) into dst.
// Allocates nothing, so executors may call it with a plan made at planning.
template <typename T>
void broadcastCopy(const BroadcastPlan& plan, const T* src, T* dst) {
  const int64_t inner = plan.inner();
  const int64_t stride = plan.innerStride(0);
  for (int64_t row = 0; row < plan.rows(); ++row) {
    const T* s = src + plan.rowOffset(0, row);
    T* d = dst + row * inner;
    for (int64_t i = 0; i < inner; ++i) d[i] = s[i * stride];
  }
}

// Writes `src` (shape srcShape) broadcast to dstShape into dst.
template <typename T>
void broadcastCopy(const T* src, const Shape& srcShape, const Shape& dstShape, T* dst) {
  broadcastCopy(makeBroadcastPlan({srcShape}, dstShape), src, dst);
}

// Elementwise work smaller than this runs on the calling thread: waking the
// pool costs more than it saves.
constexpr int64_t kParallelMinElements = 64 * 1024;

// Calls fn(begin, end) over [0, n): on the calling thread, or split into one
// contiguous chunk per pool thread when the work (in elements touched) is at
// least kParallelMinElements. Allocates nothing: the task handed to the pool
// holds a single reference, which fits std::function's inline storage.
template <typename Fn>
void parallelOverRange(ThreadPool* pool, int64_t n, int64_t work, const Fn& fn) {
  if (n <= 0) return;
  const int64_t chunks = pool ? std::min<int64_t>(n, pool->threads()) : 1;
  if (chunks < 2 || work < kParallelMinElements) {
    fn(int64_t{0}, n);
    return;
  }
  struct Job {
    const Fn* fn;
    int64_t n, chunks;
  } job{&fn, n, chunks};
  pool->parallelTasks(static_cast<size_t>(chunks), [&job](size_t chunk, int) {
    const int64_t c = static_cast<int64_t>(chunk);
    (*job.fn)(job.n * c / job.chunks, job.n * (c + 1) / job.chunks);
  });
}

// Calls fn(task, threadIndex) for every task in [0, tasks): through the pool
// (tasks handed out dynamically) when the work is at least
// kParallelMinElements, or inline with threadIndex 0. `scratchThreads` is the
// number of per-thread scratch slots the executor sized at planning; a pool
// with more threads than that runs the work inline.
template <typename Fn>
void parallelTasksOrInline(ThreadPool* pool, int64_t tasks, int64_t work, int scratchThreads, const Fn& fn) {
  if (tasks <= 0) return;
  const bool parallel = pool && pool->threads() > 1 && pool->threads() <= scratchThreads && tasks > 1 &&
                        work >= kParallelMinElements;
  if (!parallel) {
    for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  pool->parallelTasks(static_cast<size_t>(tasks),
                      [&fn](size_t task, int thread) { fn(static_cast<int64_t>(task), thread); });
}

}  // namespace petrel
