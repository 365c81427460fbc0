#include "runtime/thread_pool.h"

#include <algorithm>

namespace petrel {

ThreadPool::ThreadPool(int threads) {
  const int extra = std::max(threads, 1) - 1;
  workers_.reserve(extra);
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { workerLoop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::parallelFor(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t chunks = std::min<size_t>(n, static_cast<size_t>(threads()));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  // One captured pointer keeps the std::function in its small buffer, so a
  // parallel call does not allocate.
  struct Chunking {
    size_t n, chunks;
    const std::function<void(size_t, size_t)>* fn;
  } chunking{n, chunks, &fn};
  parallelTasks(chunks, [c = &chunking](size_t chunk, int) {
    (*c->fn)(c->n * chunk / c->chunks, c->n * (chunk + 1) / c->chunks);
  });
}

void ThreadPool::parallelTasks(size_t tasks, const std::function<void(size_t, int)>& fn) {
  if (tasks == 0) return;
  if (workers_.empty() || tasks == 1) {
    for (size_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobTasks_ = tasks;
    nextTask_.store(0, std::memory_order_relaxed);
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  runJob(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return busy_ == 0; });
  job_ = nullptr;
}

void ThreadPool::runJob(int threadIndex) {
  const auto& fn = *job_;
  for (;;) {
    const size_t task = nextTask_.fetch_add(1, std::memory_order_relaxed);
    if (task >= jobTasks_) break;
    fn(task, threadIndex);
  }
}

void ThreadPool::workerLoop(int index) {
  unsigned seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    runJob(index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --busy_;
    }
    done_.notify_one();
  }
}

}  // namespace petrel
