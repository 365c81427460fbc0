// The `petrel` program on bad input: each case must print one clear error
// line and exit non-zero - never crash, never write a partial file.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "format/npy.h"
#include "model/model_support.h"

namespace petrel {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;
  std::string output;   // stdout and stderr
};

Outcome runPetrel(const std::string& arguments) {
  const std::string command = std::string(PETREL_BINARY) + " " + arguments + " 2>&1";
  Outcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return outcome;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) outcome.output.append(buffer, n);
  const int status = pclose(pipe);
  outcome.exited = WIFEXITED(status);
  outcome.code = outcome.exited ? WEXITSTATUS(status) : -1;
  return outcome;
}

fs::path scratchDir() {
  fs::path dir = fs::temp_directory_path() / "petrel_cli_test";
  fs::create_directories(dir);
  return dir;
}

void expectCleanFailure(const Outcome& o, const std::string& mustMention) {
  EXPECT_TRUE(o.exited) << "crashed: " << o.output;
  EXPECT_NE(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("error"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find(mustMention), std::string::npos) << "expected '" << mustMention << "' in: " << o.output;
}

void writeOnnx(const onnx::ModelProto& model, const fs::path& path) {
  std::ofstream out(path, std::ios::binary);
  ASSERT_TRUE(model.SerializeToOstream(&out));
}

onnx::ModelProto modelWithOp(const std::string& opType) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("g");
  for (const char* name : {"x", "y"}) {
    onnx::ValueInfoProto* v = std::string(name) == "x" ? graph->add_input() : graph->add_output();
    v->set_name(name);
    auto* type = v->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    type->mutable_shape()->add_dim()->set_dim_value(4);
  }
  onnx::NodeProto* node = graph->add_node();
  node->set_name("the_node");
  node->set_op_type(opType);
  node->add_input("x");
  node->add_output("y");
  return model;
}

TEST(Cli, HelpExplainsEverySubcommand) {
  const Outcome o = runPetrel("--help");
  EXPECT_EQ(o.code, 0);
  for (const char* sub : {"convert", "run", "info", "bench"}) EXPECT_NE(o.output.find(sub), std::string::npos) << sub;
}

TEST(Cli, MissingModelFile) { expectCleanFailure(runPetrel("info /nonexistent/model.petrel"), "model.petrel"); }

TEST(Cli, UnknownOpIsNamedAndNothingIsWritten) {
  const fs::path dir = scratchDir();
  writeOnnx(modelWithOp("FrobnicateV2"), dir / "unknown.onnx");
  fs::remove(dir / "unknown.petrel");
  const Outcome o = runPetrel("convert " + (dir / "unknown.onnx").string() + " " + (dir / "unknown.petrel").string());
  expectCleanFailure(o, "FrobnicateV2");
  EXPECT_NE(o.output.find("the_node"), std::string::npos) << o.output;
  EXPECT_FALSE(fs::exists(dir / "unknown.petrel"));
}

TEST(Cli, GarbageOnnxIsRejected) {
  const fs::path dir = scratchDir();
  std::ofstream(dir / "garbage.onnx") << "this is not a protobuf at all \x01\x02\x03";
  expectCleanFailure(runPetrel("convert " + (dir / "garbage.onnx").string() + " " + (dir / "g.petrel").string()),
                     "garbage.onnx");
}

TEST(Cli, ConvertsAndRunsASmallModel) {
  const fs::path dir = scratchDir();
  writeOnnx(modelWithOp("Relu"), dir / "relu.onnx");
  Outcome o = runPetrel("convert " + (dir / "relu.onnx").string() + " " + (dir / "relu.petrel").string());
  ASSERT_EQ(o.code, 0) << o.output;
  writeNpy((dir / "x.npy").string(), Tensor({4}, {-1.0f, 2.0f, -3.0f, 4.0f}));
  o = runPetrel("run " + (dir / "relu.petrel").string() + " --input x=" + (dir / "x.npy").string() + " --output-dir " +
                (dir / "out").string());
  ASSERT_EQ(o.code, 0) << o.output;
  const Tensor y = readNpy((dir / "out" / "y.npy").string());
  EXPECT_EQ(y.data, (std::vector<float>{0.0f, 2.0f, 0.0f, 4.0f}));

  // Wrong input shape and wrong input name.
  writeNpy((dir / "bad.npy").string(), Tensor({5}));
  expectCleanFailure(runPetrel("run " + (dir / "relu.petrel").string() + " --input x=" + (dir / "bad.npy").string()),
                     "'x'");
  expectCleanFailure(runPetrel("run " + (dir / "relu.petrel").string() + " --input nope=" + (dir / "x.npy").string()),
                     "nope");
}

// Truncated and bit-flipped copies of a real model: an error or a result, never a crash.
TEST(Cli, DamagedModelFilesNeverCrash) {
  PETREL_REQUIRE_MODEL_FILE(onnxPath, "squeezenet1_1", ".onnx");
  const fs::path dir = scratchDir();
  const fs::path good = dir / "squeezenet.petrel";
  Outcome o = runPetrel("convert " + onnxPath + " " + good.string());
  ASSERT_EQ(o.code, 0) << o.output;
  std::ifstream in(good, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});

  for (size_t length : {size_t{0}, size_t{10}, size_t{64}, size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(dir / "cut.petrel", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(length));
    expectCleanFailure(runPetrel("bench " + (dir / "cut.petrel").string() + " --loops 1 --warmup 0"), "cut.petrel");
  }
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<char> damaged = bytes;
    // Flip bits in the header and graph section, where structure lives.
    const size_t span = std::min<size_t>(damaged.size(), 64 * 1024);
    for (int k = 0; k < 4; ++k) damaged[rng() % span] ^= static_cast<char>(1 << (rng() % 8));
    std::ofstream(dir / "flip.petrel", std::ios::binary).write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
    const Outcome flipped = runPetrel("bench " + (dir / "flip.petrel").string() + " --loops 1 --warmup 0");
    EXPECT_TRUE(flipped.exited) << "crash on trial " << trial << ": " << flipped.output;
    if (flipped.code != 0) {
      EXPECT_NE(flipped.output.find("error"), std::string::npos) << flipped.output;
    }
  }
}

}  // namespace
}  // namespace petrel
