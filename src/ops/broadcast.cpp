#include "ops/broadcast.h"

namespace petrel {

std::optional<Shape> broadcastShapes(const Shape& a, const Shape& b) { return broadcastShapes({a, b}); }

std::optional<Shape> broadcastShapes(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const size_t lead = rank - s.size();  // s is aligned on the last dimension
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t& o = out[lead + d];
      if (s[d] == o || s[d] == 1) continue;
      if (o != 1) return std::nullopt;
      o = s[d];
    }
  }
  return out;
}

bool broadcastsTo(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1 && from[d] != to[lead + d]) return false;
  return true;
}

int64_t BroadcastPlan::rows() const {
  int64_t n = 1;
  for (size_t k = 0; k + 1 < dims.size(); ++k) n *= dims[k];
  return n;
}

int64_t BroadcastPlan::rowOffset(size_t input, int64_t row) const {
  const std::vector<int64_t>& st = strides[input];
  int64_t offset = 0;
  for (size_t k = dims.size() - 1; k-- > 0;) {
    const int64_t index = row % dims[k];
    row /= dims[k];
    offset += index * st[k];
  }
  return offset;
}

BroadcastPlan makeBroadcastPlan(const std::vector<Shape>& inputs, const Shape& outShape) {
  const size_t rank = outShape.size();
  const size_t count = inputs.size();

  // Per input: element strides of each output dimension (0 where broadcast).
  std::vector<std::vector<int64_t>> fullStrides(count, std::vector<int64_t>(rank, 0));
  for (size_t i = 0; i < count; ++i) {
    const Shape& s = inputs[i];
    const size_t lead = rank - s.size();
    int64_t stride = 1;
    for (size_t d = s.size(); d-- > 0;) {
      fullStrides[i][lead + d] = s[d] == 1 ? 0 : stride;
      stride *= s[d];
    }
  }

  BroadcastPlan plan;
  plan.outShape = outShape;
  plan.strides.assign(count, {});
  for (size_t d = 0; d < rank; ++d) {
    if (outShape[d] == 1) continue;  // size-1 dims add no loop
    bool merge = !plan.dims.empty();
    for (size_t i = 0; i < count && merge; ++i) {
      const int64_t outer = plan.strides[i].back();
      const int64_t inner = fullStrides[i][d];
      merge = (outer == 0 && inner == 0) || (inner != 0 && outer == inner * outShape[d]);
    }
    if (merge) {
      plan.dims.back() *= outShape[d];
      for (size_t i = 0; i < count; ++i) plan.strides[i].back() = fullStrides[i][d];
    } else {
      plan.dims.push_back(outShape[d]);
      for (size_t i = 0; i < count; ++i) plan.strides[i].push_back(fullStrides[i][d]);
    }
  }
  if (plan.dims.empty()) {  // a single element
    plan.dims.push_back(1);
    for (size_t i = 0; i < count; ++i) plan.strides[i].push_back(0);
  }
  return plan;
}

}  // namespace petrel
