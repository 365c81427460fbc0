// The `petrel` program on bad input: each case must print one clear error
// line and exit non-zero - never crash, never write a partial file.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "format/model_file.h"
#include "format/npy.h"
#include "graph/encode_weights.h"
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

// bench --json: one object whose runs_ms has one time per timed run, the
// median among them, and the FLOP count; --profile: the per-kernel section
// names the kernel.
TEST(Cli, BenchReportsEveryRunAndProfilesByKernel) {
  const fs::path dir = scratchDir();
  writeOnnx(modelWithOp("Relu"), dir / "bench.onnx");
  ASSERT_EQ(runPetrel("convert " + (dir / "bench.onnx").string() + " " + (dir / "bench.petrel").string()).code, 0);
  const Outcome o = runPetrel("bench " + (dir / "bench.petrel").string() + " --loops 7 --warmup 1 --json");
  ASSERT_EQ(o.code, 0) << o.output;
  const size_t at = o.output.find("\"runs_ms\": [");
  ASSERT_NE(at, std::string::npos) << o.output;
  const size_t end = o.output.find(']', at);
  ASSERT_NE(end, std::string::npos) << o.output;
  std::vector<double> runs;
  std::istringstream list(o.output.substr(at + 12, end - at - 12));
  for (std::string item; std::getline(list, item, ',');) runs.push_back(std::stod(item));
  ASSERT_EQ(runs.size(), 7u) << o.output;
  const size_t medianAt = o.output.find("\"median_ms\": ");
  ASSERT_NE(medianAt, std::string::npos) << o.output;
  const double median = std::stod(o.output.substr(medianAt + 13));
  std::sort(runs.begin(), runs.end());
  EXPECT_NEAR(median, runs[3], 1e-3) << o.output;
  // A Relu does no multiply-adds; the peak is measured around the runs.
  EXPECT_NE(o.output.find("\"flops\": 0, \"fma_peak_gflops\": {\"before\": "), std::string::npos) << o.output;

  const Outcome profiled = runPetrel("bench " + (dir / "bench.petrel").string() + " --loops 2 --warmup 0 --profile");
  ASSERT_EQ(profiled.code, 0) << profiled.output;
  const size_t kernels = profiled.output.find("profile: per kernel");
  ASSERT_NE(kernels, std::string::npos) << profiled.output;
  EXPECT_NE(profiled.output.find("relu", kernels), std::string::npos) << profiled.output;

  // --json --profile: every node in the JSON, with its first output's name.
  const Outcome nodes =
      runPetrel("bench " + (dir / "bench.petrel").string() + " --loops 2 --warmup 0 --json --profile");
  ASSERT_EQ(nodes.code, 0) << nodes.output;
  EXPECT_NE(nodes.output.find("\"nodes\": [{\"name\": \"the_node\", \"op\": \"Relu\", \"kernel\": \""),
            std::string::npos)
      << nodes.output;
  EXPECT_NE(nodes.output.find("\"output\": \"y\", \"ms\": "), std::string::npos) << nodes.output;
  EXPECT_NE(nodes.output.find(", \"flops\": 0}]"), std::string::npos) << nodes.output;
}

TEST(Cli, ConvertHelpExplainsTheWeightOptions) {
  const Outcome o = runPetrel("convert --help");
  EXPECT_EQ(o.code, 0) << o.output;
  for (const char* option : {"--weights", "fp16", "int8", "int4", "--block-size", "per channel", "--asymmetric"})
    EXPECT_NE(o.output.find(option), std::string::npos) << option << " in: " << o.output;
}

