#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace petrel {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{1000}}) {
      std::vector<std::atomic<int>> hits(n);
      for (int repeat = 0; repeat < 20; ++repeat)
        pool.parallelFor(n, [&](size_t begin, size_t end) {
          for (size_t i = begin; i < end; ++i) hits[i]++;
        });
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 20) << "threads " << threads << " n " << n;
    }
  }
}

TEST(ThreadPool, ParallelTasksGivesValidThreadIndices) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> perThread(pool.threads());
  std::atomic<int> total{0};
  pool.parallelTasks(500, [&](size_t, int thread) {
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, pool.threads());
    perThread[thread]++;
    total++;
  });
  EXPECT_EQ(total.load(), 500);
}

}  // namespace
}  // namespace petrel
