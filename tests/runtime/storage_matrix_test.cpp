// The storage x mode matrix: every weight storage in every memory and
// precision mode, on every op geometry, at 1 and 2 threads, through a whole
// Session. Each cell checks that
//  - planning picks an executor (no error) and it runs;
//  - the output matches a plain double-precision reference computed on the
//    *dequantized* weights, within a tolerance that depends only on the
//    precision mode (so the test checks the kernels, not quantisation error);
//  - the weights the session holds are what the memory mode promises: in
//    memory low exactly the stored (compressed) bytes and nothing expanded;
//    otherwise fp32 weights prepared at planning and no compressed copy kept.
// Plus the regression test for MNN's "Acquire buffer size = 0".
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "graph/weight_matrix.h"
#include "petrel/petrel.h"
#include "support/test_support.h"
#include "weights/decode.h"
#include "weights/quantize.h"

namespace petrel {
namespace {

// ------------------------------------------------------------ the cases

struct StorageCase {
  const char* name;
  WeightEncoding encoding;
};
const StorageCase kStorages[] = {
    {"fp32", {WeightStorage::kFloat32, 0, true}},     {"fp16", {WeightStorage::kFloat16, 0, true}},
    {"int8", {WeightStorage::kInt8, 0, true}},        {"int8_asym", {WeightStorage::kInt8, 0, false}},
    {"int4", {WeightStorage::kInt4, 32, true}},       {"int4_asym", {WeightStorage::kInt4, 16, false}},
};

enum class OpKind { kConv, kConvTranspose, kGemm, kMatMul };

struct GeometryCase {
  const char* name;
  OpKind op;
  // Conv / ConvTranspose: channels in/out, kernel, stride, pad, dilation, group.
  int64_t cin = 1, cout = 1, k = 1, stride = 1, pad = 0, dilation = 1, group = 1;
  // Gemm / MatMul: rows of X (per batch entry), K, N, batch.
  int64_t m = 0, depth = 0, n = 0, batch = 1;
};
// Odd channel counts and image sizes throughout.
const GeometryCase kGeometries[] = {
    {"conv1x1_s1", OpKind::kConv, 7, 13, 1, 1, 0},
    {"conv1x1_s2", OpKind::kConv, 7, 13, 1, 2, 0},
    {"conv3x3_s1", OpKind::kConv, 7, 13, 3, 1, 1},
    {"conv3x3_s2", OpKind::kConv, 7, 13, 3, 2, 1},
    {"conv3x3_s1_winograd", OpKind::kConv, 33, 35, 3, 1, 1},  // enough channels and tiles: Winograd in memory high
    {"conv5x5", OpKind::kConv, 5, 11, 5, 1, 2},
    {"conv7x7_s2", OpKind::kConv, 3, 9, 7, 2, 3},
    {"conv3x3_dilated", OpKind::kConv, 7, 13, 3, 1, 2, 2},
    {"depthwise3x3", OpKind::kConv, 13, 13, 3, 1, 1, 1, 13},
    {"grouped_g2", OpKind::kConv, 14, 10, 3, 1, 1, 1, 2},
    {"grouped_g4", OpKind::kConv, 12, 20, 3, 2, 1, 1, 4},
    {"grouped_g32", OpKind::kConv, 96, 64, 3, 1, 1, 1, 32},
    {"conv_transpose", OpKind::kConvTranspose, 6, 10, 3, 2, 1, 1, 2},
    {"gemm", OpKind::kGemm, 0, 0, 0, 0, 0, 0, 1, 5, 67, 37},
    {"batched_matmul", OpKind::kMatMul, 0, 0, 0, 0, 0, 0, 1, 9, 45, 21, 3},
};
constexpr int64_t kImageH = 11, kImageW = 9, kImages = 2;

// Tolerance on |got - want| / (sum |w x| + |bias|), by precision mode only.
double tolerance(PrecisionMode precision) {
  switch (precision) {
    case PrecisionMode::kHigh: return 1e-5;
    case PrecisionMode::kNormal: return 1e-4;
    case PrecisionMode::kLow: return 1e-2;
  }
  return 0;
}

// ------------------------------------------------------------ the model

struct Built {
  Graph graph;
  std::vector<float> input;
  Shape inputShape;
  std::vector<float> dequantized;  // the weights as the kernels see them, logical layout
  std::vector<float> bias;
  Shape weightShape;
  size_t storedWeightBytes = 0;  // the weight constant's bytes as stored
  EncodedLayout layout;          // of the encoded weight matrix (compressed storages)
  int64_t weightCount = 0;
};

size_t storedBytesOf(const WeightBytesByStorage& bytes, WeightStorage storage) {
  switch (storage) {
    case WeightStorage::kFloat32: return bytes.fp32;
    case WeightStorage::kFloat16: return bytes.fp16;
    case WeightStorage::kInt8: return bytes.int8;
    case WeightStorage::kInt4: return bytes.int4;
  }
  return 0;
}

Node makeNode(const GeometryCase& g) {
  Node node;
  node.name = g.name;
  switch (g.op) {
    case OpKind::kConv:
    case OpKind::kConvTranspose:
      node.op = g.op == OpKind::kConv ? "Conv" : "ConvTranspose";
      node.attributes["kernel_shape"] = std::vector<int64_t>{g.k, g.k};
      node.attributes["strides"] = std::vector<int64_t>{g.stride, g.stride};
      node.attributes["pads"] = std::vector<int64_t>{g.pad, g.pad, g.pad, g.pad};
      node.attributes["dilations"] = std::vector<int64_t>{g.dilation, g.dilation};
      node.attributes["group"] = g.group;
      break;
    case OpKind::kGemm:
      node.op = "Gemm";
      node.attributes["transB"] = int64_t{0};  // B [K][N]: stored transposed
      break;
    case OpKind::kMatMul:
      node.op = "MatMul";
      break;
  }
  return node;
}

Built build(const GeometryCase& g, const WeightEncoding& encoding) {
  Built b;
  Node node = makeNode(g);
  switch (g.op) {
    case OpKind::kConv:
      b.inputShape = {kImages, g.cin, kImageH, kImageW};
      b.weightShape = {g.cout, g.cin / g.group, g.k, g.k};
      b.bias.resize(g.cout);
      break;
    case OpKind::kConvTranspose:
      b.inputShape = {kImages, g.cin, kImageH, kImageW};
      b.weightShape = {g.cin, g.cout / g.group, g.k, g.k};
      b.bias.resize(g.cout);
      break;
    case OpKind::kGemm:
      b.inputShape = {g.m, g.depth};
      b.weightShape = {g.depth, g.n};
      b.bias.resize(g.n);
      break;
    case OpKind::kMatMul:
      b.inputShape = {g.batch, g.m, g.depth};
      b.weightShape = {g.depth, g.n};
      break;
  }
  b.input = test::randomFloats(static_cast<size_t>(shapeElements(b.inputShape)), 11);
  b.weightCount = shapeElements(b.weightShape);
  std::vector<float> weights = test::randomFloats(static_cast<size_t>(b.weightCount), 12);
  if (b.weightCount > 40) std::fill(weights.begin(), weights.begin() + 20, 0.0f);  // an all-zero stretch
  const std::vector<float> bias = test::randomFloats(b.bias.size(), 13);
  b.bias = bias;

  std::shared_ptr<ConstantData> weightConstant;
  if (encoding.storage == WeightStorage::kFloat32) {
    weightConstant = ConstantData::fromFloats(b.weightShape, weights);
    b.dequantized = weights;
  } else {
    const std::optional<WeightMatrix> matrix = weightMatrixOf(node, kWeightInput, b.weightShape);
    if (!matrix) throw Error("test: no weight matrix");
    const EncodedMatrix encoded = encodeWeights(toWeightMatrix(*matrix, weights.data()).data(), matrix->rows,
                                                matrix->depth, encoding, "W");
    weightConstant = ConstantData::fromEncoded(b.weightShape, encoded.layout, encoded.blob());
    b.layout = encoded.layout;
    b.dequantized = decodeWeightConstant(*weightConstant, node, kWeightInput, "W");
  }
  b.storedWeightBytes = weightConstant->byteSize;

  Graph& graph = b.graph;
  Value x;
  x.name = "x";
  x.shape = b.inputShape;
  node.inputs.push_back(graph.addValue(x));
  graph.inputs.push_back(node.inputs.back());
  Value w;
  w.name = "W";
  w.shape = b.weightShape;
  w.constant = weightConstant;
  node.inputs.push_back(graph.addValue(w));
  if (!b.bias.empty()) {
    Value bv;
    bv.name = "B";
    bv.shape = {static_cast<int64_t>(b.bias.size())};
    bv.constant = ConstantData::fromFloats(bv.shape, b.bias);
    node.inputs.push_back(graph.addValue(bv));
  }
  Value y;
  y.name = "y";
  node.outputs.push_back(graph.addValue(y));
  graph.outputs.push_back(node.outputs.back());
  graph.nodes.push_back(node);
  graph.validate();
  return b;
}

// ------------------------------------------------------------ references
// Each returns the output and, per element, sum |w x| + |bias| (the scale of
// the rounding error).

struct Reference {
  std::vector<double> out, magnitude;
};

Reference referenceOf(const GeometryCase& g, const Built& b) {
  Reference r;
  const std::vector<float>& x = b.input;
  const std::vector<float>& w = b.dequantized;
  if (g.op == OpKind::kConv) {
    const int64_t outH = (kImageH + 2 * g.pad - g.dilation * (g.k - 1) - 1) / g.stride + 1;
    const int64_t outW = (kImageW + 2 * g.pad - g.dilation * (g.k - 1) - 1) / g.stride + 1;
    const int64_t cinG = g.cin / g.group, coutG = g.cout / g.group;
    r.out.assign(kImages * g.cout * outH * outW, 0.0);
    r.magnitude = r.out;
    for (int64_t n = 0; n < kImages; ++n)
      for (int64_t co = 0; co < g.cout; ++co)
        for (int64_t oy = 0; oy < outH; ++oy)
          for (int64_t ox = 0; ox < outW; ++ox) {
            double sum = b.bias[co], mag = std::fabs(b.bias[co]);
            const int64_t grp = co / coutG;
            for (int64_t ci = 0; ci < cinG; ++ci)
              for (int64_t ky = 0; ky < g.k; ++ky)
                for (int64_t kx = 0; kx < g.k; ++kx) {
                  const int64_t iy = oy * g.stride - g.pad + ky * g.dilation;
                  const int64_t ix = ox * g.stride - g.pad + kx * g.dilation;
                  if (iy < 0 || iy >= kImageH || ix < 0 || ix >= kImageW) continue;
                  const double p = double(w[((co * cinG + ci) * g.k + ky) * g.k + kx]) *
                                   x[((n * g.cin + grp * cinG + ci) * kImageH + iy) * kImageW + ix];
                  sum += p, mag += std::fabs(p);
                }
            const size_t o = ((n * g.cout + co) * outH + oy) * outW + ox;
            r.out[o] = sum, r.magnitude[o] = mag;
          }
  } else if (g.op == OpKind::kConvTranspose) {
    const int64_t outH = (kImageH - 1) * g.stride + g.dilation * (g.k - 1) + 1 - 2 * g.pad;
    const int64_t outW = (kImageW - 1) * g.stride + g.dilation * (g.k - 1) + 1 - 2 * g.pad;
    const int64_t cinG = g.cin / g.group, coutG = g.cout / g.group;
    r.out.assign(kImages * g.cout * outH * outW, 0.0);
    r.magnitude = r.out;
    for (int64_t n = 0; n < kImages; ++n)
      for (int64_t co = 0; co < g.cout; ++co)
        for (int64_t i = 0; i < outH * outW; ++i) {
          r.out[(n * g.cout + co) * outH * outW + i] = b.bias[co];
          r.magnitude[(n * g.cout + co) * outH * outW + i] = std::fabs(b.bias[co]);
        }
    for (int64_t n = 0; n < kImages; ++n)
      for (int64_t ci = 0; ci < g.cin; ++ci)
        for (int64_t iy = 0; iy < kImageH; ++iy)
          for (int64_t ix = 0; ix < kImageW; ++ix)
            for (int64_t col = 0; col < coutG; ++col)
              for (int64_t ky = 0; ky < g.k; ++ky)
                for (int64_t kx = 0; kx < g.k; ++kx) {
                  const int64_t oy = iy * g.stride - g.pad + ky * g.dilation;
                  const int64_t ox = ix * g.stride - g.pad + kx * g.dilation;
                  if (oy < 0 || oy >= outH || ox < 0 || ox >= outW) continue;
                  const int64_t co = (ci / cinG) * coutG + col;
                  const double p = double(w[((ci * coutG + col) * g.k + ky) * g.k + kx]) *
                                   x[((n * g.cin + ci) * kImageH + iy) * kImageW + ix];
                  const size_t o = ((n * g.cout + co) * outH + oy) * outW + ox;
                  r.out[o] += p, r.magnitude[o] += std::fabs(p);
                }
  } else {
    const int64_t rows = g.batch * g.m;
    r.out.assign(rows * g.n, 0.0);
    r.magnitude = r.out;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double sum = b.bias.empty() ? 0.0 : b.bias[j], mag = std::fabs(sum);
        for (int64_t k = 0; k < g.depth; ++k) {
          const double p = double(x[i * g.depth + k]) * w[k * g.n + j];
          sum += p, mag += std::fabs(p);
        }
        r.out[i * g.n + j] = sum, r.magnitude[i * g.n + j] = mag;
      }
  }
  return r;
}

// ------------------------------------------------------------ the matrix

struct MatrixCell {
  const StorageCase* storage;
  const GeometryCase* geometry;
};

class StorageMatrix : public ::testing::TestWithParam<MatrixCell> {};

TEST_P(StorageMatrix, EveryModeAndThreadCountRunsCorrectlyWithinItsMemoryPromise) {
  const StorageCase& storage = *GetParam().storage;
  const GeometryCase& geometry = *GetParam().geometry;
  const Built built = build(geometry, storage.encoding);
  const Reference reference = referenceOf(geometry, built);
  const std::shared_ptr<const Model> model = Model::fromGraph(built.graph);
  const bool compressed = storage.encoding.storage != WeightStorage::kFloat32;
  const size_t biasBytes = built.bias.size() * sizeof(float);

  for (MemoryMode memory : {MemoryMode::kLow, MemoryMode::kNormal, MemoryMode::kHigh})
    for (PrecisionMode precision : {PrecisionMode::kHigh, PrecisionMode::kNormal, PrecisionMode::kLow})
      for (int threads : {1, 2}) {
        SCOPED_TRACE(std::string("memory ") + toString(memory) + ", precision " + toString(precision) + ", threads " +
                     std::to_string(threads));
        Session session(model, SessionConfig{threads, precision, memory});
        const std::vector<NodePlan> plan = session.plan();
        ASSERT_EQ(plan.size(), 1u);
        const std::string& kernel = plan[0].kernel;
        EXPECT_NE(kernel.find(std::string("[") + weightStorageName(storage.encoding.storage) + "]"),
                  std::string::npos)
            << "kernel " << kernel << " does not read " << storage.name << " weights";

        const std::map<std::string, Tensor> out =
            session.run({{"x", Tensor(built.inputShape, built.input)}});
        const std::vector<float>& y = out.at("y").data;
        ASSERT_EQ(y.size(), reference.out.size()) << kernel;
        int reported = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          const double error = std::fabs(y[i] - reference.out[i]);
          if (!(error <= tolerance(precision) * (reference.magnitude[i] + 1e-6)) && reported++ < 3)
            ADD_FAILURE() << kernel << ": element " << i << " is " << y[i] << ", reference " << reference.out[i];
        }

        // What the session holds of the weights. Biases are fp32 and may be
        // read in place or copied by the executor.
        const MemoryStats stats = session.memoryStats();
        const WeightBytesByStorage& stored = stats.storedWeightBytes;
        const size_t storedOfKind = storedBytesOf(stored, storage.encoding.storage);
        if (memory == MemoryMode::kLow) {
          EXPECT_EQ(stats.preparedWeightBytes, 0u) << kernel << " expanded weights in memory mode low";
          EXPECT_GE(storedOfKind, built.storedWeightBytes) << kernel;
          EXPECT_LE(stored.total(), built.storedWeightBytes + biasBytes) << kernel;
        } else if (compressed) {
          EXPECT_EQ(storedOfKind, 0u) << kernel << " kept the compressed weights besides the expanded ones";
          EXPECT_GE(stats.preparedWeightBytes, built.weightCount * sizeof(float)) << kernel;
        } else if (stats.preparedWeightBytes > 0) {  // fp32 packed once ...
          EXPECT_LE(stored.fp32, biasBytes) << kernel << " kept fp32 weights both stored and packed";
        } else {  // ... or read in place (depthwise)
          EXPECT_GE(stored.fp32, built.storedWeightBytes) << kernel;
        }
      }
}

