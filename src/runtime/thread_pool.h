#pragma once
// A persistent pool of worker threads. Threads are created once per Session;
// between jobs they poll briefly, then sleep on a condition variable, so no
// operator starts a thread and back-to-back parallel sections start quickly.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace petrel {

class ThreadPool {
 public:
  // `threads` counts the calling thread: ThreadPool(1) runs everything inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint ranges covering [0, n), split into at
  // most threads() contiguous chunks of near-equal size, and waits for all.
  // The caller's thread runs the first chunk. Not re-entrant.
  void parallelFor(size_t n, const std::function<void(size_t begin, size_t end)>& fn);

  // Calls fn(task) for task in [0, tasks); tasks are handed out dynamically,
  // which balances uneven work. fn(task, threadIndex) - threadIndex in
  // [0, threads()) lets a task use per-thread scratch space.
  void parallelTasks(size_t tasks, const std::function<void(size_t task, int threadIndex)>& fn);

 private:
  void workerLoop(int index);
  void runJob(int threadIndex);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;  // workers sleep here between jobs
  std::condition_variable done_;  // the caller sleeps here until workers finish
  const std::function<void(size_t, int)>* job_ = nullptr;
  size_t jobTasks_ = 0;
  std::atomic<size_t> nextTask_{0};
  std::atomic<int> pending_{0};         // workers that have not finished this job
  std::atomic<unsigned> generation_{0};  // bumped once per job
  std::atomic<bool> stopping_{false};
};

}  // namespace petrel
