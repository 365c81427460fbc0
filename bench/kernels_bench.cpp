// SGEMM micro-benchmarks in GFLOP/s and as a fraction of the FMA peak measured
// by this same program (kernels/fma_peak.h; per thread for the threaded
// linear-layer shapes), on one thread unless said; ResNet's 3x3
// convolutions by im2col + SGEMM and by Winograd F(4x4, 3x3), in effective
// GFLOP/s (direct-convolution flops / time), on 1 and 2 threads; the stems
// and MobileNet's depthwise layers in GFLOP/s and as a fraction of the peak.
//
//   cmake -S . -B build -DPETREL_BUILD_BENCH=ON && cmake --build build --target kernels_bench
//   build/bench/kernels_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/cpu.h"
#include "kernels/conv_direct.h"
#include "kernels/conv_geometry.h"
#include "kernels/depthwise.h"
#include "kernels/fma_peak.h"
#include "kernels/sgemm.h"
#include "kernels/winograd.h"
#include "kernels/winograd_f2.h"
#include "runtime/thread_pool.h"

namespace petrel::bench {

// Peak single-core FMA throughput in flop/s, measured once (5 rounds of 0.08 s).
double fmaPeak() {
  static const double peak = measureFmaPeakGflops(20'000'000, 5) * 1e9;
  return peak;
}

// The peak measured again, one short round per iteration: shows whether the
// machine is quiet before and after the other figures.
void BM_FmaPeak(benchmark::State& state) {
  double best = 0.0;
  for (auto _ : state) best = std::max(best, measureFmaPeakGflops(1'000'000, 1));
  state.counters["GFLOPS"] = best;
}
BENCHMARK(BM_FmaPeak);

// GFLOPS, and the share of the measured peak of `threads` cores, for `flops`
// floating-point operations over all of the benchmark's iterations.
void setFlopCounters(benchmark::State& state, double flops, int threads) {
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_fraction"] = benchmark::Counter(flops / (fmaPeak() * threads), benchmark::Counter::kIsRate);
}

using AlignedScratch = std::unique_ptr<void, decltype(&std::free)>;
AlignedScratch alignedScratch(size_t bytes) {
  return AlignedScratch(allocateAligned(std::max<size_t>(bytes, 1)), &std::free);  // as the engine allocates
}

// An activation or output of `count` floats, all `value`, allocated as the
// engine's arena is: aligned, and from 2 MiB on in huge pages. With its
// output in a std::vector's 4 KiB pages, ResNet's 7x7 stem (64 output planes
// written a strip at a time) ran 7-9% slower (alternating calls).
AlignedFloats arenaFloats(size_t count, float value = 0.0f) {
  AlignedFloats floats(count);
  std::fill_n(floats.data(), count, value);
  return floats;
}

// C[M, N] = A[M, K] * B[K, N] with A packed once (weights, as in a convolution)
// and B a plain run-time matrix (activations), as Petrel's pointwise Conv does.
void BM_SgemmPackedWeights(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  std::vector<float> a(m * k, 0.5f);
  AlignedFloats b = arenaFloats(k * n, 0.25f), c = arenaFloats(m * n);
  const SgemmPackedLhs packed(SgemmMatrix{a.data(), k, false}, m, k);
  const size_t scratchBytes = sgemmScratchBytes(m, n, k, true, false, threads);
  AlignedScratch scratch = alignedScratch(scratchBytes);
  ThreadPool pool(threads);
  SgemmProblem problem;
  problem.lhs.packed = &packed;
  problem.rhs.matrix = SgemmMatrix{b.data(), n, false};
  problem.c = c.data();
  for (auto _ : state) {
    sgemm(m, n, k, problem, n, SgemmEpilogue{}, scratch.get(), scratchBytes, &pool);
    benchmark::DoNotOptimize(c.data());
  }
  setFlopCounters(state, 2.0 * m * n * k * state.iterations(), threads);
}
// Large squares, then resnet50's 1x1 convolutions as GEMMs (M = Cout, N = H*W, K = Cin),
// also on 2 threads. Args: M, N, K, threads.
BENCHMARK(BM_SgemmPackedWeights)
    ->Args({256, 256, 256, 1})
    ->Args({512, 512, 512, 1})
    ->Args({1024, 1024, 1024, 1})
    ->Args({64, 3136, 256, 1})
    ->Args({256, 3136, 64, 1})
    ->Args({128, 784, 512, 1})
    ->Args({512, 784, 128, 1})
    ->Args({256, 196, 1024, 1})
    ->Args({1024, 196, 256, 1})
    ->Args({512, 48, 2048, 1})
    ->Args({512, 49, 2048, 1})
    ->Args({512, 64, 2048, 1})
    ->Args({2048, 49, 512, 1})
    ->Args({64, 3136, 256, 2})
    ->Args({256, 3136, 64, 2})
    ->Args({128, 784, 512, 2})
    ->Args({512, 784, 128, 2})
    ->Args({256, 196, 1024, 2})
    ->Args({1024, 196, 256, 2})
    ->Args({2048, 49, 512, 2})
    // MobileNetV2's expand and project 1x1 convolutions: small K or small M.
    ->Args({96, 12544, 16, 1})
    ->Args({144, 3136, 24, 1})
    ->Args({24, 3136, 144, 1})
    ->Args({16, 12544, 32, 1})
    ->Args({192, 784, 32, 1})
    ->Args({32, 784, 192, 1})
    ->Args({384, 196, 64, 1})
    ->Args({64, 196, 384, 1})
    // MobileNetV3-Small's squeeze-excitation 1x1 convolutions: one pixel.
    ->Args({144, 1, 576, 1})
    ->Args({576, 1, 144, 1})
    // SqueezeNet 1.1's squeeze and expand 1x1 convolutions at 55x55 and 27x27, and its classifier at 13x13.
    ->Args({16, 3025, 64, 1})
    ->Args({16, 3025, 128, 1})
    ->Args({64, 3025, 16, 1})
    ->Args({32, 729, 256, 1})
    ->Args({1000, 169, 512, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Y[T, N] = X[T, K] * W[K, N] with W packed once and X a run-time matrix, as
// Petrel's linear layers (MatMul, Gemm) do: ViT-B/16's qkv, MLP up and down
// projections (T = 197 tokens). Args: T, N, K, threads.
void BM_SgemmLinear(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  std::vector<float> w(k * n, 0.25f);
  AlignedFloats x = arenaFloats(m * k, 0.5f), y = arenaFloats(m * n);
  const SgemmPackedRhs packed(SgemmMatrix{w.data(), n, false}, k, n);
  const size_t scratchBytes = sgemmScratchBytes(m, n, k, false, true, threads);
  AlignedScratch scratch = alignedScratch(scratchBytes);
  ThreadPool pool(threads);
  SgemmProblem problem;
  problem.lhs.matrix = SgemmMatrix{x.data(), k, false};
  problem.rhs.packed = &packed;
  problem.c = y.data();
  for (auto _ : state) {
    sgemm(m, n, k, problem, n, SgemmEpilogue{}, scratch.get(), scratchBytes, &pool);
    benchmark::DoNotOptimize(y.data());
  }
  setFlopCounters(state, 2.0 * m * n * k * state.iterations(), threads);
}
BENCHMARK(BM_SgemmLinear)
    ->Args({1, 1024, 576, 1})
    ->Args({1, 1000, 1024, 1})
    ->Args({197, 2304, 768, 1})
    ->Args({197, 3072, 768, 1})
    ->Args({197, 768, 3072, 1})
    ->Args({197, 3072, 768, 2})
    ->Args({197, 768, 3072, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ResNet's 3x3 stride-1 pad-1 convolutions (sameSize3x3), C -> C channels on
// a side x side image. Args: channels, side, threads, then (Winograd) tiles
// per block and split, then batch.

// GFLOPS of a C -> C convolution of geometry g over `batch` images.
void setConvCounters(benchmark::State& state, const Conv2dGeometry& g, int64_t batch) {
  const double flops = 2.0 * g.channels * g.depth() * g.outPixels() * batch * state.iterations();
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

// Packed weights times the im2col matrix of `image` (packed tile by tile), into `out`.
SgemmProblem im2colProblem(const SgemmPackedLhs& weights, const Conv2dGeometry& g, const float* image, float* out) {
  SgemmProblem problem;
  problem.lhs.packed = &weights;
  problem.rhs.im2col = &g;
  problem.rhs.image = image;
  problem.c = out;
  return problem;
}

// conv.im2col.sgemm on `batch` images of geometry g, g.channels -> g.channels:
// packed weights times the im2col matrix packed tile by tile, one product per
// image. The caller sets the counters.
void runIm2colConv(benchmark::State& state, const Conv2dGeometry& g, int threads, int64_t batch) {
  const int64_t m = g.channels, n = g.outPixels(), k = g.depth();
  std::vector<float> w(m * k, 0.01f);
  AlignedFloats image = arenaFloats(batch * g.channels * g.inPixels(), 0.5f), out = arenaFloats(batch * m * n);
  const SgemmPackedLhs packed(SgemmMatrix{w.data(), k, false}, m, k);
  const size_t scratchBytes = sgemmScratchBytes(m, n, k, true, false, threads);
  AlignedScratch scratch = alignedScratch(scratchBytes);
  ThreadPool pool(threads);
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      const SgemmProblem problem = im2colProblem(packed, g, image.data() + i * g.channels * g.inPixels(),
                                                 out.data() + i * m * n);
      sgemm(m, n, k, problem, n, SgemmEpilogue{}, scratch.get(), scratchBytes, &pool);
    }
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_Conv3x3Im2col(benchmark::State& state) {
  const Conv2dGeometry g = sameSize3x3(state.range(0), state.range(1));
  const int64_t batch = state.range(3);
  runIm2colConv(state, g, static_cast<int>(state.range(2)), batch);
  setConvCounters(state, g, batch);
}

// ResNet's downsampling 3x3 convolutions (stride 2, pad 1), C -> C channels
// from a 2 * side image to a side x side one, through conv.im2col.sgemm:
// N = side^2 (196, 49) is narrow and K = 9 C deep. Args: channels, output
// side, threads.
void BM_Conv3x3Stride2Im2col(benchmark::State& state) {
  Conv2dGeometry g = sameSize3x3(state.range(0), state.range(1));
  g.inH = g.inW = 2 * g.outH;
  g.strideH = g.strideW = 2;
  const int threads = static_cast<int>(state.range(2));
  runIm2colConv(state, g, threads, 1);
  setFlopCounters(state, 2.0 * g.channels * g.depth() * g.outPixels() * state.iterations(), threads);
}
BENCHMARK(BM_Conv3x3Stride2Im2col)
    ->ArgsProduct({{128}, {28}, {1, 2}})
    ->ArgsProduct({{256}, {14}, {1, 2}})
    ->ArgsProduct({{512}, {7}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The first convolution of an image network: 3 input channels, so K (27 or
// 147) is short and every pixel appears in many im2col rows. Through im2col
// + SGEMM (B packed from the image at stride 2), or through the direct kernel
// (kernels/conv_direct.h: B read in place from a padded, phase-split copy).
// Args: output channels, kernel, padding, threads, direct (224 x 224 input,
// stride 2): MobileNetV3-Small (16, 3x3, pad 1), MobileNetV2 (32, 3x3, pad 1),
// SqueezeNet 1.1 (64, 3x3, pad 0), ResNet (64, 7x7, pad 3).
void BM_ConvStem(benchmark::State& state) {
  const int64_t m = state.range(0);
  Conv2dGeometry g;
  g.channels = 3;
  g.inH = g.inW = 224;
  g.kernelH = g.kernelW = state.range(1);
  g.strideH = g.strideW = 2;
  g.padTop = g.padLeft = state.range(2);
  g.outH = g.outW = (224 + 2 * g.padTop - g.kernelH) / 2 + 1;
  const int threads = static_cast<int>(state.range(3));
  const bool direct = state.range(4) != 0;
  const int64_t n = g.outPixels(), k = g.depth();
  std::vector<float> w(m * k, 0.01f);
  AlignedFloats image = arenaFloats(g.channels * g.inPixels(), 0.5f), out = arenaFloats(m * n);
  const SgemmPackedLhs packed(SgemmMatrix{w.data(), k, false}, m, k);
  const size_t scratchBytes =
      direct ? convDirectScratchBytes(g, m, threads) : sgemmScratchBytes(m, n, k, true, false, threads);
  AlignedScratch scratch = alignedScratch(scratchBytes);
  ThreadPool pool(threads);
  const SgemmProblem problem = im2colProblem(packed, g, image.data(), out.data());
  for (auto _ : state) {
    if (direct)
      convDirect(g, packed, image.data(), nullptr, ActivationParams{}, out.data(), scratch.get(), scratchBytes, &pool);
    else
      sgemm(m, n, k, problem, n, SgemmEpilogue{}, scratch.get(), scratchBytes, &pool);
    benchmark::DoNotOptimize(out.data());
  }
  setFlopCounters(state, 2.0 * m * n * k * state.iterations(), threads);
}
BENCHMARK(BM_ConvStem)
    ->ArgsProduct({{16}, {3}, {1}, {1}, {0, 1}})
    ->ArgsProduct({{32}, {3}, {1}, {1, 2}, {0, 1}})
    ->ArgsProduct({{64}, {3}, {0}, {1}, {0, 1}})
    ->ArgsProduct({{64}, {7}, {3}, {1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// conv.depthwise: MobileNet's depthwise layers (channels, input side, kernel,
// stride; padding kernel / 2), with ReLU6 fused as in MobileNetV2. Args:
// channels, side, kernel, stride, threads. GFLOPS counts 2 flops per tap.
// The 2-thread rows of the 14x14 and 7x7 layers scale here (576/14: 0.045-
// 0.049 -> 0.025-0.032 ms) but not inside mobilenet_v2, where a profile puts
// the extra time on the output stores: storing to lines that the other core
// also holds is slow on this machine. Giving every tensor its own memory (no
// arena reuse) did not make them scale; the lines that the next 1x1
// convolution read on both cores in the run before may be the cause (not
// measured).
void BM_Depthwise(benchmark::State& state) {
  Conv2dGeometry g;
  g.channels = state.range(0);
  g.inH = g.inW = state.range(1);
  g.kernelH = g.kernelW = state.range(2);
  g.strideH = g.strideW = state.range(3);
  g.padTop = g.padLeft = g.kernelH / 2;
  g.outH = g.outW = (g.inH + 2 * g.padTop - g.kernelH) / g.strideH + 1;
  const int threads = static_cast<int>(state.range(4));
  std::vector<float> w(g.channels * g.kernelH * g.kernelW, 0.01f), bias(g.channels, 0.1f);
  AlignedFloats image = arenaFloats(g.channels * g.inPixels(), 0.5f), out = arenaFloats(g.channels * g.outPixels());
  ActivationParams relu6;
  relu6.kind = Activation::kClip;
  relu6.alpha = 0.0f;
  relu6.beta = 6.0f;
  const size_t scratchBytes = depthwiseScratchBytes(g, threads);
  AlignedScratch scratch = alignedScratch(scratchBytes);
  ThreadPool pool(threads);
  for (auto _ : state) {
    depthwiseConv2d(g, 1, image.data(), w.data(), bias.data(), relu6, out.data(), scratch.get(), scratchBytes, &pool);
    benchmark::DoNotOptimize(out.data());
  }
  setFlopCounters(state, 2.0 * g.channels * g.outPixels() * g.kernelH * g.kernelW * state.iterations(), threads);
}
BENCHMARK(BM_Depthwise)
    // MobileNetV2
    ->Args({32, 112, 3, 1, 1})
    ->Args({96, 112, 3, 2, 1})
    ->Args({144, 56, 3, 1, 1})
    ->Args({192, 28, 3, 1, 1})
    ->Args({576, 14, 3, 1, 1})
    ->Args({576, 14, 3, 1, 2})
    ->Args({576, 14, 3, 2, 1})
    ->Args({960, 7, 3, 1, 1})
    ->Args({960, 7, 3, 1, 2})
    // MobileNetV3-Small
    ->Args({16, 112, 3, 2, 1})
    ->Args({72, 56, 3, 2, 1})
    ->Args({88, 28, 3, 1, 1})
    ->Args({96, 28, 5, 2, 1})
    ->Args({240, 14, 5, 1, 1})
    ->Args({288, 14, 5, 2, 1})
    ->Args({576, 7, 5, 1, 1})
    ->Args({576, 7, 5, 1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Winograd F(4x4, 3x3). Extra args (tuning): tiles per block (0: the
// planner's), split (0: the planner's, 1: blocks per thread, 2: shared blocks).
void BM_Conv3x3Winograd(benchmark::State& state) {
  const Conv2dGeometry g = sameSize3x3(state.range(0), state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const int64_t tilesPerBlock = state.range(3);
  const int split = static_cast<int>(state.range(4));
  const int64_t batch = state.range(5);
  std::vector<float> w(g.channels * g.depth(), 0.01f);
  AlignedFloats image = arenaFloats(batch * g.channels * g.inPixels(), 0.5f),
                out = arenaFloats(batch * g.channels * g.outPixels());
  const WinogradShape s = winogradShape(g, batch, g.channels);
  const WinogradWeights weights(w.data(), g.channels, g.channels);
  const WinogradBlocking blocking = planWinograd(s, threads, tilesPerBlock, split);
  AlignedScratch scratch = alignedScratch(blocking.scratchBytes());
  ThreadPool pool(threads);
  for (auto _ : state) {
    winogradConv2d(s, blocking, image.data(), weights, WinogradEpilogue{}, out.data(), scratch.get(),
                   blocking.scratchBytes(), &pool);
    benchmark::DoNotOptimize(out.data());
  }
  setConvCounters(state, g, batch);
  state.counters["whole_blocks"] = static_cast<double>(blocking.whole.count);
  state.counters["whole_tiles"] = static_cast<double>(blocking.whole.tiles);
  state.counters["shared_blocks"] = static_cast<double>(blocking.shared.count);
  state.counters["shared_tiles"] = static_cast<double>(blocking.shared.tiles);
}

// The machine may be shared: with --benchmark_repetitions=N, "min" is the
// least disturbed run (its time; its GFLOPS counter is the minimum too, i.e.
// the slowest run's rate).
double minimum(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void resnet3x3Layers(benchmark::internal::Benchmark* b, bool tuning, bool winograd) {
  b->ComputeStatistics("min", minimum);
  const int64_t layers[][2] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}, {16, 56}, {32, 56}};
  for (int threads : {1, 2})
    for (const auto& layer : layers) {
      if (tuning && layer[0] < 64) continue;
      if (!tuning) {
        // 512x7x7 has only 4 tiles per image: also batches 2 and 4.
        // Few channels (where the transforms weigh more): 16 and 32 on 56x56.
        for (int64_t batch : {1, 2, 4}) {
          if (batch > 1 && layer[0] != 512) continue;
          if (winograd)
            b->Args({layer[0], layer[1], threads, 0, 0, batch});
          else
            b->Args({layer[0], layer[1], threads, batch});
        }
        continue;
      }
      for (int64_t tilesPerBlock : {16, 32, 48, 64, 96, 128, 192, 256})
        for (int split : {1, 2}) b->Args({layer[0], layer[1], threads, tilesPerBlock, split, 1});
    }
}

// Winograd F(2x2, 3x3) on small planes (ResNet's 7x7 stage); compare with
// BM_Conv3x3Im2col on the same layer. Args: channels, side, threads.
void BM_Conv3x3WinogradF2(benchmark::State& state) {
  const Conv2dGeometry g = sameSize3x3(state.range(0), state.range(1));
  const int threads = static_cast<int>(state.range(2));
  std::vector<float> w(g.channels * g.depth(), 0.01f);
  AlignedFloats image = arenaFloats(g.channels * g.inPixels(), 0.5f), out = arenaFloats(g.channels * g.outPixels());
  const WinogradF2Conv conv(g, 1, g.channels, w.data());
  AlignedScratch scratch = alignedScratch(conv.scratchBytes(threads));
  ThreadPool pool(threads);
  for (auto _ : state) {
    conv.run(image.data(), WinogradEpilogue{}, out.data(), scratch.get(), conv.scratchBytes(threads), &pool);
    benchmark::DoNotOptimize(out.data());
  }
  setConvCounters(state, g, 1);
}
BENCHMARK(BM_Conv3x3WinogradF2)
    ->ArgsProduct({{128, 256, 512}, {7}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Conv3x3Im2col)
    ->Apply([](benchmark::internal::Benchmark* b) { resnet3x3Layers(b, false, false); })
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv3x3Winograd)
    ->Apply([](benchmark::internal::Benchmark* b) { resnet3x3Layers(b, false, true); })
    ->UseRealTime()->Unit(benchmark::kMillisecond);
// The block-size / thread-split sweep behind planWinograd's choices:
// kernels_bench --benchmark_filter=Conv3x3WinogradTuning
void BM_Conv3x3WinogradTuning(benchmark::State& state) { BM_Conv3x3Winograd(state); }
BENCHMARK(BM_Conv3x3WinogradTuning)
    ->Apply([](benchmark::internal::Benchmark* b) { resnet3x3Layers(b, true, true); })
    ->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace petrel::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::printf("isa %s, measured single-core FMA peak %.1f GFLOP/s\n", petrel::isaName(petrel::bestIsa()),
              petrel::bench::fmaPeak() / 1e9);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
