#pragma once
// Direct depthwise 2-D convolution (group == channels): every channel is
// convolved with its own kernelH x kernelW filter, then bias and the fused
// activation are applied in the store.
//
//   input   [batch][channels][inH][inW]
//   weights [channels][kernelH][kernelW]
//   bias    [channels] or nullptr
//   output  [batch][channels][outH][outW]
//
// `g.channels` is the number of channels (each with its own filter).
// The AVX2 path copies each plane, a band of rows at a time, into a
// zero-padded buffer (per thread, from the scratch; sized to stay in L1) so
// that every output row, borders included, is computed by the same vector
// loop without bounds checks: blocks of up to 4 output rows by 16 columns (8
// vectors in flight), stride 1 directly and stride 2 from a copy split into
// even and odd columns. It serves square 3x3 and 5x5 filters, stride 1 or 2
// both ways, no dilation (MobileNet's); others take the scalar path. Threads
// split the (image, channel) planes.
//
// Small planes (depthwiseUsesChannelBlocks: input rows of at most 28, as
// MobileNets' last stages have) are computed 8 channels at a time instead:
// rows of 7 or 14 outputs leave vector lanes idle, and the set-up per plane
// costs more than its few taps. The planes of 8 channels are interleaved into
// one zero-padded plane whose pixels are 8 floats, one per channel (an 8x8
// transpose per 8 pixels); then a tap of 8 outputs of a row is 8 FMAs with
// the taps of 8 filters as one vector, at either stride, and the outputs are
// transposed back on the store. Threads then split (image, 8 channels) blocks.
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/conv_geometry.h"
#include "kernels/cpu.h"

namespace petrel {

class ThreadPool;

// Scratch for depthwiseConv2d with up to `threads` threads.
size_t depthwiseScratchBytes(const Conv2dGeometry& g, int threads, Isa isa = bestIsa());

// `scratch` (64-byte aligned) from depthwiseScratchBytes; with a pool of more
// threads than it was sized for, fewer threads work. Does not allocate.
void depthwiseConv2d(const Conv2dGeometry& g, int64_t batch, const float* input, const float* weights,
                     const float* bias, const ActivationParams& activation, float* output, void* scratch,
                     size_t scratchBytes, ThreadPool* pool, Isa isa = bestIsa());

// One channel plane: in [inH][inW], filter [kernelH][kernelW] -> out [outH][outW].
void depthwisePlaneScalar(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                          const ActivationParams& activation, float* out);

// The zero-padded buffer of the SIMD path: it holds the rows of the padded
// plane that one band of `bandRows` output rows reads, rows x columns (row
// stride `columns`), wide enough for whole vectors of outputs. At stride 1 a
// row is the padded input row (the input at column padLeft). At stride 2 it
// is the input row split into its even columns then its odd ones, `half`
// floats each, each part starting with `margin` zeros (the left padding):
// then every tap of 8 neighbouring outputs is one plain load.
struct DepthwisePaddedPlane {
  int64_t rows = 0, columns = 0;
  int64_t bandRows = 0;
  int64_t half = 0, margin = 0;  // stride 2
  int64_t floats() const { return rows * columns; }
};
DepthwisePaddedPlane depthwisePaddedPlane(const Conv2dGeometry& g);
// `padded` holds depthwisePaddedPlane(g).floats() floats whose padding
// columns are zero; each band's rows are copied in.
void depthwisePlaneAvx2(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                        const ActivationParams& activation, float* out, float* padded);

// Whether depthwiseConv2d computes g 8 channels at a time (see above).
bool depthwiseUsesChannelBlocks(const Conv2dGeometry& g, Isa isa = bestIsa());

// A thread's work area for the 8-channel path, in floats from its start: the
// interleaved padded plane (rows x columns pixels of 8 floats, the input at
// pixel (padTop, padLeft)), the taps of 8 filters (tap t of channel c at
// taps + 8 * t + c), and an int32 table that depends only on g: the pixel of
// the plane where each input pixel goes.
struct DepthwiseChannelBlockLayout {
  int64_t rows = 0, columns = 0;
  int64_t taps = 0, inputPlaces = 0;  // offsets
  int64_t floats = 0;                 // the whole area, a multiple of 16
};
DepthwiseChannelBlockLayout depthwiseChannelBlockLayout(const Conv2dGeometry& g);
// Zeroes the plane and fills the table of a work area.
void prepareDepthwiseChannelBlocks(const Conv2dGeometry& g, const DepthwiseChannelBlockLayout& layout, float* work);
// Channels [0, lanes) (lanes <= 8) of one image: plane c at in + c * inPixels,
// filter c at filters + c * kernelH * kernelW, bias[c] (bias may be nullptr),
// output plane c at out + c * outPixels. `work` was prepared for g.
void depthwiseChannelBlockAvx2(const Conv2dGeometry& g, const DepthwiseChannelBlockLayout& layout, const float* in,
                               int lanes, const float* filters, const float* bias, const ActivationParams& activation,
                               float* out, float* work);

}  // namespace petrel
