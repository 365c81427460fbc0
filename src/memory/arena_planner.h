#pragma once
// Lays out the intermediate tensors of a planned session in one arena.
//
// Each buffer is used during the steps [firstUse, lastUse] (inclusive). Two
// buffers may share bytes only if those intervals do not intersect.
//
// Algorithm (greedy by size, as in TensorFlow Lite Micro's planner):
//   1. Sort buffers by size, largest first (ties: earlier firstUse first).
//   2. For each buffer, collect the already placed buffers whose lifetime
//      intersects its own, ordered by offset.
//   3. Walk those in offset order and take the first gap large enough;
//      otherwise place the buffer after the last of them.
//   4. The arena size is the largest end offset.
// Every offset is a multiple of the alignment. The result is checked by
// verify(), which the tests run on random graphs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace petrel {

struct BufferRequest {
  size_t bytes = 0;
  int firstUse = 0;
  int lastUse = 0;
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // one per request
  size_t arenaBytes = 0;
  size_t unplannedBytes = 0;  // sum of all request sizes (what no reuse would need)
};

class ArenaPlanner {
 public:
  explicit ArenaPlanner(size_t alignment = 64) : alignment_(alignment) {}
  ArenaPlan plan(const std::vector<BufferRequest>& requests) const;
  // Throws Error if two buffers with intersecting lifetimes overlap, an offset
  // is misaligned or a buffer ends past the arena.
  void verify(const std::vector<BufferRequest>& requests, const ArenaPlan& plan) const;
  // One line per buffer: "buffer 3: [4096, 8192) steps 2..5".
  std::string describe(const std::vector<BufferRequest>& requests, const ArenaPlan& plan) const;

 private:
  size_t alignment_;
};

}  // namespace petrel
