// Resize (opsets 11-13): modes nearest and linear.
//
// Inputs X, roi, scales, sizes; roi, scales and sizes may be absent or empty,
// and exactly one of scales / sizes gives the output size. Each output index x
// along a dim maps to a source coordinate by coordinate_transformation_mode:
//   half_pixel          (x + 0.5) / scale - 0.5
//   pytorch_half_pixel  the same, but 0 when the output length is 1
//   align_corners       x * (in - 1) / (out - 1), 0 when the output length is 1
//   asymmetric          x / scale
//   tf_half_pixel_for_nn (x + 0.5) / scale
// where scale is the given scale, or out / in when sizes are given.
// nearest rounds that coordinate by nearest_mode, then clamps it into the
// input; any dims may be resized. linear clamps it into [0, in - 1] and
// interpolates between its two neighbours; it resizes the last two dims
// (bilinear on NCHW), the others must keep their size.
// All index and weight tables are built at planning.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "ops/op.h"
#include "petrel/error.h"
#include "runtime/thread_pool.h"

namespace petrel {
namespace {

// Below this many output elements the work runs on the calling thread only.
constexpr int64_t kParallelMinElements = 1 << 14;

enum class CoordMode { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn };
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

float sourceCoordinate(CoordMode mode, int64_t x, float scale, int64_t lengthIn, int64_t lengthOut) {
  const float xf = static_cast<float>(x);
  switch (mode) {
    case CoordMode::kHalfPixel: return (xf + 0.5f) / scale - 0.5f;
    case CoordMode::kPytorchHalfPixel: return lengthOut > 1 ? (xf + 0.5f) / scale - 0.5f : 0.0f;
    case CoordMode::kAlignCorners:
      return lengthOut == 1 ? 0.0f : xf * static_cast<float>(lengthIn - 1) / static_cast<float>(lengthOut - 1);
    case CoordMode::kAsymmetric: return xf / scale;
    case CoordMode::kTfHalfPixelForNn: return (xf + 0.5f) / scale;
  }
  return 0.0f;
}

int64_t roundNearest(NearestMode mode, float x) {
  const float below = std::floor(x);
  const bool half = x == below + 0.5f;
  switch (mode) {
    case NearestMode::kRoundPreferFloor: return static_cast<int64_t>(half ? below : std::round(x));
    case NearestMode::kRoundPreferCeil: return static_cast<int64_t>(half ? below + 1.0f : std::round(x));
    case NearestMode::kFloor: return static_cast<int64_t>(below);
    case NearestMode::kCeil: return static_cast<int64_t>(std::ceil(x));
  }
  return 0;
}

// --- nearest -----------------------------------------------------------------------

struct NearestPlan {
  Shape outShape;                             // never empty
  std::vector<std::vector<int64_t>> offsets;  // offsets[d][o] = source index * input stride of d
  int64_t rows() const { return shapeElements(outShape) / std::max<int64_t>(outShape.back(), 1); }
};

void nearestRows(const NearestPlan& plan, const float* in, float* out, int64_t rowBegin, int64_t rowEnd) {
  const size_t rank = plan.outShape.size();
  const int64_t inner = plan.outShape.back();
  const int64_t* innerOffsets = plan.offsets.back().data();
  int64_t previousOffset = -1;
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    int64_t rest = row, offset = 0;
    for (size_t d = rank - 1; d-- > 0;) {
      offset += plan.offsets[d][rest % plan.outShape[d]];
      rest /= plan.outShape[d];
    }
    float* dst = out + row * inner;
    if (offset == previousOffset) {  // upsampling repeats the source row
      std::memcpy(dst, dst - inner, inner * sizeof(float));
      continue;
    }
    const float* src = in + offset;
    for (int64_t i = 0; i < inner; ++i) dst[i] = src[innerOffsets[i]];
    previousOffset = offset;
  }
}

class NearestExecutor final : public Executor {
 public:
  explicit NearestExecutor(NearestPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "resize.nearest.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const NearestPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    auto rows = [&job](size_t begin, size_t end) {
      nearestRows(*job.plan, job.args->inputs[0], job.args->outputs[0], begin, end);
    };
    if (shapeElements(plan_.outShape) < kParallelMinElements || plan_.rows() < 2)
      rows(0, plan_.rows());
    else
      args.pool->parallelFor(plan_.rows(), rows);
  }

