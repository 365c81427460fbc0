// The weight-encoding pass (graph/encode_weights.h): which constants it
// encodes, in which orientation (checked against index formulas written out
// here, not against toWeightMatrix alone), the decoded weights within the
// encoding's error bound, and the encoded constants surviving a .petrel file
// write and read byte for byte.
#include "graph/encode_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "format/model_file.h"
#include "graph/weight_matrix.h"
#include "petrel/error.h"
#include "support/test_support.h"
#include "weights/decode.h"

namespace petrel::test {
namespace {

// Every compressed encoding the format supports.
std::vector<WeightEncoding> compressedEncodings() {
  std::vector<WeightEncoding> e = {{WeightStorage::kFloat16, 0, true},
                                   {WeightStorage::kInt8, 0, true},
                                   {WeightStorage::kInt8, 0, false}};
  for (int64_t block : {16, 32, 64, 128, 0})
    for (bool symmetric : {true, false}) e.push_back({WeightStorage::kInt4, block, symmetric});
  return e;
}

// A graph builder: one float input "x", nodes reading named constants.
struct GraphBuilder {
  Graph graph;
  int input = -1;

  GraphBuilder() {
    Value x;
    x.name = "x";
    x.shape = {1};
    input = graph.addValue(x);
    graph.inputs.push_back(input);
  }
  int constant(const std::string& name, const Shape& shape, uint32_t seed) {
    Value v;
    v.name = name;
    v.shape = shape;
    v.constant = ConstantData::fromFloats(shape, randomFloats(static_cast<size_t>(shapeElements(shape)), seed));
    return graph.addValue(v);
  }
  // A node reading (x, inputs...) with one new output, which becomes a graph output.
  int node(const std::string& name, const std::string& op, const std::vector<int>& inputs,
           std::map<std::string, AttributeValue> attributes = {}) {
    Value out;
    out.name = name + ".out";
    const int outId = graph.addValue(out);
    Node n;
    n.name = name;
    n.op = op;
    n.inputs = {input};
    n.inputs.insert(n.inputs.end(), inputs.begin(), inputs.end());
    n.outputs = {outId};
    n.attributes = std::move(attributes);
    graph.nodes.push_back(n);
    graph.outputs.push_back(outId);
    return outId;
  }
};

// One weight-matrix case: op, weight shape, attributes, expected matrix, and
// where element (row, k) of the matrix lies in the logical tensor.
struct OpCase {
  std::string label;
  std::string op;
  Shape shape;
  std::map<std::string, AttributeValue> attributes;
  int64_t rows, depth;
  std::function<int64_t(int64_t row, int64_t k)> logicalIndex;
};

std::vector<OpCase> opCases() {
  std::vector<OpCase> cases;
  // Conv W [M][C/g][kH][kW]: row m, k = (c, ky, kx) flattened - the tensor as is.
  cases.push_back({"Conv", "Conv", {12, 5, 3, 3}, {}, 12, 45, [](int64_t r, int64_t k) { return r * 45 + k; }});
  cases.push_back({"GroupedConv", "Conv", {12, 5, 3, 3}, {{"group", int64_t{3}}}, 12, 45,
                   [](int64_t r, int64_t k) { return r * 45 + k; }});
  cases.push_back({"Conv1d", "Conv", {6, 7, 11}, {}, 6, 77, [](int64_t r, int64_t k) { return r * 77 + k; }});
  // ConvTranspose W [C][M/g][kH][kW], C = 74, M/g = 3, kernel 1x2, group 2:
  // row = g * (3 * 2) + j * 2 + s, k = c within the group (37 of them).
  cases.push_back({"GroupedConvTranspose", "ConvTranspose", {74, 3, 1, 2}, {{"group", int64_t{2}}}, 12, 37,
                   [](int64_t r, int64_t k) {
                     const int64_t g = r / 6, j = (r % 6) / 2, s = r % 2;
                     const int64_t c = g * 37 + k;
                     return (c * 3 + j) * 2 + s;
                   }});
  // Gemm B [K][N] (transB 0): row n, k -> B[k][n].
  cases.push_back({"GemmTransB0", "Gemm", {70, 9}, {{"transB", int64_t{0}}}, 9, 70,
                   [](int64_t r, int64_t k) { return k * 9 + r; }});
  // Gemm B [N][K] (transB 1): as is.
  cases.push_back({"GemmTransB1", "Gemm", {9, 70}, {{"transB", int64_t{1}}}, 9, 70,
                   [](int64_t r, int64_t k) { return r * 70 + k; }});
  // MatMul B [K][N], K = 133 (past one block of 128, odd): row n, k -> B[k][n].
  cases.push_back({"MatMul", "MatMul", {133, 5}, {}, 5, 133, [](int64_t r, int64_t k) { return k * 5 + r; }});
  return cases;
}

// The largest error the encoding allows for element (row, k) of original value w.
double errorBound(const EncodedMatrixView& view, int64_t row, int64_t k, float w) {
  if (view.layout.storage == WeightStorage::kFloat16)
    return std::fabs(w) * std::ldexp(1.0, -11) + std::ldexp(1.0, -24);  // half an ulp, or subnormal spacing
  const double scale = view.scale(row, k / view.layout.blockLength());
  return scale / 2 * (1 + 1e-5) + 1e-30;
}

TEST(EncodeWeights, EveryOpKindInEveryEncodingDecodesWithinTheBound) {
  for (const OpCase& c : opCases()) {
    for (const WeightEncoding& encoding : compressedEncodings()) {
      SCOPED_TRACE(c.label + " " + describeWeightEncoding(encoding));
      GraphBuilder b;
      const int w = b.constant("w", c.shape, 7);
      b.node("n", c.op, {w}, c.attributes);
      const std::shared_ptr<const ConstantData> original = b.graph.values[w].constant;

      const EncodeWeightsReport report = encodeWeightMatrices(b.graph, encoding);
      ASSERT_EQ(report.tensors.size(), 1u);
      const EncodedTensorReport& t = report.tensors[0];
      EXPECT_EQ(t.name, "w");
      EXPECT_EQ(t.node, "n");
      EXPECT_EQ(t.op, c.op);
      EXPECT_EQ(t.rows, c.rows);
      EXPECT_EQ(t.depth, c.depth);
      EXPECT_EQ(t.bytesBefore, original->byteSize);

      const ConstantData& encoded = *b.graph.values[w].constant;
      ASSERT_TRUE(encoded.isEncoded());
      EXPECT_EQ(encoded.storage, static_cast<Storage>(encoding.storage));
      EXPECT_EQ(encoded.shape, c.shape);  // the logical shape is kept
      EXPECT_EQ(encoded.encoding.rows, c.rows);
      EXPECT_EQ(encoded.encoding.depth, c.depth);
      EXPECT_EQ(encoded.encoding.symmetric, encoding.symmetric);
      if (encoding.storage == WeightStorage::kInt4) {
        EXPECT_EQ(encoded.encoding.blockSize, encoding.blockSize);
      }
      EXPECT_EQ(t.bytesAfter, encoded.byteSize);
      EXPECT_EQ(report.bytesBefore, t.bytesBefore);
      EXPECT_EQ(report.bytesAfter, t.bytesAfter);
      EXPECT_LT(t.bytesAfter, t.bytesBefore);
      EXPECT_NO_THROW(b.graph.validate());

      const EncodedMatrixView view = encoded.encodedView("w");
      std::vector<float> decoded(static_cast<size_t>(c.rows * c.depth));
      decodeMatrix(view, decoded.data());
      const std::vector<float> matrix = toWeightMatrix(*weightMatrixOf(b.graph.nodes[0], kWeightInput, c.shape),
                                                       original->floats());
      double maxAbs = 0.0;
      int failures = 0;
      for (int64_t r = 0; r < c.rows; ++r)
        for (int64_t k = 0; k < c.depth; ++k) {
          const float w0 = original->floats()[c.logicalIndex(r, k)];
          ASSERT_EQ(matrix[r * c.depth + k], w0) << "orientation of (" << r << ", " << k << ")";
          const double diff = std::fabs(double(decoded[r * c.depth + k]) - w0);
          maxAbs = std::max(maxAbs, diff);
          if (diff > errorBound(view, r, k, w0) && ++failures < 5)
            ADD_FAILURE() << "(" << r << ", " << k << "): " << w0 << " decodes to " << decoded[r * c.depth + k];
        }
      // The report's figure is the measured one.
      EXPECT_NEAR(t.error.maxAbs, maxAbs, 1e-7);
      EXPECT_GT(t.error.relativeL2, 0.0);
      EXPECT_LT(t.error.relativeL2, encoding.storage == WeightStorage::kInt4 ? 0.25 : 0.01);
    }
  }
}

// fromWeightMatrix undoes toWeightMatrix for every kind of weight matrix.
TEST(WeightMatrix, FromUndoesTo) {
  struct Case {
    Node node;
    Shape shape;
  };
  Node conv, convT, gemm0, gemm1, matmul;
  conv.op = "Conv";
  convT.op = "ConvTranspose";
  convT.attributes["group"] = int64_t{3};
  gemm0.op = gemm1.op = "Gemm";
  gemm1.attributes["transB"] = int64_t{1};
  matmul.op = "MatMul";
  const Case cases[] = {{conv, {5, 3, 3, 3}}, {convT, {6, 4, 3, 2}}, {gemm0, {7, 5}}, {gemm1, {7, 5}}, {matmul, {4, 9}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.node.op);
    const std::optional<WeightMatrix> m = weightMatrixOf(c.node, kWeightInput, c.shape);
    ASSERT_TRUE(m.has_value());
    const std::vector<float> logical = randomFloats(static_cast<size_t>(shapeElements(c.shape)), 3);
    const std::vector<float> matrix = toWeightMatrix(*m, logical.data());
    EXPECT_EQ(fromWeightMatrix(*m, matrix.data()), logical);
    if (!m->asStored()) {
      EXPECT_NE(matrix, logical);
    }
  }
}

TEST(EncodeWeights, Fp32IsANoOp) {
  GraphBuilder b;
  const int w = b.constant("w", {12, 5, 3, 3}, 1);
  b.node("conv", "Conv", {w});
  const ConstantData* before = b.graph.values[w].constant.get();
  const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kFloat32, 32, true});
  EXPECT_TRUE(report.tensors.empty());
  EXPECT_EQ(b.graph.values[w].constant.get(), before);
}