// The promise of the stored forms in bytes: fp16 2 per weight, int8 1 and
// int4 1/2 (a row padded to whole blocks), plus per row (int8) or per block
// (int4) a 4-byte scale and, when asymmetric, a 1-byte zero point.
TEST_P(StorageMatrix, StoredBytesAreTheDocumentedSize) {
  const StorageCase& storage = *GetParam().storage;
  const Built built = build(*GetParam().geometry, storage.encoding);
  if (storage.encoding.storage == WeightStorage::kFloat32) {
    EXPECT_EQ(built.storedWeightBytes, built.weightCount * sizeof(float));
    return;
  }
  const EncodedLayout& l = built.layout;
  const double perWeight = l.storage == WeightStorage::kFloat16 ? 2.0 : l.storage == WeightStorage::kInt8 ? 1.0 : 0.5;
  const int64_t paddedDepth = l.storage == WeightStorage::kInt4 ? l.blocksPerRow() * l.blockLength() : l.depth;
  const int64_t scales = l.rows * l.blocksPerRow();
  const size_t expected = static_cast<size_t>(perWeight * l.rows * paddedDepth) + scales * 4 + (l.symmetric ? 0 : scales);
  EXPECT_EQ(built.storedWeightBytes, expected);
}

std::vector<MatrixCell> everyCell() {
  std::vector<MatrixCell> cells;
  for (const StorageCase& s : kStorages)
    for (const GeometryCase& g : kGeometries) cells.push_back({&s, &g});
  return cells;
}

