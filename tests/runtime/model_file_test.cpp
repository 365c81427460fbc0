// The .petrel format: round trip, and every kind of damage gets an Error.
#include "format/model_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "petrel/error.h"

namespace petrel {
namespace {

Graph smallGraph() {
  Graph g;
  Value in;
  in.name = "input";
  in.shape = {-1, 3};
  g.inputs.push_back(g.addValue(in));
  Value w;
  w.name = "w";
  w.constant = ConstantData::fromFloats({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const int wid = g.addValue(w);
  Value shape;
  shape.name = "shape";
  shape.dtype = DType::kInt64;
  shape.constant = ConstantData::fromInt64s({2}, {-1, 9});
  const int sid = g.addValue(shape);
  Value out;
  out.name = "output";
  const int oid = g.addValue(out);
  Node n;
  n.name = "mm";
  n.op = "MatMul";
  n.inputs = {g.inputs[0], wid};
  n.outputs = {oid};
  n.attributes["activation"] = std::string("relu");
  n.attributes["ints"] = std::vector<int64_t>{1, -2, 3};
  n.attributes["floats"] = std::vector<float>{0.5f};
  n.attributes["alpha"] = 0.25f;
  n.attributes["k"] = int64_t{-7};
  g.nodes.push_back(n);
  (void)sid;
  g.outputs.push_back(oid);
  return g;
}

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("petrel_test_" + name)).string();
}

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(ModelFile, RoundTripKeepsGraphAndAlignsData) {
  const std::string path = tempPath("roundtrip.petrel");
  writeModelFile(smallGraph(), path, "test");
  LoadedModel loaded = readModelFile(path);
  const Graph& g = loaded.graph;
  ASSERT_EQ(g.values.size(), 4u);
  EXPECT_EQ(g.values[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(loaded.producer, "test");
  const ConstantData& w = *g.values[1].constant;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.bytes) % kTensorAlignment, 0u);
  EXPECT_EQ(w.floats()[8], 9.0f);
  EXPECT_EQ(g.values[2].constant->int64s()[0], -1);
  const Node& n = g.nodes[0];
  EXPECT_EQ(n.getString("activation", ""), "relu");
  EXPECT_EQ(n.getInts("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(n.getFloats("floats"), (std::vector<float>{0.5f}));
  EXPECT_EQ(n.getFloat("alpha", 0), 0.25f);
  EXPECT_EQ(n.getInt("k", 0), -7);
  std::filesystem::remove(path);
}

TEST(ModelFile, MissingFileIsAnError) {
  EXPECT_THROW(readModelFile("/nonexistent/model.petrel"), Error);
}

TEST(ModelFile, EveryTruncationIsRejected) {
  const std::string path = tempPath("truncate.petrel");
  writeModelFile(smallGraph(), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  for (size_t length = 0; length < bytes.size(); length += (length < 200 ? 1 : 97)) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + length);
    EXPECT_THROW(parseModelBytes(cut.data(), cut.size(), "cut"), Error) << "length " << length;
  }
  std::filesystem::remove(path);
}

TEST(ModelFile, BitFlipsNeverCrash) {
  // A flipped bit must give an Error or a graph that still validates; never a crash.
  const std::string path = tempPath("flip.petrel");
  writeModelFile(smallGraph(), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  std::mt19937 rng(3);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> damaged = bytes;
    const size_t at = rng() % damaged.size();
    damaged[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      Graph g = parseModelBytes(damaged.data(), damaged.size(), "flipped");
      g.validate();
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  std::filesystem::remove(path);
}

TEST(ModelFile, NewerVersionIsNamedInTheError) {
  const std::string path = tempPath("version.petrel");
  writeModelFile(smallGraph(), path, "test");
  std::vector<uint8_t> bytes = readBytes(path);
  const uint32_t future = kFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &future, 4);
  try {
    parseModelBytes(bytes.data(), bytes.size(), "future");
    FAIL() << "a newer format version was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("format version"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace petrel