TEST(EncodeWeights, BatchedMatMulWeightsStayFp32) {
  GraphBuilder b;
  const int w = b.constant("w3", {2, 20, 20}, 2);
  b.node("bmm", "MatMul", {w});
  const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kInt8, 0, true});
  EXPECT_TRUE(report.tensors.empty());
  EXPECT_EQ(b.graph.values[w].constant->storage, Storage::kFloat32);
}

TEST(EncodeWeights, BiasesAndOtherInputsStayFp32) {
  GraphBuilder b;
  const int w = b.constant("w", {300, 4, 1, 1}, 3);
  const int bias = b.constant("bias", {300}, 4);
  b.node("conv", "Conv", {w, bias});
  // A big constant as MatMul's first input is not a weight matrix either.
  GraphBuilder b2;
  const int a = b2.constant("a", {40, 40}, 5);
  b2.node("mm", "MatMul", {});
  b2.graph.nodes[0].inputs = {a, b2.input};  // constant A, runtime B

  const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kInt4, 32, true});
  ASSERT_EQ(report.tensors.size(), 1u);
  EXPECT_TRUE(b.graph.values[w].constant->isEncoded());
  EXPECT_EQ(b.graph.values[bias].constant->storage, Storage::kFloat32);
  EXPECT_TRUE(encodeWeightMatrices(b2.graph, {WeightStorage::kInt4, 32, true}).tensors.empty());
  EXPECT_EQ(b2.graph.values[a].constant->storage, Storage::kFloat32);
}

