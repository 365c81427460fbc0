#pragma once
// The window of a 1-D or 2-D MaxPool / AveragePool, worked out per axis, and
// the computation of one output row of one plane. Shared by the pooling
// operators (ops/pool.cpp) and by a Conv that absorbed the MaxPool reading it
// (graph passes: fuseConvMaxPool), which pools its output rows while they are
// still in cache.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "ops/op.h"
#include "ops/row_kernels.h"

namespace petrel {

class ThreadPool;

// One spatial axis of a pooling window.
struct PoolAxis {
  int64_t in = 1, out = 1;
  int64_t kernel = 1, stride = 1, dilation = 1;
  int64_t padBegin = 0, padEnd = 0;
};

// Reads the window attributes kernel_shape, strides, dilations, pads,
// auto_pad and ceil_mode, each named `prefix` + the ONNX name (MaxPool's own
// have no prefix), for an input [N, C, spatial...] with 1 or 2 spatial axes.
// Returns the H and W axes; a 1-D window is the H = 1 case. Fails naming the
// attribute that is out of range.
std::array<PoolAxis, 2> readPoolAxes(const PlanContext& ctx, const Shape& input, const std::string& prefix);

// The shape of the pooled output of `input` [N, C, spatial...] (1 or 2
// spatial axes) with the axes readPoolAxes returned.
Shape pooledShape(const Shape& input, const std::array<PoolAxis, 2>& axes);

// One output row of a plane, for every output row of every plane.
class PoolRows {
 public:
  PoolRows(bool isMax, const PoolAxis& h, const PoolAxis& w, bool countIncludePad, Isa isa);

  // The input rows [first, last) output row `oh` reads; empty when its whole
  // window lies in the padding.
  struct Rows {
    int64_t first = 0, last = 0;
  };
  Rows inputRows(int64_t oh) const { return inputRows_[oh]; }

  // Output rows [begin, end) of one plane into y, a row of w.out floats
  // each: `top` is input row inputRows(begin).first of the plane, the next
  // input row rowStride floats on.
  void rows(const float* top, int64_t rowStride, int64_t begin, int64_t end, float* y) const;

  // Every output row of `count` planes: in [count][h.in][w.in] into
  // out [count][h.out][w.out], the planes split among the pool's threads
  // (at most `threads`) when the work is large enough.
  void planes(const float* in, float* out, int64_t count, ThreadPool* pool, int threads) const;

 private:
  // The taps of one output position along one axis: t in [first, last) lands
  // on input index start + t * dilation; `padded` taps lie in the padded input.
  struct AxisWindow {
    int64_t start = 0;
    int64_t first = 0, last = 0;
    int64_t padded = 0;
  };
  static std::vector<AxisWindow> axisWindows(const PoolAxis& a);
  // Output rows [first, first + count) whose windows have the same rows,
  // each one stride below the last: one call of the row kernel serves them.
  struct RowRun {
    int64_t first = 0, count = 1;
  };
  // A run of one plane: `top` is input row inputRows(run.first).first, y output row run.first.
  template <bool IsMax>
  void runOf(const float* top, int64_t rowStride, const RowRun& run, float* y) const;
  template <bool IsMax>
  float borderColumn(const float* first, int64_t rowStride, int64_t rows, int64_t rowCount, const AxisWindow& c) const;

  bool isMax_;
  PoolAxis h_, w_;
  bool countIncludePad_;
  PoolWindows windows_;
  std::vector<AxisWindow> rows_, columns_;
  std::vector<Rows> inputRows_;
  std::vector<RowRun> rowRuns_;
  int64_t interiorBegin_ = 0, interiorEnd_ = 0;  // [begin, end): columns with every tap inside
};

}  // namespace petrel