 private:
  NearestPlan plan_;
};

// --- linear ------------------------------------------------------------------------

// Source neighbours and weight of one output index along one dim.
struct LinearTap {
  int64_t low = 0, high = 0;  // neighbouring source indices (equal at the borders)
  float weight = 0.0f;        // of `high`
};

struct LinearPlan {
  int64_t planes = 1;            // product of the dims before the last two
  int64_t inH = 1, inW = 1, outH = 1, outW = 1;
  std::vector<LinearTap> ys, xs;  // per output row / column
  int64_t elements() const { return planes * outH * outW; }
};

LinearTap linearTap(float x, int64_t lengthIn) {
  x = std::clamp(x, 0.0f, static_cast<float>(lengthIn - 1));
  LinearTap tap;
  tap.low = static_cast<int64_t>(x);
  tap.high = std::min(tap.low + 1, lengthIn - 1);
  tap.weight = x - static_cast<float>(tap.low);
  return tap;
}

// Output rows [rowBegin, rowEnd) over all planes; row = plane * outH + y.
void linearRows(const LinearPlan& plan, const float* in, float* out, int64_t rowBegin, int64_t rowEnd) {
  const LinearTap* xs = plan.xs.data();
  for (int64_t row = rowBegin; row < rowEnd; ++row) {
    const int64_t plane = row / plan.outH;
    const LinearTap& ty = plan.ys[row % plan.outH];
    const float* top = in + (plane * plan.inH + ty.low) * plan.inW;
    const float* bottom = in + (plane * plan.inH + ty.high) * plan.inW;
    const float wy = ty.weight;
    float* dst = out + row * plan.outW;
    for (int64_t x = 0; x < plan.outW; ++x) {
      const LinearTap& tx = xs[x];
      const float a = top[tx.low] + (top[tx.high] - top[tx.low]) * tx.weight;
      const float b = bottom[tx.low] + (bottom[tx.high] - bottom[tx.low]) * tx.weight;
      dst[x] = a + (b - a) * wy;
    }
  }
}

class LinearExecutor final : public Executor {
 public:
  explicit LinearExecutor(LinearPlan plan) : plan_(std::move(plan)) {}
  std::string kernelName() const override { return "resize.bilinear.f32"; }
  void run(const RunArgs& args) override {
    struct Job {
      const LinearPlan* plan;
      const RunArgs* args;
    } job{&plan_, &args};
    auto rows = [&job](size_t begin, size_t end) {
      linearRows(*job.plan, job.args->inputs[0], job.args->outputs[0], begin, end);
    };
    const int64_t rowCount = plan_.planes * plan_.outH;
    if (plan_.elements() < kParallelMinElements || rowCount < 2)
      rows(0, rowCount);
    else
      args.pool->parallelFor(rowCount, rows);
  }

 private:
  LinearPlan plan_;
};

// --- planning ----------------------------------------------------------------------

