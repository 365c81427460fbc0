// The .petrel format: round trip, and every kind of damage gets an Error.
#include "format/model_file.h"

#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "petrel/error.h"
#include "weights/quantize.h"

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

// smallGraph with its MatMul weight replaced by a [rows][depth] encoded matrix
// (logical shape [depth][rows], as MatMul's B), named "w".
Graph encodedGraph(const WeightEncoding& encoding, int64_t rows = 6, int64_t depth = 50) {
  Graph g = smallGraph();
  std::vector<float> weights(static_cast<size_t>(rows * depth));
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = std::sin(0.37f * static_cast<float>(i));
  const EncodedMatrix m = encodeWeights(weights.data(), rows, depth, encoding, "w");
  g.values[1].constant = ConstantData::fromEncoded({depth, rows}, m.layout, m.blob());
  return g;
}

// Where fields of the graph section lie in a file, for damaging them on
// purpose. The field numbers follow the order of the fields in
// schema/petrel.fbs (a FlatBuffers vtable slot is 4 + 2 * field index); the
// tests read the undamaged values back first, so a wrong number shows.
constexpr flatbuffers::voffset_t kModelFormatVersion = 4, kModelValues = 8;  // Model fields 0 and 2
constexpr flatbuffers::voffset_t kValueConstant = 10;                        // Value field 3
constexpr flatbuffers::voffset_t kConstantStorage = 4, kConstantData = 8, kConstantRows = 10,
                                 kConstantDepth = 12, kConstantBlockSize = 14;  // Constant fields 0, 2, 3, 4, 5

flatbuffers::Table* graphRoot(std::vector<uint8_t>& file) {
  FileHeader header;
  std::memcpy(&header, file.data(), sizeof(header));
  return flatbuffers::GetMutableRoot<flatbuffers::Table>(file.data() + header.graphOffset);
}

// The bytes of field `field` of the Constant of value `valueIndex` (nullptr if absent).
uint8_t* constantField(std::vector<uint8_t>& file, size_t valueIndex, flatbuffers::voffset_t field) {
  auto* values = graphRoot(file)->GetPointer<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(kModelValues);
  flatbuffers::Table* value = values->GetMutableObject(static_cast<flatbuffers::uoffset_t>(valueIndex));
  auto* constant = value->GetPointer<flatbuffers::Table*>(kValueConstant);
  return constant ? constant->GetAddressOf(field) : nullptr;
}

template <typename T>
T readField(const uint8_t* at) {
  T v;
  std::memcpy(&v, at, sizeof(T));
  return v;
}
template <typename T>
void writeField(uint8_t* at, T v) {
  std::memcpy(at, &v, sizeof(T));
}

// Parsing `bytes` fails with an Error whose message contains every one of `mentions`.
void expectRejected(const std::vector<uint8_t>& bytes, const std::vector<std::string>& mentions) {
  try {
    Graph g = parseModelBytes(bytes.data(), bytes.size(), "damaged");
    ADD_FAILURE() << "a damaged file was accepted";
  } catch (const Error& e) {
    for (const std::string& m : mentions)
      EXPECT_NE(std::string(e.what()).find(m), std::string::npos) << "expected '" << m << "' in: " << e.what();
  }
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
  const uint32_t future = kNewestFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &future, 4);
  try {
    parseModelBytes(bytes.data(), bytes.size(), "future");
    FAIL() << "a newer format version was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("format version " + std::to_string(future)), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(ModelFile, PlainModelsAreVersion1AndEncodedOnesVersion2) {
  const std::string path = tempPath("versions.petrel");
  writeModelFile(smallGraph(), path, "test");
  std::vector<uint8_t> bytes = readBytes(path);
  EXPECT_EQ(readField<uint32_t>(bytes.data() + 8), kFormatVersionPlain);
  EXPECT_EQ(readField<uint32_t>(graphRoot(bytes)->GetAddressOf(kModelFormatVersion)), kFormatVersionPlain);

  writeModelFile(encodedGraph({WeightStorage::kInt8, 0, true}), path, "test");
  bytes = readBytes(path);
  EXPECT_EQ(readField<uint32_t>(bytes.data() + 8), kFormatVersionEncoded);
  EXPECT_EQ(readField<uint32_t>(graphRoot(bytes)->GetAddressOf(kModelFormatVersion)), kFormatVersionEncoded);
  EXPECT_EQ(formatVersionFor(encodedGraph({WeightStorage::kFloat16, 0, true})), kFormatVersionEncoded);
  EXPECT_EQ(formatVersionFor(smallGraph()), kFormatVersionPlain);
  std::filesystem::remove(path);
}