INSTANTIATE_TEST_SUITE_P(Cells, StorageMatrix, ::testing::ValuesIn(everyCell()),
                         [](const ::testing::TestParamInfo<MatrixCell>& info) {
                           return std::string(info.param.storage->name) + "_" + info.param.geometry->name;
                         });

// ------------------------------------------------------------ regression
// MNN once sent fp16-stored weights to its int8 kernel in low-memory mode
// because "has quantisation metadata" was read as "is quantised"; the
// kernel then asked for a zero-size buffer: "Acquire buffer size = 0".
// Petrel: an fp16 model whose first conv is 1x1 stride 1, in memory low,
// runs on the fp16 stored-weights executor and matches fp32.
TEST(Regression, Fp16PointwiseFirstConvInLowMemoryModeAcquireBufferSizeZero) {
  const GeometryCase pointwise = kGeometries[0];
  ASSERT_STREQ(pointwise.name, "conv1x1_s1");
  const Built fp16 = build(pointwise, {WeightStorage::kFloat16, 0, true});
  const Built fp32 = build(pointwise, {WeightStorage::kFloat32, 0, true});
  Session lowFp16(Model::fromGraph(fp16.graph), SessionConfig{1, PrecisionMode::kNormal, MemoryMode::kLow});
  Session normalFp32(Model::fromGraph(fp32.graph), SessionConfig{1, PrecisionMode::kNormal, MemoryMode::kNormal});
  EXPECT_EQ(lowFp16.plan().at(0).kernel, "conv.pointwise.sgemm.stored[fp16]");
  const Tensor x(fp16.inputShape, fp16.input);
  const std::vector<float> got = lowFp16.run({{"x", x}}).at("y").data;
  const std::vector<float> want = normalFp32.run({{"x", x}}).at("y").data;
  ASSERT_EQ(got.size(), want.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) diff += (got[i] - want[i]) * (got[i] - want[i]), norm += want[i] * want[i];
  EXPECT_LT(std::sqrt(diff / norm), 1e-3);  // fp16 rounding of the weights only
  EXPECT_EQ(lowFp16.memoryStats().preparedWeightBytes, 0u);
  EXPECT_EQ(lowFp16.memoryStats().storedWeightBytes.fp16, fp16.storedWeightBytes);
}

}  // namespace
}  // namespace petrel