std::unique_ptr<Executor> planResize(PlanContext& ctx) {
  const OpInput& data = ctx.input(0);
  if (data.dtype != DType::kFloat32) ctx.fail("input must be float32");
  const Shape& in = data.shape;
  const size_t rank = in.size();
  if (rank == 0) ctx.fail("cannot resize a scalar");

  const std::string modeName = ctx.node.getString("mode", "nearest");
  if (modeName != "nearest" && modeName != "linear")
    ctx.fail("mode '" + modeName + "' is not supported (nearest, linear)");
  const std::string coordName = ctx.node.getString("coordinate_transformation_mode", "half_pixel");
  CoordMode coord;
  if (coordName == "half_pixel") coord = CoordMode::kHalfPixel;
  else if (coordName == "pytorch_half_pixel") coord = CoordMode::kPytorchHalfPixel;
  else if (coordName == "align_corners") coord = CoordMode::kAlignCorners;
  else if (coordName == "asymmetric") coord = CoordMode::kAsymmetric;
  else if (coordName == "tf_half_pixel_for_nn") coord = CoordMode::kTfHalfPixelForNn;
  else ctx.fail("coordinate_transformation_mode '" + coordName + "' is not supported");
  const std::string nearestName = ctx.node.getString("nearest_mode", "round_prefer_floor");
  NearestMode nearest;
  if (nearestName == "round_prefer_floor") nearest = NearestMode::kRoundPreferFloor;
  else if (nearestName == "round_prefer_ceil") nearest = NearestMode::kRoundPreferCeil;
  else if (nearestName == "floor") nearest = NearestMode::kFloor;
  else if (nearestName == "ceil") nearest = NearestMode::kCeil;
  else ctx.fail("nearest_mode '" + nearestName + "' is not supported");
  if (ctx.node.has("axes")) ctx.fail("attribute 'axes' (opset 18) is not supported");
  if (ctx.node.getInt("antialias", 0) != 0) ctx.fail("antialias is not supported");

  // Output shape and per-dim scale from sizes or scales (absent or empty = not given).
  const bool haveScales = ctx.hasInput(2) && ctx.staticInput(2).elements() > 0;
  const bool haveSizes = ctx.hasInput(3) && ctx.staticInput(3).elements() > 0;
  if (haveScales == haveSizes) ctx.fail("exactly one of scales and sizes must be given");
  Shape out(rank);
  std::vector<float> scales(rank, 1.0f);
  const StaticTensor& given = ctx.staticInput(haveSizes ? 3 : 2);
  if (given.elements() != static_cast<int64_t>(rank))
    ctx.fail(std::string(haveSizes ? "sizes" : "scales") + " has " + std::to_string(given.elements()) +
             " entries for an input of rank " + std::to_string(rank));
  for (size_t d = 0; d < rank; ++d) {
    if (haveSizes) {
      out[d] = given.intAt(d);
      if (out[d] < 0) ctx.fail("sizes has a negative entry " + std::to_string(out[d]));
      if (in[d] > 0) scales[d] = static_cast<float>(out[d]) / static_cast<float>(in[d]);
    } else {
      scales[d] = given.floatAt(d);
      if (!(scales[d] > 0.0f)) ctx.fail("scales must be positive, got " + std::to_string(scales[d]));
      out[d] = static_cast<int64_t>(scales[d] * static_cast<float>(in[d]));  // floor, as ONNX Runtime
    }
    if (in[d] == 0 && out[d] > 0) ctx.fail("cannot resize the empty axis " + std::to_string(d));
  }
  ctx.outputShapes[0] = out;

  if (modeName == "nearest") {
    NearestPlan plan;
    plan.outShape = out;
    plan.offsets.resize(rank);
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      for (int64_t o = 0; o < out[d]; ++o) {
        const float x = sourceCoordinate(coord, o, scales[d], in[d], out[d]);
        plan.offsets[d].push_back(std::clamp<int64_t>(roundNearest(nearest, x), 0, in[d] - 1) * stride);
      }
      stride *= in[d];
    }
    return std::make_unique<NearestExecutor>(std::move(plan));
  }

  // linear: the dims before the last two must map each index to itself.
  LinearPlan plan;
  const size_t spatial = std::min<size_t>(rank, 2);
  for (size_t d = 0; d + spatial < rank; ++d) {
    bool identity = out[d] == in[d];
    for (int64_t o = 0; identity && o < out[d] && in[d] > 1; ++o)
      identity = sourceCoordinate(coord, o, scales[d], in[d], out[d]) == static_cast<float>(o);
    if (!identity)
      ctx.fail("linear mode resizes only the last two dims, but dim " + std::to_string(d) + " changes (" +
               shapeToString(in) + " -> " + shapeToString(out) + ")");
    plan.planes *= in[d];
  }
  plan.inW = in[rank - 1];
  plan.outW = out[rank - 1];
  if (rank >= 2) {
    plan.inH = in[rank - 2];
    plan.outH = out[rank - 2];
  }
  for (int64_t y = 0; y < plan.outH; ++y)
    plan.ys.push_back(rank >= 2 ? linearTap(sourceCoordinate(coord, y, scales[rank - 2], plan.inH, plan.outH), plan.inH)
                                : LinearTap{});
  for (int64_t x = 0; x < plan.outW; ++x)
    plan.xs.push_back(linearTap(sourceCoordinate(coord, x, scales[rank - 1], plan.inW, plan.outW), plan.inW));
  return std::make_unique<LinearExecutor>(std::move(plan));
}

}  // namespace

PETREL_REGISTER_OP("Resize", planResize);

}  // namespace petrel