TEST(ModelFile, EncodedConstantsRoundTrip) {
  std::vector<WeightEncoding> encodings = {{WeightStorage::kFloat16, 0, true},
                                           {WeightStorage::kInt8, 0, true},
                                           {WeightStorage::kInt8, 0, false}};
  for (int64_t block : {16, 32, 64, 128, 0})
    for (bool symmetric : {true, false}) encodings.push_back({WeightStorage::kInt4, block, symmetric});
  const std::string path = tempPath("encoded.petrel");
  for (const WeightEncoding& e : encodings) {
    SCOPED_TRACE(std::string(weightStorageName(e.storage)) + " block " + std::to_string(e.blockSize) +
                 (e.symmetric ? " symmetric" : " asymmetric"));
    const Graph written = encodedGraph(e, 7, 83);  // 83: no multiple of any block
    writeModelFile(written, path, "test");
    const LoadedModel loaded = readModelFile(path);
    const ConstantData& a = *written.values[1].constant;
    const ConstantData& r = *loaded.graph.values[1].constant;
    EXPECT_EQ(r.storage, a.storage);
    EXPECT_EQ(r.shape, a.shape);
    EXPECT_EQ(r.encoding.storage, a.encoding.storage);
    EXPECT_EQ(r.encoding.rows, 7);
    EXPECT_EQ(r.encoding.depth, 83);
    EXPECT_EQ(r.encoding.blockSize, a.encoding.blockSize);
    EXPECT_EQ(r.encoding.symmetric, e.symmetric);
    ASSERT_EQ(r.byteSize, a.byteSize);
    EXPECT_EQ(std::memcmp(r.bytes, a.bytes, a.byteSize), 0);
    EXPECT_TRUE(r.fileBacked);
    // Plain constants next to it are untouched.
    EXPECT_EQ(loaded.graph.values[2].constant->int64s()[1], 9);
  }
  std::filesystem::remove(path);
}

TEST(ModelFile, EncodedConstantInAVersion1FileIsRejected) {
  const std::string path = tempPath("v1encoded.petrel");
  writeModelFile(encodedGraph({WeightStorage::kInt4, 32, true}), path, "test");
  std::vector<uint8_t> bytes = readBytes(path);
  writeField<uint32_t>(bytes.data() + 8, kFormatVersionPlain);
  writeField<uint32_t>(graphRoot(bytes)->GetAddressOf(kModelFormatVersion), kFormatVersionPlain);
  expectRejected(bytes, {"'w'", "int4", "format version 1"});
  std::filesystem::remove(path);
}

