#include "runtime/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PETREL_CPU_RELAX() _mm_pause()
#else
#define PETREL_CPU_RELAX() ((void)0)
#endif

namespace petrel {

namespace {
// How long a thread polls for the next job (or for the workers to finish)
// before it sleeps on a condition variable. An inference runs many short
// parallel sections back to back; polling for a few tens of microseconds
// saves a futex wake-up per section, and a sleeping pool costs nothing.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int extra = std::max(threads, 1) - 1;
  workers_.reserve(extra);
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { workerLoop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
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
  job_ = &fn;
  jobTasks_ = tasks;
  nextTask_.store(0, std::memory_order_relaxed);
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the mutex, so a worker about to sleep sees either the old
    // generation and then the notification, or the new generation.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  runJob(0);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      PETREL_CPU_RELAX();
      continue;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    break;
  }
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
    unsigned current = generation_.load(std::memory_order_acquire);
    for (int spin = 0; current == seen && !stopping_.load(std::memory_order_acquire); ++spin) {
      if (spin < kSpinIterations) {
        PETREL_CPU_RELAX();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
          return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
        });
      }
      current = generation_.load(std::memory_order_acquire);
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    seen = current;
    runJob(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace petrel