TEST(EncodeWeights, SharedConstantsStayFp32) {
  {  // Read by two nodes (they could want different orientations).
    GraphBuilder b;
    const int w = b.constant("w", {32, 32}, 6);
    b.node("gemm", "Gemm", {w}, {{"transB", int64_t{1}}});
    b.node("mm", "MatMul", {w});
    const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kInt8, 0, true});
    EXPECT_TRUE(report.tensors.empty());
    EXPECT_EQ(report.keptShared, 2);
    EXPECT_EQ(b.graph.values[w].constant->storage, Storage::kFloat32);
  }
  {  // Read twice by one node.
    GraphBuilder b;
    const int w = b.constant("w", {32, 32}, 6);
    b.node("mm", "MatMul", {w});
    b.graph.nodes[0].inputs = {w, w};
    EXPECT_TRUE(encodeWeightMatrices(b.graph, {WeightStorage::kFloat16, 0, true}).tensors.empty());
    EXPECT_EQ(b.graph.values[w].constant->storage, Storage::kFloat32);
  }
  {  // A graph output.
    GraphBuilder b;
    const int w = b.constant("w", {32, 32}, 6);
    b.node("mm", "MatMul", {w});
    b.graph.outputs.push_back(w);
    const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kInt4, 16, false});
    EXPECT_TRUE(report.tensors.empty());
    EXPECT_EQ(report.keptShared, 1);
    EXPECT_EQ(b.graph.values[w].constant->storage, Storage::kFloat32);
  }
}

