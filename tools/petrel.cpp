// `petrel`: convert ONNX models, inspect, run and benchmark .petrel models.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "converter/onnx_import.h"
#include "format/model_file.h"
#include "format/npy.h"
#include "graph/encode_weights.h"
#include "graph/graph.h"
#include "kernels/fma_peak.h"
#include "petrel/petrel.h"

namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Peak resident set size of this process, in bytes: VmHWM of /proc/self/status,
// which starts afresh at exec. (getrusage's ru_maxrss does not: it keeps the
// peak of the process that forked this one, e.g. a Python benchmark script.)
size_t peakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;  // "VmHWM:  1234 kB"
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// Milliseconds with microsecond resolution, for JSON.
std::string formatMs(double ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", ms);
  return buffer;
}

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string jsonQuoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned char>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string formatBytes(double bytes) {
  char buffer[32];
  if (bytes >= 1024.0 * 1024.0)
    std::snprintf(buffer, sizeof(buffer), "%.1f MiB", bytes / (1024.0 * 1024.0));
  else if (bytes >= 1024.0)
    std::snprintf(buffer, sizeof(buffer), "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(buffer, sizeof(buffer), "%.0f B", bytes);
  return buffer;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + (shape[i] < 0 ? std::string("N") : std::to_string(shape[i]));
  return text + "]";
}

// Session options shared by run, info and bench.
struct SessionOptions {
  int threads = 1;
  std::string memory = "normal";
  std::string precision = "normal";
  int batch = 0;  // 0: the model's own (dynamic dims become 1)

  void addTo(CLI::App* app) {
    app->add_option("--threads", threads, "Worker threads, including the caller (default 1)")->check(CLI::Range(1, 256));
    app->add_option("--memory", memory, "Memory mode: normal (weights expanded once), high (fastest, may keep "
                                        "transformed copies), low (weights stay compressed)")
        ->check(CLI::IsMember({"normal", "high", "low"}));
    app->add_option("--precision", precision, "Precision mode: normal (fp32 accumulation, fast algorithms), high "
                                              "(fp32, no rounding-changing algorithms), low (speed over accuracy)")
        ->check(CLI::IsMember({"normal", "high", "low"}));
  }
  petrel::SessionConfig config() const {
    return {threads, petrel::parsePrecisionMode(precision), petrel::parseMemoryMode(memory)};
  }
};

// Input shapes for a batch size: the batch is the first dimension.
std::map<std::string, std::vector<int64_t>> batchShapes(const petrel::Model& model, int batch) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& input : model.inputs()) {
    std::vector<int64_t> shape = input.shape;
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0) shape[d] = (d == 0 && batch > 0) ? batch : 1;
    if (batch > 0 && !shape.empty() && input.shape[0] >= 0 && input.shape[0] != batch)
      throw petrel::Error("input '" + input.name + "' has a fixed batch of " + std::to_string(input.shape[0]) +
                          "; --batch " + std::to_string(batch) + " is not possible for this model");
    shapes[input.name] = shape;
  }
  return shapes;
}

petrel::Session makeSession(const std::shared_ptr<const petrel::Model>& model, const SessionOptions& options) {
  petrel::Session session(model, options.config());
  if (options.batch > 0) session.resize(batchShapes(*model, options.batch));
  return session;
}

std::map<std::string, petrel::Tensor> randomInputs(const petrel::Session& session) {
  std::map<std::string, petrel::Tensor> inputs;
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (const auto& info : session.inputs()) {
    petrel::Tensor tensor(info.shape);
    for (float& x : tensor.data) x = dist(rng);
    inputs[info.name] = std::move(tensor);
  }
  return inputs;
}

// ---------------------------------------------------------------------------

// `convert`'s weight storage options, as given on the command line.
struct WeightOptions {
  std::string storage = "fp32";
  int blockSize = 32;
  bool blockSizeGiven = false;
  bool asymmetric = false;

