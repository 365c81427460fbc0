#include "memory/arena_planner.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "petrel/error.h"

namespace petrel {

namespace {
bool livesOverlap(const BufferRequest& a, const BufferRequest& b) {
  return a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;
}
}  // namespace

ArenaPlan ArenaPlanner::plan(const std::vector<BufferRequest>& requests) const {
  ArenaPlan result;
  result.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].firstUse < requests[b].firstUse;
  });

  std::vector<size_t> placed;  // indices of requests already given an offset
  std::vector<size_t> live;    // scratch: placed buffers whose lifetime meets the current one
  for (size_t index : order) {
    const BufferRequest& request = requests[index];
    result.unplannedBytes += request.bytes;
    const size_t size = (request.bytes + alignment_ - 1) / alignment_ * alignment_;
    live.clear();
    for (size_t other : placed)
      if (livesOverlap(request, requests[other])) live.push_back(other);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return result.offsets[a] < result.offsets[b]; });
    size_t candidate = 0;
    for (size_t other : live) {
      const size_t otherStart = result.offsets[other];
      if (otherStart >= candidate + size) break;  // the gap before `other` fits
      candidate = std::max(candidate, (otherStart + requests[other].bytes + alignment_ - 1) / alignment_ * alignment_);
    }
    result.offsets[index] = candidate;
    result.arenaBytes = std::max(result.arenaBytes, candidate + size);
    placed.push_back(index);
  }
  return result;
}

void ArenaPlanner::verify(const std::vector<BufferRequest>& requests, const ArenaPlan& plan) const {
  if (plan.offsets.size() != requests.size()) throw Error("arena plan: wrong number of offsets");
  for (size_t i = 0; i < requests.size(); ++i) {
    if (plan.offsets[i] % alignment_ != 0) throw Error("arena plan: buffer " + std::to_string(i) + " is misaligned");
    if (plan.offsets[i] + requests[i].bytes > plan.arenaBytes)
      throw Error("arena plan: buffer " + std::to_string(i) + " ends past the arena");
    for (size_t j = i + 1; j < requests.size(); ++j) {
      if (!livesOverlap(requests[i], requests[j]) || requests[i].bytes == 0 || requests[j].bytes == 0) continue;
      const bool disjoint = plan.offsets[i] + requests[i].bytes <= plan.offsets[j] ||
                            plan.offsets[j] + requests[j].bytes <= plan.offsets[i];
      if (!disjoint)
        throw Error("arena plan: buffers " + std::to_string(i) + " and " + std::to_string(j) +
                    " are live at the same time and overlap");
    }
  }
}

std::string ArenaPlanner::describe(const std::vector<BufferRequest>& requests, const ArenaPlan& plan) const {
  std::ostringstream out;
  for (size_t i = 0; i < requests.size(); ++i)
    out << "buffer " << i << ": [" << plan.offsets[i] << ", " << plan.offsets[i] + requests[i].bytes << ") steps "
        << requests[i].firstUse << ".." << requests[i].lastUse << "\n";
  out << "arena " << plan.arenaBytes << " bytes (without reuse " << plan.unplannedBytes << ")\n";
  return out.str();
}

}  // namespace petrel
