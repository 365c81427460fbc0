// Whole torchvision models (random weights) against PyTorch's own output:
// ONNX -> import -> .petrel file -> load -> run, at 1 and 2 threads, at
// precision high and normal, and in memory mode high (Winograd). Each prints its error so regressions show early.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "converter/onnx_import.h"
#include "format/model_file.h"
#include "format/npy.h"
#include "model/model_support.h"
#include "petrel/petrel.h"
#include "support/test_support.h"

namespace petrel {
namespace {

class WholeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(WholeModel, MatchesPyTorch) {
  const std::string name = GetParam();
  PETREL_REQUIRE_MODEL_FILE(onnxPath, name, ".onnx");
  PETREL_REQUIRE_MODEL_FILE(inputPath, name, ".input.npy");
  PETREL_REQUIRE_MODEL_FILE(outputPath, name, ".output.npy");

  const std::string petrelPath = (std::filesystem::temp_directory_path() / ("petrel_model_test_" + name + ".petrel")).string();
  writeModelFile(importOnnx(onnxPath), petrelPath, "model_test");
  auto model = Model::load(petrelPath);
  const Tensor input = readNpy(inputPath);
  const Tensor reference = readNpy(outputPath);

  // Memory high adds Winograd for the 3x3 convolutions (not at precision high).
  const std::pair<PrecisionMode, MemoryMode> modes[] = {{PrecisionMode::kHigh, MemoryMode::kNormal},
                                                        {PrecisionMode::kNormal, MemoryMode::kNormal},
                                                        {PrecisionMode::kNormal, MemoryMode::kHigh}};
  for (int threads : {1, 2}) {
    for (const auto& [precision, memory] : modes) {
      Session session(model, {threads, precision, memory});
      const auto start = std::chrono::steady_clock::now();
      auto outputs = session.run({{model->inputs().at(0).name, input}});
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      const Tensor& out = outputs.at(model->outputs().at(0).name);
      ASSERT_EQ(out.shape, reference.shape);
      const double error = test::relativeL2(out.data, reference.data);
      std::printf("%-20s threads %d precision %-6s memory %-6s rel L2 %.3e  (%.1f ms)\n", name.c_str(), threads,
                  toString(precision), toString(memory), error, ms);
      EXPECT_LE(error, 1e-4) << name << " threads " << threads << " precision " << toString(precision) << " memory "
                             << toString(memory);
    }
  }
  std::filesystem::remove(petrelPath);
}

INSTANTIATE_TEST_SUITE_P(TestSet, WholeModel,
                         ::testing::Values("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1",
                                           "vit_b_16"));

}  // namespace
}  // namespace petrel