TEST(Cli, BadWeightOptionsAreRefusedAndNothingIsWritten) {
  const fs::path dir = scratchDir();
  writeOnnx(modelWithOp("Relu"), dir / "relu.onnx");
  const fs::path out = dir / "options.petrel";
  const std::string convert = "convert " + (dir / "relu.onnx").string() + " " + out.string() + " ";
  struct Case {
    std::string options, mention;
  };
  for (const Case& c : std::vector<Case>{{"--weights fp12", "--weights"},
                                         {"--weights int3", "--weights"},
                                         {"--weights fp16 --block-size 32", "--block-size"},
                                         {"--block-size 64", "--block-size"},  // fp32 by default
                                         {"--weights int8 --block-size 16", "--block-size"},
                                         {"--weights int4 --block-size 48", "--block-size"},
                                         {"--weights int4 --block-size -32", "--block-size"},
                                         {"--weights fp16 --asymmetric", "--asymmetric"},
                                         {"--asymmetric", "--asymmetric"}}) {
    SCOPED_TRACE(c.options);
    fs::remove(out);
    expectCleanFailure(runPetrel(convert + c.options), c.mention);
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST(Cli, WeightOptionsOnAModelWithoutWeights) {
  // Nothing to encode: the summary says so and the file stays format version 1.
  const fs::path dir = scratchDir();
  writeOnnx(modelWithOp("Relu"), dir / "relu.onnx");
  for (const std::string options : {"--weights int4 --block-size 0 --asymmetric", "--weights int8 --asymmetric",
                                    "--weights fp16", "--weights int4 --block-size 128"}) {
    SCOPED_TRACE(options);
    const fs::path out = dir / "encoded_relu.petrel";
    const Outcome o = runPetrel("convert " + (dir / "relu.onnx").string() + " " + out.string() + " " + options);
    ASSERT_EQ(o.code, 0) << o.output;
    EXPECT_NE(o.output.find("weights: 0 tensors encoded as"), std::string::npos) << o.output;
    EXPECT_EQ(readModelFile(out.string()).graph.nodes.size(), 1u);
    std::ifstream in(out, std::ios::binary);
    FileHeader header{};
    in.read(reinterpret_cast<char*>(&header), sizeof(header));
    EXPECT_EQ(header.formatVersion, kFormatVersionPlain);
  }
}

// A .petrel file with one int8 weight matrix "fc.weight" (Gemm transB 1, [10][40]).
std::vector<uint8_t> encodedModelBytes(const fs::path& path) {
  Graph g;
  Value x;
  x.name = "x";
  x.shape = {1, 40};
  g.inputs.push_back(g.addValue(x));
  std::vector<float> weights(400);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = std::cos(0.1f * static_cast<float>(i));
  Value w;
  w.name = "fc.weight";
  w.shape = {10, 40};
  w.constant = ConstantData::fromFloats({10, 40}, weights);
  const int wid = g.addValue(w);
  Value y;
  y.name = "y";
  const int yid = g.addValue(y);
  Node n;
  n.name = "fc";
  n.op = "Gemm";
  n.inputs = {g.inputs[0], wid};
  n.outputs = {yid};
  n.attributes["transB"] = int64_t{1};
  g.nodes.push_back(n);
  g.outputs.push_back(yid);
  EXPECT_EQ(encodeWeightMatrices(g, {WeightStorage::kInt8, 0, true}).tensors.size(), 1u);
  writeModelFile(g, path.string(), "cli test");
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Field `field` of the Constant of value 1 ("fc.weight"). FlatBuffers vtable
// slots 4 + 2 * field index, in the field order of schema/petrel.fbs:
// Model.values is field 2, Value.constant field 3.
uint8_t* weightConstantField(std::vector<uint8_t>& file, flatbuffers::voffset_t field) {
  FileHeader header;
  std::memcpy(&header, file.data(), sizeof(header));
  auto* model = flatbuffers::GetMutableRoot<flatbuffers::Table>(file.data() + header.graphOffset);
  auto* values = model->GetPointer<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(8);
  auto* constant = values->GetMutableObject(1)->GetPointer<flatbuffers::Table*>(10);
  return constant ? constant->GetAddressOf(field) : nullptr;
}
constexpr flatbuffers::voffset_t kConstantStorage = 4, kConstantData = 8, kConstantRows = 10, kConstantDepth = 12;

TEST(Cli, DamagedEncodedWeightsAreNamed) {
  const fs::path dir = scratchDir();
  const std::vector<uint8_t> bytes = encodedModelBytes(dir / "encoded.petrel");
  auto check = [&dir](const std::vector<uint8_t>& damaged, const std::string& mention) {
    std::ofstream(dir / "damaged.petrel", std::ios::binary)
        .write(reinterpret_cast<const char*>(damaged.data()), static_cast<std::streamsize>(damaged.size()));
    const Outcome o = runPetrel("info " + (dir / "damaged.petrel").string());
    expectCleanFailure(o, "fc.weight");
    EXPECT_NE(o.output.find(mention), std::string::npos) << o.output;
  };
  {  // A flipped storage byte: int8 -> int4 (its layout needs other sizes), and an unknown storage.
    std::vector<uint8_t> damaged = bytes;
    uint8_t* storage = weightConstantField(damaged, kConstantStorage);
    ASSERT_NE(storage, nullptr);
    ASSERT_EQ(*storage, 2);  // Int8
    *storage = 3;
    check(damaged, "int4");
    *storage = 0x42;
    check(damaged, "storage kind");
  }
  {  // rows/depth that still fit the data size ([20][...] would not) but not the shape.
    std::vector<uint8_t> damaged = bytes;
    int64_t rows = 0, depth = 0;
    std::memcpy(&rows, weightConstantField(damaged, kConstantRows), 8);
    std::memcpy(&depth, weightConstantField(damaged, kConstantDepth), 8);
    ASSERT_EQ(rows, 10);
    ASSERT_EQ(depth, 40);
    // int8 symmetric [r][d] needs r * (4 + d) bytes: [10][40] 440 = [11][36] 440, 396 elements instead of 400.
    rows = 11;
    depth = 36;
    std::memcpy(weightConstantField(damaged, kConstantRows), &rows, 8);
    std::memcpy(weightConstantField(damaged, kConstantDepth), &depth, 8);
    check(damaged, "[11, 36]");
    rows = 20;
    std::memcpy(weightConstantField(damaged, kConstantRows), &rows, 8);
    check(damaged, "bytes");
  }
  {  // A truncated blob: the data range one scale shorter.
    std::vector<uint8_t> damaged = bytes;
    uint8_t* range = weightConstantField(damaged, kConstantData);
    ASSERT_NE(range, nullptr);
    uint64_t size = 0;
    std::memcpy(&size, range + 8, 8);
    ASSERT_EQ(size, 440u);
    size -= 4;
    std::memcpy(range + 8, &size, 8);
    check(damaged, "436 bytes");
  }
  {  // The whole file cut short inside the blob.
    std::vector<uint8_t> damaged(bytes.begin(), bytes.end() - 100);
    std::ofstream(dir / "cut.petrel", std::ios::binary)
        .write(reinterpret_cast<const char*>(damaged.data()), static_cast<std::streamsize>(damaged.size()));
    expectCleanFailure(runPetrel("info " + (dir / "cut.petrel").string()), "truncated");
  }
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
