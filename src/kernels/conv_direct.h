#pragma once
// Direct convolution for images with few channels (a network's first layer:
// 3 channels, K = 27 or 147 taps). As im2col + SGEMM, out[M][pixels] =
// W[M][K] * im2col(image)[K][pixels], but B is never packed: the image is
// copied a few rows at a time, zero-padded and split by column phase
// (stride 2: even and odd columns), so that im2col row k of 16 neighbouring
// outputs of one output row is 16 contiguous floats of that copy, and the
// micro-kernel reads them in place (sgemmKernel6x16RowsAvx2). Packing B cost
// as much as the products here, where every input pixel appears in about
// K / stride^2 rows.
//
//   image   [channels][inH][inW] (one image)
//   weights packed (SgemmPackedLhs of W [M][K], K in one block)
//   bias    [M] or nullptr
//   output  [M][outH][outW]
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/conv_geometry.h"
#include "kernels/cpu.h"

namespace petrel {

class SgemmPackedLhs;
class ThreadPool;

// True for what it serves: AVX2, at most 4 channels, K in one SGEMM block,
// stride 1 or 2 both ways, no dilation, an output row of at least 16 pixels.
bool convDirectApplies(const Conv2dGeometry& g, Isa isa = bestIsa());

// Scratch for m output channels and up to `threads` threads.
size_t convDirectScratchBytes(const Conv2dGeometry& g, int64_t m, int threads);

// Only where convDirectApplies (it is compiled for AVX2). `scratch` (64-byte
// aligned) from convDirectScratchBytes; with a pool of more threads than it
// was sized for, fewer threads work. Does not allocate.
void convDirect(const Conv2dGeometry& g, const SgemmPackedLhs& weights, const float* image, const float* bias,
                const ActivationParams& activation, float* output, void* scratch, size_t scratchBytes,
                ThreadPool* pool);

// Output rows [first, last) of one image, row oh of channel i at out + (oh -
// first) * rowStride + i * channelStride, using the scratch of `thread` (<
// the threads the scratch was sized for): for a caller that consumes output
// rows as they are made (a Conv that absorbed a MaxPool).
void convDirectRows(const Conv2dGeometry& g, const SgemmPackedLhs& weights, const float* image, const float* bias,
                    const ActivationParams& activation, void* scratch, int64_t first, int64_t last, float* out,
                    int64_t rowStride, int64_t channelStride, int thread);

// The scratch of one thread (shared by the planner and the kernel): a
// window of the image, padded and split by column phase, for chunkRows
// output rows - per channel windowRows rows, each `phases` parts of `length`
// floats - and a tile of 16 columns of all M rows for the last strip of an
// output row. The window is made just before the rows that read it, so it
// is read from L2: a copy of the whole image (650 KB for 224 x 224 x 3) made
// up front was evicted to L3 before the lower rows read it.
struct ConvDirectLayout {
  int64_t phases = 1;        // the stride across
  int64_t length = 0;        // floats per part of a row
  int64_t chunkRows = 0;     // output rows per window
  int64_t windowRows = 0;    // padded rows per channel that chunkRows output rows read
  int64_t windowFloats = 0;  // the window, all channels
  int64_t tileFloats = 0;    // the tile
  int64_t rowFloats() const { return phases * length; }
  int64_t threadFloats() const { return windowFloats + tileFloats; }
};
ConvDirectLayout convDirectLayout(const Conv2dGeometry& g, int64_t m);

}  // namespace petrel
