#pragma once
// The spatial attributes of Conv and ConvTranspose (ONNX), read from the node
// and normalised to two spatial axes: a 1-D operator is the H = 1 case.
#include <array>
#include <cstdint>

#include "ops/op.h"

namespace petrel {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct ConvAttributes {
  int spatialRank = 2;  // as in the model: 1 or 2
  int64_t group = 1;
  AutoPad autoPad = AutoPad::kNotSet;
  // Index 0 is H, 1 is W.
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 2> padBegin{0, 0};
  std::array<int64_t, 2> padEnd{0, 0};
};

// Reads group, auto_pad, kernel_shape (checked against the weights' spatial
// dims, `kernelFromWeights`), strides, dilations and pads. Fails with a message
// naming the attribute when a value is out of range.
ConvAttributes readConvAttributes(const PlanContext& ctx, int spatialRank,
                                  const std::array<int64_t, 2>& kernelFromWeights);

// Conv output size along `axis` for input size `in`; resolves auto_pad into
// a.padBegin/padEnd. Fails if the window does not fit.
int64_t convOutputSize(const PlanContext& ctx, ConvAttributes& a, int axis, int64_t in);

// Reads a tensor [N, C, spatial...] of rank 3 or 4 as 2-D sizes (H = 1 for 1-D).
struct SpatialShape {
  int64_t batch, channels, h, w;
};
SpatialShape readSpatialShape(const PlanContext& ctx, const Shape& shape, const char* what);

}  // namespace petrel
