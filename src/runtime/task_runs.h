#pragma once
// Tasks [0, count) handed out to a parallel section's workers in one
// contiguous run per worker, each run from its own cursor: a worker takes its
// run's tasks in order, then helps with the other runs until none is left.
//
// Why not one shared counter: with it the threads' tasks interleave (thread 0
// takes tiles 0, 2, 4, ...), so a kernel reads pixels that the other core
// wrote in the layer before. With runs, layers split this way (column tiles
// of a 1x1 convolution, Winograd's blocks of tiles) give a thread the same
// pixels each time, still in its L2, while a slow thread's tasks are still
// taken over by the others.
#include <algorithm>
#include <atomic>
#include <cstdint>

namespace petrel {

class TaskRuns {
 public:
  static constexpr int64_t kMaxRuns = 16;

  // `runs` is clamped to [1, kMaxRuns]; one run is a plain shared counter.
  // Not thread-safe: call before the section starts.
  void reset(int64_t tasks, int64_t runs) {
    tasks_ = tasks;
    runs_ = std::clamp<int64_t>(runs, 1, kMaxRuns);
    for (int64_t r = 0; r < runs_; ++r) cursors_[r].next.store(runStart(r), std::memory_order_relaxed);
  }

  // Calls fn(task) for the tasks this worker takes; `thread` (the pool's
  // thread index) picks the run it starts with.
  template <class Fn>
  void take(int thread, const Fn& fn) {
    for (int64_t i = 0; i < runs_; ++i) {
      const int64_t run = (thread + i) % runs_, end = runStart(run + 1);
      for (;;) {
        const int64_t task = cursors_[run].next.fetch_add(1, std::memory_order_relaxed);
        if (task >= end) break;
        fn(task);
      }
    }
  }

 private:
  int64_t runStart(int64_t run) const { return tasks_ * run / runs_; }

  struct alignas(64) Cursor {  // a cache line each: the workers' fetch_adds do not collide
    std::atomic<int64_t> next{0};
  };
  Cursor cursors_[kMaxRuns];
  int64_t tasks_ = 0, runs_ = 1;
};

}  // namespace petrel
