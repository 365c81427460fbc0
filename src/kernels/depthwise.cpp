#include "kernels/depthwise.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/int_math.h"
#include "runtime/thread_pool.h"

namespace petrel {

namespace {

// Output positions o in [begin, end) with 0 <= o*stride - pad and
// o*stride - pad + (kernel-1)*dilation < in, clamped to [0, out).
void interior(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad,
              int64_t* begin, int64_t* end) {
  const int64_t span = (kernel - 1) * dilation;  // reach of the filter past its first tap
  const int64_t b = ceilDiv(std::max<int64_t>(pad, 0), stride);
  const int64_t last = in - 1 - span + pad;  // o*stride <= last
  const int64_t e = last < 0 ? 0 : last / stride + 1;
  *begin = std::min(b, out);
  *end = std::clamp(e, *begin, out);
}

// One output pixel with bounds checks (before bias and activation).
float borderPixel(const Conv2dGeometry& g, const float* in, const float* filter, int64_t oh, int64_t ow) {
  float sum = 0.0f;
  for (int64_t kh = 0; kh < g.kernelH; ++kh) {
    const int64_t ih = oh * g.strideH - g.padTop + kh * g.dilationH;
    if (ih < 0 || ih >= g.inH) continue;
    for (int64_t kw = 0; kw < g.kernelW; ++kw) {
      const int64_t iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
      if (iw < 0 || iw >= g.inW) continue;
      sum += in[ih * g.inW + iw] * filter[kh * g.kernelW + kw];
    }
  }
  return sum;
}

// The AVX2 kernels are compiled for MobileNet's filters: square 3x3 or 5x5,
// stride 1 or 2 both ways, no dilation. Anything else is scalar.
bool simdPath(const Conv2dGeometry& g, Isa isa) {
  const bool filter = g.kernelH == g.kernelW && (g.kernelW == 3 || g.kernelW == 5) && g.dilationH == 1 &&
                      g.dilationW == 1;
  return isa == Isa::kAvx2 && filter && g.strideH == g.strideW && (g.strideW == 1 || g.strideW == 2);
}

// Planes whose input rows are at most this wide take the 8-channel path
// (depthwise.h): its interleaved plane then stays in L1. Measured with
// kernels_bench BM_Depthwise (1 thread, ms, rows -> 8-channel path): 7 wide
// 0.045 -> 0.025, 14 wide 0.058 -> 0.050, 28 wide 0.062 -> 0.056, but 56
// wide 0.140 -> 0.146, and stride 2 from 56 wide 0.048 -> 0.053.
constexpr int64_t kChannelBlockMaxInputWidth = 28;

// The per-plane path's padded buffer holds the input rows of a band of
// output rows that fit this size, so that the copy's stores and the taps'
// loads stay in L1 (32 KiB), beside the input and output rows streaming by.
constexpr int64_t kBandBytes = 16 * 1024;

}  // namespace

bool depthwiseUsesChannelBlocks(const Conv2dGeometry& g, Isa isa) {
  return simdPath(g, isa) && g.inW <= kChannelBlockMaxInputWidth;
}

DepthwiseChannelBlockLayout depthwiseChannelBlockLayout(const Conv2dGeometry& g) {
  DepthwiseChannelBlockLayout l;
  // Every tap of every output stays inside (simdPath's filters have no
  // dilation), also those of a row's last block of 8 outputs, computed whole.
  l.rows = std::max(g.padTop + g.inH, (g.outH - 1) * g.strideH + g.kernelH);
  l.columns = std::max(g.padLeft + g.inW, (roundUp(g.outW, 8) - 1) * g.strideW + g.kernelW);
  l.taps = 8 * l.rows * l.columns;
  l.inputPlaces = l.taps + 8 * g.kernelH * g.kernelW;
  l.floats = roundUp(l.inputPlaces + g.inPixels(), 16);  // int32 entries, one float each
  return l;
}

void prepareDepthwiseChannelBlocks(const Conv2dGeometry& g, const DepthwiseChannelBlockLayout& l, float* work) {
  std::memset(work, 0, l.taps * sizeof(float));
  auto* places = reinterpret_cast<int32_t*>(work + l.inputPlaces);
  for (int64_t ih = 0; ih < g.inH; ++ih)
    for (int64_t iw = 0; iw < g.inW; ++iw)
      places[ih * g.inW + iw] = static_cast<int32_t>((ih + g.padTop) * l.columns + iw + g.padLeft);
}

void depthwisePlaneScalar(const Conv2dGeometry& g, const float* in, const float* filter, float bias,
                          const ActivationParams& activation, float* out) {
  int64_t rowBegin, rowEnd, colBegin, colEnd;
  interior(g.inH, g.outH, g.kernelH, g.strideH, g.dilationH, g.padTop, &rowBegin, &rowEnd);
  interior(g.inW, g.outW, g.kernelW, g.strideW, g.dilationW, g.padLeft, &colBegin, &colEnd);
  for (int64_t oh = 0; oh < g.outH; ++oh) {
    float* outRow = out + oh * g.outW;
    const bool interiorRow = oh >= rowBegin && oh < rowEnd;
    for (int64_t ow = 0; ow < g.outW; ++ow) {
      float sum;
      if (interiorRow && ow >= colBegin && ow < colEnd) {
        // No bounds checks inside.
        const float* base = in + (oh * g.strideH - g.padTop) * g.inW + ow * g.strideW - g.padLeft;
        sum = 0.0f;
        for (int64_t kh = 0; kh < g.kernelH; ++kh) {
          const float* row = base + kh * g.dilationH * g.inW;
          for (int64_t kw = 0; kw < g.kernelW; ++kw) sum += row[kw * g.dilationW] * filter[kh * g.kernelW + kw];
        }
      } else {
        sum = borderPixel(g, in, filter, oh, ow);
      }
      outRow[ow] = applyActivation(activation, sum + bias);
    }
  }
}

DepthwisePaddedPlane depthwisePaddedPlane(const Conv2dGeometry& g) {
  DepthwisePaddedPlane p;
  // Columns read by the last vector of 8 outputs; rows are copied in whole
  // vectors (zeros past the input's end).
  if (g.strideW == 2) {
    // Output ow's taps read its part from index margin + ow - ceil(padLeft/2)
    // to margin + ow + kernelW/2 (see depthwise_avx2.cpp); the input's split
    // is written in chunks of 8.
    p.margin = (g.padLeft + 1) / 2;
    p.half = roundUp(p.margin + std::max(8 * ceilDiv(g.inW, 16), roundUp(g.outW, 8) + g.kernelW), 8);
    p.columns = 2 * p.half;
  } else {
    const int64_t lastColumn = roundUp(g.outW, 8) - 1 + g.kernelW - 1;  // stride 1, no dilation (simdPath)
    // Rows a whole number of cache lines apart: the first tap of each vector
    // of outputs is then an aligned load, never split across two lines.
    // kernels_bench, min of 5 alternating rounds: 32/112 stride 1 0.126 ->
    // 0.120 ms, 144/56 0.147 -> 0.140-0.142. (At stride 2 the same for both
    // halves changed nothing.)
    p.columns = roundUp(std::max(g.padLeft + roundUp(g.inW, 8), lastColumn + 1), 16);
  }
  // Bands of output rows whose input rows fit kBandBytes, a multiple of the
  // 4-row blocks of the kernel; at least one block.
  const int64_t fitRows = kBandBytes / static_cast<int64_t>(sizeof(float)) / p.columns;
  const int64_t fitBand = (fitRows - g.kernelH) / g.strideH + 1;
  p.bandRows = std::min(std::max<int64_t>(fitBand / 4 * 4, 4), g.outH);
  p.rows = (p.bandRows - 1) * g.strideH + g.kernelH;
  return p;
}

namespace {

// Floats of one thread's slot of scratch, 0 for the scalar path.
int64_t slotFloats(const Conv2dGeometry& g, Isa isa) {
  if (depthwiseUsesChannelBlocks(g, isa)) return depthwiseChannelBlockLayout(g).floats;
  return simdPath(g, isa) ? roundUp(depthwisePaddedPlane(g).floats(), 16) : 0;
}

}  // namespace

size_t depthwiseScratchBytes(const Conv2dGeometry& g, int threads, Isa isa) {
  return static_cast<size_t>(slotFloats(g, isa)) * sizeof(float) * std::max(threads, 1);
}

void depthwiseConv2d(const Conv2dGeometry& g, int64_t batch, const float* input, const float* weights,
                     const float* bias, const ActivationParams& activation, float* output, void* scratch,
                     size_t scratchBytes, ThreadPool* pool, Isa isa) {
  const int64_t planes = batch * g.channels;
  if (planes <= 0) return;
  const bool simd = simdPath(g, isa), blocks = depthwiseUsesChannelBlocks(g, isa);
  const int64_t floatsPerSlot = slotFloats(g, isa);
  const int64_t slots =
      floatsPerSlot > 0 ? static_cast<int64_t>(scratchBytes / sizeof(float)) / floatsPerSlot : INT64_MAX;
  if (slots < 1) {
    std::fprintf(stderr, "petrel: depthwise convolution given %zu scratch bytes, needs %zu\n", scratchBytes,
                 depthwiseScratchBytes(g, 1, isa));
    std::abort();
  }
  // A unit of work is a plane, or (8-channel path) 8 channels of an image.
  const int64_t groups = blocks ? ceilDiv(g.channels, 8) : g.channels;
  const int64_t units = batch * groups;
  // Several units per task keep the hand-out cheap; still enough tasks to
  // balance. Each extra thread needs enough work to pay for waking it.
  constexpr int64_t kMinMultiplyAddsPerThread = 64 * 1024;
  const int64_t multiplyAdds = planes * g.outPixels() * g.kernelH * g.kernelW;
  const int64_t threads = std::clamp<int64_t>(multiplyAdds / kMinMultiplyAddsPerThread, 1,
                                              std::min<int64_t>(pool ? pool->threads() : 1, slots));
  const int64_t perTask = std::max<int64_t>(1, units / (8 * threads));
  struct Job {
    const Conv2dGeometry* g;
    const float *input, *weights, *bias;
    const ActivationParams* activation;
    float* output;
    bool simd, blocks;
    DepthwiseChannelBlockLayout layout;
    float* scratch;
    int64_t slotFloats, perTask, units, groups;
    std::atomic<int64_t> next{0};
  } job;
  job.g = &g, job.input = input, job.weights = weights, job.bias = bias, job.activation = &activation;
  job.output = output, job.simd = simd, job.blocks = blocks, job.scratch = static_cast<float*>(scratch);
  job.slotFloats = floatsPerSlot, job.perTask = perTask, job.units = units, job.groups = groups;
  if (blocks) job.layout = depthwiseChannelBlockLayout(g);

  Job* shared = &job;
  auto worker = [shared](size_t slot, int) {
    Job& job = *shared;
    const Conv2dGeometry& g = *job.g;
    float* work = job.simd ? job.scratch + static_cast<int64_t>(slot) * job.slotFloats : nullptr;
    if (job.blocks)
      prepareDepthwiseChannelBlocks(g, job.layout, work);
    else if (work)
      std::memset(work, 0, job.slotFloats * sizeof(float));  // the padding stays zero
    const int64_t taps = g.kernelH * g.kernelW;
    for (;;) {
      const int64_t begin = job.next.fetch_add(job.perTask, std::memory_order_relaxed);
      if (begin >= job.units) break;
      for (int64_t u = begin; u < std::min(job.units, begin + job.perTask); ++u) {
        if (job.blocks) {
          const int64_t image = u / job.groups, c = u % job.groups * 8;
          const int64_t p = image * g.channels + c;  // the block's first plane
          depthwiseChannelBlockAvx2(g, job.layout, job.input + p * g.inPixels(),
                                    static_cast<int>(std::min<int64_t>(8, g.channels - c)),
                                    job.weights + c * taps, job.bias ? job.bias + c : nullptr, *job.activation,
                                    job.output + p * g.outPixels(), work);
          continue;
        }
        const int64_t c = u % g.channels;
        const float* in = job.input + u * g.inPixels();
        const float* filter = job.weights + c * taps;
        const float b = job.bias ? job.bias[c] : 0.0f;
        float* out = job.output + u * g.outPixels();
        if (work)
          depthwisePlaneAvx2(g, in, filter, b, *job.activation, out, work);
        else
          depthwisePlaneScalar(g, in, filter, b, *job.activation, out);
      }
    }
  };
  const int64_t workers = std::min(threads, ceilDiv(units, perTask));
  if (workers <= 1)
    worker(0, 0);
  else
    pool->parallelTasks(static_cast<size_t>(workers), worker);
}

}  // namespace petrel