TEST(EncodeWeights, SmallTensorsStayFp32) {
  GraphBuilder b;
  const int small = b.constant("small", {15, 17}, 8);  // 255 elements: under the default 256
  const int edge = b.constant("edge", {16, 16}, 9);    // 256: encoded
  b.node("a", "MatMul", {small});
  b.node("b", "MatMul", {edge});
  EXPECT_EQ(EncodeWeightsOptions{}.minElements, 256);
  const EncodeWeightsReport report = encodeWeightMatrices(b.graph, {WeightStorage::kInt8, 0, true});
  ASSERT_EQ(report.tensors.size(), 1u);
  EXPECT_EQ(report.tensors[0].name, "edge");
  EXPECT_EQ(report.keptSmall, 1);
  EXPECT_EQ(b.graph.values[small].constant->storage, Storage::kFloat32);
  EXPECT_EQ(b.graph.values[edge].constant->storage, Storage::kInt8);

  // The option lowers the threshold.
  GraphBuilder b2;
  const int tiny = b2.constant("tiny", {3, 5}, 10);
  b2.node("a", "MatMul", {tiny});
  EncodeWeightsOptions options;
  options.minElements = 1;
  EXPECT_EQ(encodeWeightMatrices(b2.graph, {WeightStorage::kInt4, 0, true}, options).tensors.size(), 1u);
  EXPECT_EQ(b2.graph.values[tiny].constant->storage, Storage::kInt4);
}

TEST(EncodeWeights, EncoderErrorNamesTheTensorAndLeavesTheGraphUnchanged) {
  GraphBuilder b;
  const int good = b.constant("good", {16, 32}, 11);
  const int huge = b.constant("huge", {16, 32}, 12);
  auto values = std::vector<float>(b.graph.values[huge].constant->floats(),
                                   b.graph.values[huge].constant->floats() + 16 * 32);
  values[100] = 1e6f;  // too large for fp16
  b.graph.values[huge].constant = ConstantData::fromFloats({16, 32}, values);
  b.node("a", "MatMul", {good});
  b.node("b", "MatMul", {huge});
  try {
    encodeWeightMatrices(b.graph, {WeightStorage::kFloat16, 0, true});
    FAIL() << "an fp16 overflow was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("huge"), std::string::npos) << e.what();
  }
  EXPECT_EQ(b.graph.values[good].constant->storage, Storage::kFloat32);
  EXPECT_EQ(b.graph.values[huge].constant->storage, Storage::kFloat32);
}

TEST(EncodeWeights, ReportFigures) {
  EncodeWeightsReport report;
  EXPECT_EQ(report.meanRelativeL2(), 0.0);
  EXPECT_EQ(report.worst(), nullptr);
  report.tensors.resize(3);
  report.tensors[0].error.relativeL2 = 0.1;
  report.tensors[1].error.relativeL2 = 0.4;
  report.tensors[1].name = "worst";
  report.tensors[2].error.relativeL2 = 0.1;
  EXPECT_DOUBLE_EQ(report.meanRelativeL2(), 0.2);
  ASSERT_NE(report.worst(), nullptr);
  EXPECT_EQ(report.worst()->name, "worst");
  EXPECT_EQ(describeWeightEncoding({WeightStorage::kInt4, 32, true}), "int4 (block 32, symmetric)");
  EXPECT_EQ(describeWeightEncoding({WeightStorage::kInt4, 0, false}), "int4 (per channel, asymmetric)");
  EXPECT_EQ(describeWeightEncoding({WeightStorage::kInt8, 0, true}), "int8 (symmetric)");
  EXPECT_EQ(describeWeightEncoding({WeightStorage::kFloat16, 0, true}), "fp16");
}