  // The encoding they ask for; an Error for a combination that means nothing.
  petrel::WeightEncoding encoding() const {
    petrel::WeightEncoding e;
    if (storage == "fp32") e.storage = petrel::WeightStorage::kFloat32;
    else if (storage == "fp16") e.storage = petrel::WeightStorage::kFloat16;
    else if (storage == "int8") e.storage = petrel::WeightStorage::kInt8;
    else if (storage == "int4") e.storage = petrel::WeightStorage::kInt4;
    else throw petrel::Error("--weights " + storage + " is not one of fp32, fp16, int8, int4");
    if (blockSizeGiven && e.storage != petrel::WeightStorage::kInt4)
      throw petrel::Error("--block-size applies to --weights int4 only, not " + storage);
    if (asymmetric && e.storage != petrel::WeightStorage::kInt8 && e.storage != petrel::WeightStorage::kInt4)
      throw petrel::Error("--asymmetric applies to --weights int8 or int4 only, not " + storage);
    e.blockSize = blockSize;
    e.symmetric = !asymmetric;
    return e;
  }
};

// "weights: 53 tensors encoded as int4 (block 32, symmetric): 97.4 MiB -> 13.1 MiB; encoding error: ..."
void printEncodingSummary(const petrel::EncodeWeightsReport& report, const petrel::WeightEncoding& encoding) {
  std::cout << "weights: " << report.tensors.size() << " tensors encoded as "
            << petrel::describeWeightEncoding(encoding) << ": "
            << formatBytes(static_cast<double>(report.bytesBefore)) << " -> "
            << formatBytes(static_cast<double>(report.bytesAfter));
  if (const petrel::EncodedTensorReport* worst = report.worst()) {
    char figures[96];
    std::snprintf(figures, sizeof(figures), "; encoding error: mean relative L2 %.3g, worst %.3g (",
                  report.meanRelativeL2(), worst->error.relativeL2);
    std::cout << figures << worst->name << ")";
  }
  if (report.keptShared + report.keptSmall > 0)
    std::cout << "; kept fp32: " << report.keptSmall << " small, " << report.keptShared << " shared";
  std::cout << "\n";
}

int commandConvert(const std::string& in, const std::string& out, const WeightOptions& weightOptions) {
  const auto start = Clock::now();
  const petrel::WeightEncoding encoding = weightOptions.encoding();  // bad options fail before any work
  petrel::ConvertOptions options;
  options.log = [](const std::string& line) { std::cerr << "  " << line << "\n"; };
  petrel::ConvertReport report;
  std::cerr << "converting " << in << "\n";
  petrel::Graph graph = petrel::importOnnx(in, options, &report);
  if (encoding.storage != petrel::WeightStorage::kFloat32) {
    std::cerr << "  encoding weights as " << petrel::describeWeightEncoding(encoding) << "\n";
    printEncodingSummary(petrel::encodeWeightMatrices(graph, encoding), encoding);
  }

  // Self-check before writing: plan a session, so every node is known to be
  // executable (planners reject what they cannot run). Nothing is written on failure.
  std::cerr << "  checking that every node can be planned\n";
  {
    auto model = petrel::Model::fromGraph(graph);
    petrel::Session session(model);
  }
  const std::string producer = "petrel convert from " + std::filesystem::path(in).filename().string();
  petrel::writeModelFile(graph, out, producer);
  std::cout << "wrote " << out << ": " << graph.nodes.size() << " nodes (from " << report.onnxNodes << " ONNX nodes), "
            << formatBytes(static_cast<double>(graph.constantBytes())) << " of weights, "
            << formatBytes(static_cast<double>(std::filesystem::file_size(out))) << " file, in "
            << static_cast<int>(millisecondsSince(start)) << " ms\n";
  return 0;
}

std::string summarise(const petrel::Tensor& t) {
  std::ostringstream text;
  if (t.data.empty()) return "empty";
  const auto [lo, hi] = std::minmax_element(t.data.begin(), t.data.end());
  const double mean = std::accumulate(t.data.begin(), t.data.end(), 0.0) / t.data.size();
  text << "min " << *lo << "  max " << *hi << "  mean " << mean;
  if (t.shape.size() == 2 && t.shape[0] == 1 && t.data.size() > 1) {
    text << "  argmax " << (hi - t.data.begin());
  }
  return text.str();
}

