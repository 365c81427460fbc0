// Converts the torchvision models exported by scripts/export_models.py, when
// present (PETREL_MODEL_DIR, else /tmp/petrel-models), and prints what the
// converter did. Skipped when a model file is absent, unless
// PETREL_REQUIRE_MODELS is set (as in the model tests).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "converter/onnx_import.h"
#include "graph_inspect.h"

namespace petrel::test {
namespace {

std::string modelsDir() {
  const char* dir = std::getenv("PETREL_MODEL_DIR");
  return dir ? dir : "/tmp/petrel-models";
}

class RealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModel, Converts) {
  const std::string path = modelsDir() + "/" + GetParam() + ".onnx";
  if (!std::filesystem::exists(path)) {
    if (std::getenv("PETREL_REQUIRE_MODELS")) FAIL() << "missing " << path << " (run scripts/export_models.py)";
    GTEST_SKIP() << path << " not found (run scripts/export_models.py)";
  }
  ConvertReport report;
  ConvertOptions options;
  options.log = [](const std::string& line) { std::cout << "  [convert] " << line << "\n"; };
  Graph g = importOnnx(path, options, &report);
  g.validate();

  std::cout << GetParam() << ": " << report.onnxNodes << " ONNX nodes -> " << report.petrelNodes
            << " Petrel nodes; folded " << report.foldedConstants << " constants, " << report.foldedBatchNorms
            << " BatchNorms; fused " << report.fusedActivations << " activations; removed " << report.removedNoOps
            << " no-ops\n  ops:";
  for (const auto& [op, n] : report.opCounts) std::cout << " " << op << "=" << n;
  std::cout << "\n";

  EXPECT_EQ(report.petrelNodes, static_cast<int>(g.nodes.size()));
  for (const char* gone : {"Identity", "Dropout", "BatchNormalization", "Constant"})
    EXPECT_EQ(countOp(g, gone), 0) << gone;
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].shape, (Shape{-1, 3, 224, 224}));  // the batch stays dynamic
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.values[g.outputs[0]].name, "output");

  // Every activation of these CNNs follows a Conv, Gemm or residual Add.
  const std::string name = GetParam();
  if (name.rfind("resnet", 0) == 0 || name.rfind("squeezenet", 0) == 0) {
    EXPECT_EQ(countOp(g, "Relu"), 0);
    EXPECT_EQ(report.fusedMaxPools, 1);  // the first layer pools its own rows
  }
  if (name == "mobilenet_v2") {
    EXPECT_EQ(countOp(g, "Clip"), 0);
  }
  if (name == "mobilenet_v3_small") {
    EXPECT_EQ(countOp(g, "HardSwish"), 0);
    EXPECT_EQ(countOp(g, "HardSigmoid"), 0);
  }
  if (name == "vit_b_16") {
    EXPECT_EQ(countOp(g, "Erf"), 0);  // every Gelu pattern was found
    // The head reads only the class token: the last layer's MLP runs on that token alone.
    EXPECT_GE(report.hoistedGathers, 6);
    // Each layer's attention is one node: no head Slices, Softmax or score tensor left.
    EXPECT_EQ(report.fusedAttentions, 12);
    EXPECT_EQ(countOp(g, "PetrelAttention"), 12);
    for (const char* gone : {"Softmax", "Slice"}) EXPECT_EQ(countOp(g, gone), 0) << gone;
    // ... and the last one, with its out-projection, runs for the class token only.
    EXPECT_EQ(report.gatheredAttentionQueries, 1);
    for (const Node& node : g.nodes) {
      if (node.name.rfind("/encoder/layers/encoder_layer_11/mlp/", 0) == 0 && node.op == "MatMul") {
        EXPECT_EQ(g.values[node.outputs[0]].shape.size(), 2u) << node.name << " works on every token";
      }
      if (node.op == "PetrelAttention" && node.name.rfind("/encoder/layers/encoder_layer_11/", 0) == 0) {
        EXPECT_EQ(g.values[node.outputs[0]].shape[0], 1) << node.name << " attends for every token";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Torchvision, RealModel,
                         ::testing::Values("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
                                           "squeezenet1_1", "vit_b_16"));

}  // namespace
}  // namespace petrel::test