// ---------------------------------------------------------------------------
// Through a .petrel file

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("petrel_encode_test_" + name)).string();
}

uint32_t fileVersion(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FileHeader header{};
  in.read(reinterpret_cast<char*>(&header), sizeof(header));
  return header.formatVersion;
}

// Every op case in one graph, plus a bias and a small tensor that stay fp32.
GraphBuilder everyOpGraph() {
  GraphBuilder b;
  int i = 0;
  for (const OpCase& c : opCases()) {
    const int w = b.constant("w." + c.label, c.shape, 20 + i++);
    b.node(c.label, c.op, {w}, c.attributes);
  }
  const int w = b.constant("w.withBias", {8, 40}, 40);
  const int bias = b.constant("bias", {8}, 41);
  b.node("withBias", "Gemm", {w, bias}, {{"transB", int64_t{1}}});
  return b;
}

TEST(EncodeWeights, EncodedConstantsSurviveTheFileExactly) {
  for (const WeightEncoding& encoding : compressedEncodings()) {
    SCOPED_TRACE(describeWeightEncoding(encoding));
    GraphBuilder b = everyOpGraph();
    const EncodeWeightsReport report = encodeWeightMatrices(b.graph, encoding);
    EXPECT_EQ(report.tensors.size(), opCases().size() + 1);
    const std::string path = tempPath("roundtrip.petrel");
    writeModelFile(b.graph, path, "test");
    EXPECT_EQ(fileVersion(path), kFormatVersionEncoded);
    const LoadedModel loaded = readModelFile(path);
    ASSERT_EQ(loaded.graph.values.size(), b.graph.values.size());
    for (size_t v = 0; v < b.graph.values.size(); ++v) {
      const Value& written = b.graph.values[v];
      const Value& read = loaded.graph.values[v];
      ASSERT_EQ(read.name, written.name);
      ASSERT_EQ(read.isConstant(), written.isConstant()) << written.name;
      if (!written.isConstant()) continue;
      const ConstantData& a = *written.constant;
      const ConstantData& r = *read.constant;
      EXPECT_EQ(r.storage, a.storage) << written.name;
      EXPECT_EQ(r.shape, a.shape) << written.name;
      ASSERT_EQ(r.byteSize, a.byteSize) << written.name;
      EXPECT_EQ(std::memcmp(r.bytes, a.bytes, a.byteSize), 0) << written.name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(r.bytes) % kTensorAlignment, 0u) << written.name;
      if (a.isEncoded()) {
        EXPECT_EQ(r.encoding.storage, a.encoding.storage) << written.name;
        EXPECT_EQ(r.encoding.rows, a.encoding.rows) << written.name;
        EXPECT_EQ(r.encoding.depth, a.encoding.depth) << written.name;
        EXPECT_EQ(r.encoding.blockSize, a.encoding.blockSize) << written.name;
        EXPECT_EQ(r.encoding.symmetric, a.encoding.symmetric) << written.name;
        // And it still decodes to the same numbers.
        const EncodedMatrixView before = a.encodedView(written.name), after = r.encodedView(written.name);
        std::vector<float> x(static_cast<size_t>(a.encoding.rows * a.encoding.depth)), y(x.size());
        decodeMatrix(before, x.data());
        decodeMatrix(after, y.data());
        EXPECT_EQ(x, y) << written.name;
      }
    }
    EXPECT_EQ(loaded.graph.values[loaded.graph.findValue("bias")].constant->storage, Storage::kFloat32);
    std::filesystem::remove(path);
  }
}

TEST(EncodeWeights, PlainModelsStayFormatVersion1) {
  GraphBuilder b = everyOpGraph();
  const std::string path = tempPath("plain.petrel");
  writeModelFile(b.graph, path, "test");
  EXPECT_EQ(fileVersion(path), kFormatVersionPlain);
  EXPECT_NO_THROW(readModelFile(path));
  // With one encoded tensor the file becomes version 2.
  encodeWeightMatrices(b.graph, {WeightStorage::kFloat16, 0, true});
  writeModelFile(b.graph, path, "test");
  EXPECT_EQ(fileVersion(path), kFormatVersionEncoded);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace petrel::test