int commandRun(const std::string& modelPath, const std::vector<std::string>& inputArgs, const std::string& outputDir,
               const SessionOptions& options) {
  auto model = petrel::Model::load(modelPath);
  std::map<std::string, petrel::Tensor> inputs;
  const auto modelInputs = model->inputs();
  for (const std::string& arg : inputArgs) {
    const size_t eq = arg.find('=');
    std::string name, file;
    if (eq == std::string::npos) {
      if (modelInputs.size() != 1)
        throw petrel::Error("--input '" + arg + "' has no NAME=; the model has " + std::to_string(modelInputs.size()) +
                            " inputs, so name each one");
      name = modelInputs[0].name;
      file = arg;
    } else {
      name = arg.substr(0, eq);
      file = arg.substr(eq + 1);
    }
    inputs[name] = petrel::readNpy(file);
  }
  petrel::Session session(model, options.config());
  // A batch other than the planned one re-plans, as long as the model allows it.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& info : session.inputs()) {
    auto it = inputs.find(info.name);
    if (it != inputs.end() && it->second.shape != info.shape && it->second.shape.size() == info.shape.size())
      shapes[info.name] = it->second.shape;
  }
  if (!shapes.empty()) session.resize(shapes);
  const auto start = Clock::now();
  auto outputs = session.run(inputs);
  const double ms = millisecondsSince(start);
  if (!outputDir.empty()) std::filesystem::create_directories(outputDir);
  for (const auto& [name, tensor] : outputs) {
    std::cout << name << " " << shapeText(tensor.shape) << "  " << summarise(tensor) << "\n";
    if (!outputDir.empty()) {
      std::string fileName = name;
      std::replace(fileName.begin(), fileName.end(), '/', '_');
      petrel::writeNpy((std::filesystem::path(outputDir) / (fileName + ".npy")).string(), tensor);
    }
  }
  std::cout << "ran in " << ms << " ms\n";
  return 0;
}

int commandInfo(const std::string& modelPath, const SessionOptions& options) {
  auto model = petrel::Model::load(modelPath);
  const petrel::Graph& graph = model->graph();
  std::cout << "model " << modelPath << "\n";
  for (const auto& info : model->inputs()) std::cout << "  input  " << info.name << " " << shapeText(info.shape) << "\n";
  for (const auto& info : model->outputs()) std::cout << "  output " << info.name << " " << shapeText(info.shape) << "\n";
  std::map<std::string, int> opCounts;
  for (const auto& node : graph.nodes) ++opCounts[node.op];
  std::cout << "  nodes  " << graph.nodes.size() << ":";
  for (const auto& [op, count] : opCounts) std::cout << " " << op << "=" << count;
  std::cout << "\n";
  std::map<std::string, size_t> bytesByStorage;
  for (const auto& value : graph.values)
    if (value.constant) bytesByStorage[petrel::storageName(value.constant->storage)] += value.constant->byteSize;
  std::cout << "  weights " << formatBytes(static_cast<double>(model->weightBytes())) << ":";
  for (const auto& [storage, bytes] : bytesByStorage) std::cout << " " << storage << "=" << formatBytes(static_cast<double>(bytes));
  std::cout << "\n";

  petrel::Session session = makeSession(model, options);
  const auto stats = session.memoryStats();
  std::cout << "plan (threads " << options.threads << ", memory " << options.memory << ", precision "
            << options.precision << "): arena " << formatBytes(static_cast<double>(stats.arenaBytes)) << " (without reuse "
            << formatBytes(static_cast<double>(stats.unplannedBytes)) << "), scratch "
            << formatBytes(static_cast<double>(stats.scratchBytes)) << "\n";
  for (const auto& node : session.plan()) {
    std::cout << "  " << node.op << " '" << node.node << "' -> " << node.kernel;
    for (const auto& shape : node.outputShapes) std::cout << " " << shapeText(shape);
    std::cout << "\n";
  }
  return 0;
}