TEST(ModelFile, DamagedStorageOfAnEncodedConstantIsNamed) {
  const std::string path = tempPath("storage.petrel");
  writeModelFile(encodedGraph({WeightStorage::kInt8, 0, true}), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  std::vector<uint8_t> damaged = bytes;
  uint8_t* storage = constantField(damaged, 1, kConstantStorage);
  ASSERT_NE(storage, nullptr);
  ASSERT_EQ(*storage, static_cast<uint8_t>(Storage::kInt8));
  // Every other value of the storage byte: another storage or an unknown one.
  for (int code = 0; code < 256; ++code) {
    if (code == static_cast<int>(Storage::kInt8)) continue;
    SCOPED_TRACE("storage byte " + std::to_string(code));
    *constantField(damaged, 1, kConstantStorage) = static_cast<uint8_t>(code);
    expectRejected(damaged, {"'w'"});
  }
}

TEST(ModelFile, EncodedMatrixThatDoesNotFitTheShapeIsNamed) {
  const std::string path = tempPath("rows.petrel");
  // int8 symmetric [4][12]: 4 * 4 scale bytes + 48 values = 64 bytes, logical shape [12][4].
  writeModelFile(encodedGraph({WeightStorage::kInt8, 0, true}, 4, 12), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  auto withRowsDepth = [&bytes](int64_t rows, int64_t depth) {
    std::vector<uint8_t> damaged = bytes;
    EXPECT_EQ(readField<int64_t>(constantField(damaged, 1, kConstantRows)), 4);
    EXPECT_EQ(readField<int64_t>(constantField(damaged, 1, kConstantDepth)), 12);
    writeField<int64_t>(constantField(damaged, 1, kConstantRows), rows);
    writeField<int64_t>(constantField(damaged, 1, kConstantDepth), depth);
    return damaged;
  };
  EXPECT_NO_THROW(parseModelBytes(bytes.data(), bytes.size(), "good"));
  // [8][4] also needs 8 * 4 + 32 = 64 bytes, but holds 32 elements, not 48.
  expectRejected(withRowsDepth(8, 4), {"'w'", "[12, 4]", "[8, 4]"});
  // Sizes that do not match the data.
  expectRejected(withRowsDepth(5, 12), {"'w'", "bytes"});
  expectRejected(withRowsDepth(4, 13), {"'w'", "bytes"});
  // Nonsense and overflowing matrices.
  expectRejected(withRowsDepth(0, 12), {"'w'"});
  expectRejected(withRowsDepth(-4, -12), {"'w'"});
  expectRejected(withRowsDepth(int64_t{1} << 62, int64_t{1} << 62), {"'w'"});
  expectRejected(withRowsDepth(int64_t{1} << 32, 12), {"'w'"});

  // A bad int4 block size.
  writeModelFile(encodedGraph({WeightStorage::kInt4, 16, false}, 4, 40), path, "test");
  std::vector<uint8_t> int4 = readBytes(path);
  uint8_t* block = constantField(int4, 1, kConstantBlockSize);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(readField<int32_t>(block), 16);
  for (int32_t bad : {8, 17, 24, 256, -16}) {
    writeField<int32_t>(block, bad);
    expectRejected(int4, {"'w'", "block size"});
  }
  writeField<int32_t>(block, 32);  // valid, but the data was written for blocks of 16
  expectRejected(int4, {"'w'", "bytes"});
  std::filesystem::remove(path);
}

TEST(ModelFile, TruncatedBlobIsNamed) {
  const std::string path = tempPath("blob.petrel");
  writeModelFile(encodedGraph({WeightStorage::kInt4, 32, false}, 5, 70), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  const EncodedLayout layout{WeightStorage::kInt4, 5, 70, 32, false};
  for (uint64_t shorter : {uint64_t{1}, uint64_t{4}, uint64_t{layout.valueBytes()}, uint64_t{layout.totalBytes()}}) {
    std::vector<uint8_t> damaged = bytes;
    uint8_t* range = constantField(damaged, 1, kConstantData);
    ASSERT_NE(range, nullptr);
    ASSERT_EQ(readField<uint64_t>(range + 8), layout.totalBytes());  // DataRange {offset, size}
    writeField<uint64_t>(range + 8, layout.totalBytes() - shorter);
    expectRejected(damaged, {"'w'", "bytes"});
  }
  std::filesystem::remove(path);
}

TEST(ModelFile, EveryTruncationOfAnEncodedModelIsRejected) {
  const std::string path = tempPath("truncate_encoded.petrel");
  writeModelFile(encodedGraph({WeightStorage::kInt4, 16, true}), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  for (size_t length = 0; length < bytes.size(); length += (length < 200 ? 1 : 97)) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + length);
    EXPECT_THROW(parseModelBytes(cut.data(), cut.size(), "cut"), Error) << "length " << length;
  }
  std::filesystem::remove(path);
}

TEST(ModelFile, BitFlipsInAnEncodedModelNeverCrash) {
  const std::string path = tempPath("flip_encoded.petrel");
  writeModelFile(encodedGraph({WeightStorage::kInt4, 0, false}), path, "test");
  const std::vector<uint8_t> bytes = readBytes(path);
  FileHeader header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  std::mt19937 rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> damaged = bytes;
    // The header and graph section, where the structure (and the matrix fields) live.
    const size_t at = rng() % (header.graphOffset + header.graphSize);
    damaged[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      Graph g = parseModelBytes(damaged.data(), damaged.size(), "flipped");
      g.validate();
      for (const Value& v : g.values)
        if (v.constant && v.constant->isEncoded()) v.constant->encodedView(v.name);
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace petrel
