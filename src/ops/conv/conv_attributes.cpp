#include "ops/conv/conv_attributes.h"

#include <algorithm>
#include <string>
#include <vector>

namespace petrel {

namespace {

// A per-axis attribute of `rank` values (default `fallback`), stored at the
// end of the 2-D array (a 1-D value is the W axis).
std::array<int64_t, 2> readAxes(const PlanContext& ctx, const char* name, int rank, int64_t fallback,
                                int64_t minimum) {
  std::array<int64_t, 2> out{fallback, fallback};
  if (!ctx.node.has(name)) return out;
  const std::vector<int64_t> values = ctx.node.getInts(name);
  if (static_cast<int>(values.size()) != rank)
    ctx.fail(std::string("attribute ") + name + " has " + std::to_string(values.size()) + " values, expected " +
             std::to_string(rank));
  for (int i = 0; i < rank; ++i) {
    if (values[i] < minimum)
      ctx.fail(std::string("attribute ") + name + " value " + std::to_string(values[i]) + " is below " +
               std::to_string(minimum));
    out[2 - rank + i] = values[i];
  }
  return out;
}

}  // namespace

ConvAttributes readConvAttributes(const PlanContext& ctx, int spatialRank,
                                  const std::array<int64_t, 2>& kernelFromWeights) {
  if (spatialRank != 1 && spatialRank != 2)
    ctx.fail("only 1-D and 2-D convolutions are supported, not " + std::to_string(spatialRank) + "-D");
  ConvAttributes a;
  a.spatialRank = spatialRank;
  a.group = ctx.node.getInt("group", 1);
  if (a.group < 1) ctx.fail("attribute group must be at least 1, got " + std::to_string(a.group));

  const std::string autoPad = ctx.node.getString("auto_pad", "NOTSET");
  if (autoPad == "NOTSET")
    a.autoPad = AutoPad::kNotSet;
  else if (autoPad == "SAME_UPPER")
    a.autoPad = AutoPad::kSameUpper;
  else if (autoPad == "SAME_LOWER")
    a.autoPad = AutoPad::kSameLower;
  else if (autoPad == "VALID")
    a.autoPad = AutoPad::kValid;
  else
    ctx.fail("unknown auto_pad '" + autoPad + "'");

  a.kernel = kernelFromWeights;
  if (ctx.node.has("kernel_shape")) {
    const std::array<int64_t, 2> declared = readAxes(ctx, "kernel_shape", spatialRank, 1, 1);
    if (declared != kernelFromWeights) ctx.fail("attribute kernel_shape does not match the weights' shape");
  }
  a.stride = readAxes(ctx, "strides", spatialRank, 1, 1);
  a.dilation = readAxes(ctx, "dilations", spatialRank, 1, 1);
  if (ctx.node.has("pads") && a.autoPad == AutoPad::kNotSet) {
    const std::vector<int64_t> pads = ctx.node.getInts("pads");
    if (static_cast<int>(pads.size()) != 2 * spatialRank)
      ctx.fail("attribute pads has " + std::to_string(pads.size()) + " values, expected " +
               std::to_string(2 * spatialRank));
    for (int i = 0; i < spatialRank; ++i) {
      if (pads[i] < 0 || pads[spatialRank + i] < 0) ctx.fail("negative pads are not supported");
      a.padBegin[2 - spatialRank + i] = pads[i];
      a.padEnd[2 - spatialRank + i] = pads[spatialRank + i];
    }
  }
  return a;
}

int64_t convOutputSize(const PlanContext& ctx, ConvAttributes& a, int axis, int64_t in) {
  const int64_t window = (a.kernel[axis] - 1) * a.dilation[axis] + 1;
  const int64_t stride = a.stride[axis];
  if (a.autoPad == AutoPad::kSameUpper || a.autoPad == AutoPad::kSameLower) {
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (out - 1) * stride + window - in);
    const int64_t smaller = total / 2, larger = total - total / 2;
    a.padBegin[axis] = a.autoPad == AutoPad::kSameUpper ? smaller : larger;
    a.padEnd[axis] = a.autoPad == AutoPad::kSameUpper ? larger : smaller;
    return out;
  }
  if (a.autoPad == AutoPad::kValid) a.padBegin[axis] = a.padEnd[axis] = 0;
  const int64_t padded = in + a.padBegin[axis] + a.padEnd[axis];
  if (padded < window)
    ctx.fail("the kernel window (" + std::to_string(window) + ") is larger than the padded input (" +
             std::to_string(padded) + ")");
  return (padded - window) / stride + 1;
}

SpatialShape readSpatialShape(const PlanContext& ctx, const Shape& shape, const char* what) {
  if (shape.size() != 3 && shape.size() != 4)
    ctx.fail(std::string(what) + " must have rank 3 or 4 ([N, C, W] or [N, C, H, W]), got " +
             shapeToString(shape));
  for (int64_t d : shape)
    if (d < 0) ctx.fail(std::string(what) + " has an unknown dimension: " + shapeToString(shape));
  SpatialShape s;
  s.batch = shape[0];
  s.channels = shape[1];
  s.h = shape.size() == 4 ? shape[2] : 1;
  s.w = shape.back();
  return s;
}

}  // namespace petrel