int commandBench(const std::string& modelPath, const SessionOptions& options, int warmup, int loops, bool json,
                 bool profile) {
  const auto loadStart = Clock::now();
  auto model = petrel::Model::load(modelPath);
  petrel::Session session = makeSession(model, options);
  const double loadMs = millisecondsSince(loadStart);
  auto inputs = randomInputs(session);
  // The machine's FMA peak, measured before and after the runs: the yardstick
  // of the GFLOP/s figure, and a lower figure after says the core got busier.
  const double peakBefore = petrel::measureFmaPeakGflops();
  for (int i = 0; i < warmup; ++i) session.run(inputs);
  session.setProfiling(profile);
  std::vector<double> times;
  const auto plan = session.plan();
  std::vector<double> nodeTotals(plan.size(), 0.0);
  for (int i = 0; i < loops; ++i) {
    const auto start = Clock::now();
    session.run(inputs);
    times.push_back(millisecondsSince(start));
    if (profile) {
      const auto perNode = session.lastRunNodeMilliseconds();
      for (size_t n = 0; n < perNode.size(); ++n) nodeTotals[n] += perNode[n];
    }
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double avg = std::accumulate(times.begin(), times.end(), 0.0) / times.size();
  const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                          : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  const double peakAfter = petrel::measureFmaPeakGflops();
  int64_t multiplyAdds = 0;
  for (const auto& node : plan) multiplyAdds += node.multiplyAdds;
  const double flops = 2.0 * static_cast<double>(multiplyAdds);
  const auto stats = session.memoryStats();
  const size_t peak = peakResidentBytes();
  if (json) {
    std::string runs;  // every timed run in order: shows noise, warm-up drift, bimodal runs
    for (size_t i = 0; i < times.size(); ++i) runs += (i ? ", " : "") + formatMs(times[i]);
    // With --profile, every node in plan order with its first output's name
    // (bench/compare --layers matches ONNX Runtime's profile by it).
    std::string nodes;
    if (profile) {
      const petrel::Graph& graph = model->graph();
      for (size_t n = 0; n < plan.size(); ++n) {
        const auto& outputs = graph.nodes[n].outputs;
        const std::string output = outputs.empty() ? "" : graph.values[outputs[0]].name;
        nodes += std::string(n ? ", " : "") + "{\"name\": " + jsonQuoted(plan[n].node) + ", \"op\": " +
                 jsonQuoted(plan[n].op) + ", \"kernel\": " + jsonQuoted(plan[n].kernel) +
                 ", \"output\": " + jsonQuoted(output) + ", \"ms\": " + formatMs(nodeTotals[n] / loops) +
                 ", \"flops\": " + std::to_string(2 * plan[n].multiplyAdds) + "}";
      }
      nodes = ", \"nodes\": [" + nodes + "]";
    }
    std::printf(
        "{\"model\": %s, \"threads\": %d, \"memory\": \"%s\", \"precision\": \"%s\", \"load_ms\": %.3f, "
        "\"avg_ms\": %.3f, \"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"peak_rss_bytes\": %zu, "
        "\"weight_bytes\": %zu, \"arena_bytes\": %zu, \"scratch_bytes\": %zu, \"prepared_weight_bytes\": %zu, "
        "\"released_weight_bytes\": %zu, \"held_weight_bytes\": %zu, \"stored_weight_bytes\": {\"fp32\": %zu, "
        "\"fp16\": %zu, \"int8\": %zu, \"int4\": %zu}, \"flops\": %.0f, \"fma_peak_gflops\": {\"before\": %.2f, "
        "\"after\": %.2f}, \"runs_ms\": [%s]%s}\n",
        jsonQuoted(modelPath).c_str(), options.threads, options.memory.c_str(), options.precision.c_str(), loadMs, avg,
        median, sorted.front(), sorted.back(), peak, model->weightBytes(), stats.arenaBytes, stats.scratchBytes,
        stats.preparedWeightBytes, stats.releasedWeightBytes, stats.weightBytes(), stats.storedWeightBytes.fp32,
        stats.storedWeightBytes.fp16, stats.storedWeightBytes.int8, stats.storedWeightBytes.int4, flops, peakBefore,
        peakAfter, runs.c_str(), nodes.c_str());
  } else {
    std::printf("model %s  threads %d  memory %s  precision %s\n", modelPath.c_str(), options.threads,
                options.memory.c_str(), options.precision.c_str());
    std::printf("load %.1f ms   latency avg %.3f  median %.3f  min %.3f  max %.3f ms  (%d loops)\n", loadMs, avg, median,
                sorted.front(), sorted.back(), loops);
    std::printf("peak RSS %s   weights %s   arena %s (without reuse %s)   scratch %s\n",
                formatBytes(static_cast<double>(peak)).c_str(), formatBytes(static_cast<double>(model->weightBytes())).c_str(),
                formatBytes(static_cast<double>(stats.arenaBytes)).c_str(),
                formatBytes(static_cast<double>(stats.unplannedBytes)).c_str(),
                formatBytes(static_cast<double>(stats.scratchBytes)).c_str());
    const petrel::WeightBytesByStorage& stored = stats.storedWeightBytes;
    std::printf("weights held %s: prepared (fp32) %s, read as stored fp32 %s fp16 %s int8 %s int4 %s\n",
                formatBytes(static_cast<double>(stats.weightBytes())).c_str(),
                formatBytes(static_cast<double>(stats.preparedWeightBytes)).c_str(),
                formatBytes(static_cast<double>(stored.fp32)).c_str(), formatBytes(static_cast<double>(stored.fp16)).c_str(),
                formatBytes(static_cast<double>(stored.int8)).c_str(), formatBytes(static_cast<double>(stored.int4)).c_str());
    std::printf("model-file pages released after packing %s\n",
                formatBytes(static_cast<double>(stats.releasedWeightBytes)).c_str());
    const double gflopsPerSecond = flops / 1e6 / median;
    std::printf("compute %.3f GFLOP per run (Conv, ConvTranspose, Gemm, MatMul, PetrelAttention; "
                "a multiply-add is 2), %.1f GFLOP/s at the median", flops / 1e9, gflopsPerSecond);
    const double peakPerThread = std::max(peakBefore, peakAfter);
    if (peakPerThread > 0.0)
      std::printf(": %.0f%% of the FMA peak of %d thread%s (%.1f GFLOP/s per thread; measured %.1f before, %.1f after)",
                  100.0 * gflopsPerSecond / (peakPerThread * options.threads), options.threads,
                  options.threads > 1 ? "s" : "", peakPerThread, peakBefore, peakAfter);
    std::printf("\n");
  }
  if (profile) {
    // Per node (slowest first) and per op type, averaged over the loops.
    std::FILE* out = json ? stderr : stdout;
    std::map<std::string, double> byOp, byKernel;
    std::vector<size_t> order(plan.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return nodeTotals[a] > nodeTotals[b]; });
    double total = 0.0;
    for (size_t n = 0; n < plan.size(); ++n) {
      byOp[plan[n].op] += nodeTotals[n] / loops;
      byKernel[plan[n].kernel] += nodeTotals[n] / loops;
      total += nodeTotals[n] / loops;
    }
    auto printShares = [&](const char* title, const std::map<std::string, double>& byName) {
      std::fprintf(out, "profile: per %s (ms per run, share)\n", title);
      std::vector<std::pair<std::string, double>> rows(byName.begin(), byName.end());
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      for (const auto& [name, ms] : rows)
        if (ms > 0.0) std::fprintf(out, "  %-32s %9.3f  %5.1f%%\n", name.c_str(), ms, 100.0 * ms / std::max(total, 1e-9));
    };
    printShares("op type", byOp);
    printShares("kernel", byKernel);
    std::fprintf(out, "profile: slowest nodes (ms per run)\n");
    for (size_t i = 0; i < std::min<size_t>(order.size(), 25); ++i) {
      const auto& node = plan[order[i]];
      std::fprintf(out, "  %-40s %-14s %-28s %9.3f\n", node.node.c_str(), node.op.c_str(), node.kernel.c_str(),
                   nodeTotals[order[i]] / loops);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"petrel: run neural networks on the CPU under a memory budget.\n"
               "Convert an ONNX model once, then run, inspect or benchmark the .petrel file."};
  app.require_subcommand(1);

  std::string convertIn, convertOut;
  auto* convert = app.add_subcommand("convert", "Convert an ONNX model (opset 11-17) to a .petrel file");
  convert->add_option("input", convertIn, "The .onnx model")->required()->check(CLI::ExistingFile);
  convert->add_option("output", convertOut, "The .petrel file to write")->required();
  WeightOptions weightOptions;
  convert->add_option("--weights", weightOptions.storage,
                      "Storage of Conv/ConvTranspose/Gemm/MatMul weights: fp32 (default), fp16, int8, int4")
      ->check(CLI::IsMember({"fp32", "fp16", "int8", "int4"}));
  auto* blockSizeOption =
      convert->add_option("--block-size", weightOptions.blockSize,
                          "int4 only: weights per scale along the reduction, 16/32/64/128 (default 32), 0 = per channel")
          ->check(CLI::IsMember({0, 16, 32, 64, 128}));
  convert->add_flag("--asymmetric", weightOptions.asymmetric,
                    "int8/int4 only: a zero point per scale (default symmetric: none)");

  std::string runModel, outputDir;
  std::vector<std::string> runInputs;
  SessionOptions runOptions;
  auto* run = app.add_subcommand("run", "Run a model on .npy inputs; print and optionally save the outputs");
  run->add_option("model", runModel, "The .petrel model")->required()->check(CLI::ExistingFile);
  run->add_option("--input,-i", runInputs, "NAME=FILE.npy (float32, C order); FILE.npy alone for a one-input model")
      ->required();
  run->add_option("--output-dir,-o", outputDir, "Write each output to DIR/NAME.npy");
  runOptions.addTo(run);

  std::string infoModel;
  SessionOptions infoOptions;
  auto* info = app.add_subcommand("info", "Show inputs, outputs, op counts, weights and the kernel chosen per node");
  info->add_option("model", infoModel, "The .petrel model")->required()->check(CLI::ExistingFile);
  infoOptions.addTo(info);
  info->add_option("--batch", infoOptions.batch, "Plan for this batch size")->check(CLI::Range(1, 1 << 20));

  std::string benchModel;
  SessionOptions benchOptions;
  int warmup = 3, loops = 20;
  bool json = false, profile = false;
  auto* bench = app.add_subcommand("bench", "Measure load time, latency and memory on random inputs");
  bench->add_option("model", benchModel, "The .petrel model")->required()->check(CLI::ExistingFile);
  benchOptions.addTo(bench);
  bench->add_option("--batch", benchOptions.batch, "Batch size (first input dimension)")->check(CLI::Range(1, 1 << 20));
  bench->add_option("--warmup", warmup, "Untimed runs first (default 3)")->check(CLI::Range(0, 100000));
  bench->add_option("--loops", loops, "Timed runs (default 20)")->check(CLI::Range(1, 1000000));
  bench->add_flag("--json", json,
                  "Print one JSON object: load_ms, avg_ms, median_ms, min_ms, max_ms, peak_rss_bytes, weight_bytes, "
                  "arena_bytes, scratch_bytes, prepared_weight_bytes, released_weight_bytes, held_weight_bytes, "
                  "stored_weight_bytes {fp32, fp16, int8, int4}, flops (per run: 2 x the multiply-adds of Conv, "
                  "ConvTranspose, Gemm, MatMul, PetrelAttention), fma_peak_gflops {before, after} (one thread's "
                  "fp32 FMA peak, measured before and after the runs; 0 without AVX2), runs_ms (every timed run, in "
                  "order); with --profile also nodes (name, op, kernel, output, ms per run, flops, in plan order)");
  bench->add_flag("--profile", profile, "Also print time per op type, per kernel and the slowest nodes");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other failure; --help explains the options.
    std::cerr << "petrel: error: " << e.what() << " (see petrel --help)\n";
    return 2;
  }
  try {
    if (*convert) {
      weightOptions.blockSizeGiven = blockSizeOption->count() > 0;
      return commandConvert(convertIn, convertOut, weightOptions);
    }
    if (*run) return commandRun(runModel, runInputs, outputDir, runOptions);
    if (*info) return commandInfo(infoModel, infoOptions);
    if (*bench) return commandBench(benchModel, benchOptions, warmup, loops, json, profile);
  } catch (const std::exception& e) {
    std::cerr << "petrel: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
