// Two session configurations of one model, alternating run by run in one
// process: the median latency of each, their ratio, and the time per kernel.
// On a shared machine whose speed drifts for seconds at a time, alternating
// single runs is what makes a small difference visible (separate processes
// or blocks of runs differ by 15-30% on their own).
//
//   session_ab MODEL.petrel A B [LOOPS]
//   A, B: comma-separated settings, e.g. threads=1 and threads=2,memory=low
//         (threads=N, memory=normal|high|low, precision=normal|high|low;
//         unset ones are threads=1, memory=high, precision=normal)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "petrel/error.h"
#include "petrel/petrel.h"

namespace {

petrel::SessionConfig parseConfig(const std::string& text) {
  petrel::SessionConfig config;
  config.memory = petrel::MemoryMode::kHigh;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const bool count = !value.empty() && value.size() <= 4 && value.find_first_not_of("0123456789") == std::string::npos;
    if (key == "threads" && count)
      config.threads = std::stoi(value);
    else if (key == "memory")
      config.memory = petrel::parseMemoryMode(value);
    else if (key == "precision")
      config.precision = petrel::parsePrecisionMode(value);
    else
      throw petrel::Error("bad setting '" + item + "' in '" + text +
                          "' (expected threads=N, memory=normal|high|low or precision=normal|high|low)");
  }
  return config;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s MODEL.petrel A B [LOOPS]\n  A, B: e.g. threads=1 and threads=2,memory=low\n",
                 argv[0]);
    return 2;
  }
  try {
    const int loops = argc == 5 ? std::atoi(argv[4]) : 200;
    if (loops < 1) throw petrel::Error(std::string("LOOPS must be a positive number, got '") + argv[4] + "'");
    const auto model = petrel::Model::load(argv[1]);
    const std::string names[2] = {argv[2], argv[3]};
    std::vector<petrel::Session> sessions;
    for (const std::string& name : names) sessions.emplace_back(model, parseConfig(name));

    // The same deterministic input for both.
    std::map<std::string, petrel::Tensor> inputs;
    for (const petrel::TensorInfo& info : sessions[0].inputs()) {
      petrel::Tensor tensor(info.shape);
      for (size_t i = 0; i < tensor.data.size(); ++i) tensor.data[i] = static_cast<float>(i * 7919 % 1000) / 1000.0f;
      inputs[info.name] = std::move(tensor);
    }
    const std::vector<petrel::NodePlan> plan = sessions[0].plan();
    std::vector<double> totals[2];
    std::vector<std::vector<double>> nodes[2];
    for (int s = 0; s < 2; ++s) {
      sessions[s].setProfiling(true);
      nodes[s].resize(plan.size());
      for (int warmup = 0; warmup < 3; ++warmup) sessions[s].run(inputs);
    }
    for (int i = 0; i < 2 * loops; ++i) {
      const int s = i % 2;
      const auto start = std::chrono::steady_clock::now();
      sessions[s].run(inputs);
      totals[s].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      const std::vector<double> ms = sessions[s].lastRunNodeMilliseconds();
      for (size_t n = 0; n < ms.size() && n < plan.size(); ++n) nodes[s][n].push_back(ms[n]);
    }

    const double a = median(totals[0]), b = median(totals[1]);
    std::printf("%s: A (%s) median %.3f ms, B (%s) median %.3f ms, B/A %.3f (%d runs each, alternating)\n", argv[1],
                names[0].c_str(), a, names[1].c_str(), b, b / a, loops);
    // Per kernel: the sum of its nodes' medians. The two plans match node for
    // node; where the kernels differ (e.g. another memory mode), B's is shown.
    const std::vector<petrel::NodePlan> planB = sessions[1].plan();
    std::map<std::string, double> byKernel[2];
    for (size_t n = 0; n < plan.size(); ++n) {
      const std::string kernel = n < planB.size() ? planB[n].kernel : plan[n].kernel;
      for (int s = 0; s < 2; ++s)
        if (!nodes[s][n].empty()) byKernel[s][kernel] += median(nodes[s][n]);
    }
    std::printf("per kernel (sum of node medians, ms per run):\n");
    for (const auto& [kernel, msA] : byKernel[0]) {
      const double msB = byKernel[1][kernel];
      std::printf("  %-36s A %8.3f  B %8.3f  B/A %s\n", kernel.c_str(), msA, msB,
                  msA > 0 ? std::to_string(msB / msA).substr(0, 5).c_str() : "-");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "session_ab: error: %s\n", e.what());
    return 1;
  }
}
