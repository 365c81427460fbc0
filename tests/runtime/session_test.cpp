// Session behaviour on small hand-built graphs: static shape arithmetic,
// resize, aliasing, errors for bad inputs, and the allocator's refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "format/model_file.h"
#include "graph/graph.h"
#include "kernels/aligned_buffer.h"
#include "memory/allocator.h"
#include "petrel/petrel.h"

namespace petrel {
namespace {

struct GraphBuilder {
  Graph g;
  int input(const std::string& name, Shape shape) {
    Value v;
    v.name = name;
    v.shape = std::move(shape);
    const int id = g.addValue(v);
    g.inputs.push_back(id);
    return id;
  }
  int ints(const std::string& name, Shape shape, std::vector<int64_t> data) {
    Value v;
    v.name = name;
    v.dtype = DType::kInt64;
    v.constant = ConstantData::fromInt64s(std::move(shape), data);
    return g.addValue(v);
  }
  int floats(const std::string& name, Shape shape, std::vector<float> data) {
    Value v;
    v.name = name;
    v.constant = ConstantData::fromFloats(std::move(shape), data);
    return g.addValue(v);
  }
  int node(const std::string& op, std::vector<int> inputs, std::map<std::string, AttributeValue> attrs = {}) {
    Value out;
    out.name = op + "_out" + std::to_string(g.nodes.size());
    const int id = g.addValue(out);
    Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {id};
    n.attributes = std::move(attrs);
    g.nodes.push_back(n);
    return id;
  }
};

// y = Reshape(Relu(x + b), [Shape(x)[0], -1]): the reshape target depends on
// the batch size and is computed at planning from x's shape.
std::shared_ptr<const Model> batchDependentModel() {
  GraphBuilder b;
  const int x = b.input("x", {-1, 2, 3});
  const int bias = b.floats("bias", {3}, {1.0f, -1.0f, 0.5f});
  const int sum = b.node("Add", {x, bias});
  const int relu = b.node("Relu", {sum});
  const int shape = b.node("Shape", {x});
  const int batch = b.node("Gather", {shape, b.ints("zero", {}, {0})}, {{"axis", int64_t{0}}});
  const int batch1 = b.node("Unsqueeze", {batch, b.ints("axes", {1}, {0})});
  const int target = b.node("Concat", {batch1, b.ints("minus_one", {1}, {-1})}, {{"axis", int64_t{0}}});
  const int y = b.node("Reshape", {relu, target});
  b.g.outputs.push_back(y);
  b.g.values[y].name = "y";
  return Model::fromGraph(b.g);
}

std::vector<float> expected(const std::vector<float>& x) {
  const float bias[3] = {1.0f, -1.0f, 0.5f};
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = std::max(0.0f, x[i] + bias[i % 3]);
  return y;
}

TEST(Session, StaticShapeArithmeticFollowsResize) {
  auto model = batchDependentModel();
  for (int threads : {1, 2}) {
    Session session(model, {threads});
    std::vector<float> data(6);
    for (int i = 0; i < 6; ++i) data[i] = static_cast<float>(i) - 2.5f;
    auto out = session.run({{"x", Tensor({1, 2, 3}, data)}});
    EXPECT_EQ(out.at("y").shape, (std::vector<int64_t>{1, 6}));
    EXPECT_EQ(out.at("y").data, expected(data));

    session.resize({{"x", {3, 2, 3}}});
    std::vector<float> data3(18);
    for (int i = 0; i < 18; ++i) data3[i] = static_cast<float>(i % 7) - 3.0f;
    out = session.run({{"x", Tensor({3, 2, 3}, data3)}});
    EXPECT_EQ(out.at("y").shape, (std::vector<int64_t>{3, 6}));
    EXPECT_EQ(out.at("y").data, expected(data3));
  }
}

TEST(Session, PlanNamesKernelsAndStaticNodes) {
  Session session(batchDependentModel());
  const auto plan = session.plan();
  ASSERT_EQ(plan.size(), 7u);
  EXPECT_EQ(plan[2].kernel, "static");  // Shape
  EXPECT_EQ(plan[3].kernel, "static");  // Gather on the shape
  EXPECT_EQ(plan[6].kernel, "alias");   // Reshape
  EXPECT_GT(session.memoryStats().arenaBytes, 0u);
}

// The benchmarks' FLOP count: each node's multiply-adds of one run, as the
// operation defines them, following the batch size.
TEST(Session, PlanCountsMultiplyAddsPerRun) {
  GraphBuilder b;
  const int x = b.input("x", {-1, 3, 8, 8});
  const int w = b.floats("w", {4, 3, 3, 3}, std::vector<float>(4 * 3 * 9, 0.1f));
  const int conv = b.node("Conv", {x, w},
                          {{"strides", std::vector<int64_t>{2, 2}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  const int relu = b.node("Relu", {conv});
  const int flat = b.node("Flatten", {relu});
  const int gemm = b.node("Gemm", {flat, b.floats("g", {64, 10}, std::vector<float>(640, 0.01f))});
  const int matmul = b.node("MatMul", {gemm, b.floats("m", {10, 5}, std::vector<float>(50, 0.5f))});
  const int wt = b.floats("wt", {4, 2, 3, 3}, std::vector<float>(4 * 2 * 9, 0.2f));  // ConvTranspose: [C, M, kH, kW]
  const int up = b.node("ConvTranspose", {conv, wt}, {{"strides", std::vector<int64_t>{2, 2}}});
  b.g.outputs = {matmul, up};
  b.g.values[matmul].name = "y";
  b.g.values[up].name = "u";
  Session session(Model::fromGraph(b.g));
  for (int64_t batch : {1, 2}) {
    session.resize({{"x", {batch, 3, 8, 8}}});
    const auto plan = session.plan();
    ASSERT_EQ(plan.size(), 6u);
    EXPECT_EQ(plan[0].multiplyAdds, batch * (4 * 4 * 4) * (3 * 3 * 3));  // outputs x taps
    EXPECT_EQ(plan[1].multiplyAdds, 0);                                  // Relu
    EXPECT_EQ(plan[2].multiplyAdds, 0);                                  // Flatten
    EXPECT_EQ(plan[3].multiplyAdds, batch * 10 * 64);
    EXPECT_EQ(plan[4].multiplyAdds, batch * 5 * 10);
    EXPECT_EQ(plan[5].multiplyAdds, batch * (4 * 4 * 4) * (2 * 3 * 3));  // inputs x taps
  }
}

TEST(Session, BadInputsAreNamedErrors) {
  Session session(batchDependentModel());
  auto message = [&](const std::map<std::string, Tensor>& inputs) -> std::string {
    try {
      session.run(inputs);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message({{"x", Tensor({1, 2, 4})}}).find("shape [1, 2, 4], expected [1, 2, 3]"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor({1, 2, 3})}, {"z", Tensor({1})}}).find("unknown input 'z'"), std::string::npos);
  EXPECT_NE(message({}).find("input 'x' is missing"), std::string::npos);
  EXPECT_THROW(session.resize({{"x", {2, 5, 3}}}), Error);  // dimension fixed by the model
  EXPECT_THROW(session.resize({{"nope", {2, 2, 3}}}), Error);
}

TEST(Session, UnknownOperatorIsNamed) {
  GraphBuilder b;
  const int x = b.input("x", {1});
  const int y = b.node("NoSuchOp", {x});
  b.g.outputs.push_back(y);
  try {
    Session session(Model::fromGraph(b.g));
    FAIL() << "planned an unknown op";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NoSuchOp"), std::string::npos) << e.what();
  }
}

// A packed constant's model-file pages are dropped after planning; the
// numbers stay right, also for a second session planned afterwards (the pages
// come back from the file).
TEST(Session, PackedWeightsDoNotStayResidentTwice) {
  const int64_t k = 256, n = 512;
  std::vector<float> w(k * n);
  for (int64_t i = 0; i < k * n; ++i) w[i] = static_cast<float>((i * 7) % 13) - 6.0f;
  GraphBuilder b;
  const int x = b.input("x", {2, k});
  const int y = b.node("MatMul", {x, b.floats("w", {k, n}, w)});
  b.g.outputs.push_back(y);
  b.g.values[y].name = "y";
  const std::string path = (std::filesystem::temp_directory_path() / "petrel_release_test.petrel").string();
  writeModelFile(b.g, path, "test");
  auto model = Model::load(path);

  std::vector<float> input(2 * k);
  for (int64_t i = 0; i < 2 * k; ++i) input[i] = static_cast<float>(i % 5) - 2.0f;
  std::vector<float> expected(2 * n, 0.0f);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t j = 0; j < k; ++j) expected[r * n + c] += input[r * k + j] * w[j * n + c];

  for (int round = 0; round < 2; ++round) {
    Session session(model);
    EXPECT_GE(session.memoryStats().releasedWeightBytes, static_cast<size_t>(k * n * 4) - 8192);
    EXPECT_EQ(session.run({{"x", Tensor({2, k}, input)}}).at("y").data, expected) << "round " << round;
  }
  std::filesystem::remove(path);
}

// An elementwise step writes its output over an input that dies there, but
// never over one still read later. d = (relu(x) + sigmoid(x)) * relu(x):
// Add may overwrite sigmoid(x) but not relu(x) (Mul reads it), Mul may
// overwrite the sum; so two tensors of arena instead of three.
TEST(Session, ElementwiseStepsWriteOverInputsThatDieThere) {
  GraphBuilder b;
  const int64_t n = 1000;
  const int x = b.input("x", {n});
  const int a = b.node("Relu", {x});
  const int s = b.node("Sigmoid", {x});
  const int c = b.node("Add", {a, s});
  const int d = b.node("Mul", {c, a});
  b.g.outputs.push_back(d);
  b.g.values[d].name = "d";
  Session session(Model::fromGraph(b.g));
  const size_t tensorBytes = n * sizeof(float);
  EXPECT_GE(session.memoryStats().arenaBytes, 2 * tensorBytes);
  EXPECT_LT(session.memoryStats().arenaBytes, 3 * tensorBytes);  // buffers are 64-byte aligned
  std::vector<float> input(n);
  for (int64_t i = 0; i < n; ++i) input[i] = static_cast<float>(i - n / 2) / 100.0f;
  const std::vector<float> out = session.run({{"x", Tensor({n}, input)}}).at("d").data;
  for (int64_t i = 0; i < n; ++i) {
    const float relu = std::max(0.0f, input[i]), sigmoid = 1.0f / (1.0f + std::exp(-input[i]));
    ASSERT_NEAR(out[i], (relu + sigmoid) * relu, 1e-5f * (1.0f + std::fabs((relu + sigmoid) * relu))) << i;
  }
}

// d = Concat(relu(x), sigmoid(x)) along channels; g = sigmoid(d); f = relu(x)^2.
// At batch 1 the parts are written straight into d and the Concat does
// nothing; sigmoid(d) must not write over d's buffer, as relu(x) is read later.
// At batch 2 the parts are not contiguous in d, and the Concat copies.
TEST(Session, ConcatPartsAreWrittenInPlaceWhenContiguous) {
  for (int64_t batch : {1, 2}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    GraphBuilder b;
    const int x = b.input("x", {batch, 2, 3, 5});
    const int a = b.node("Relu", {x});
    const int s = b.node("Sigmoid", {x});
    const int d = b.node("Concat", {a, s}, {{"axis", int64_t{1}}});
    const int g = b.node("Sigmoid", {d});
    const int f = b.node("Mul", {a, a});
    b.g.outputs = {g, f};
    b.g.values[g].name = "g";
    b.g.values[f].name = "f";
    Session session(Model::fromGraph(b.g));
    const auto plan = session.plan();
    if (batch == 1)
      EXPECT_EQ(plan[2].kernel, "concat.in_place");
    else
      EXPECT_NE(plan[2].kernel, "concat.in_place");

    const int64_t plane = 2 * 3 * 5;
    std::vector<float> input(batch * plane);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(static_cast<int64_t>(i % 11) - 5) / 2.0f;
    const auto out = session.run({{"x", Tensor({batch, 2, 3, 5}, input)}});
    const std::vector<float>& gv = out.at("g").data;
    const std::vector<float>& fv = out.at("f").data;
    ASSERT_EQ(gv.size(), static_cast<size_t>(2 * batch * plane));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t i = 0; i < plane; ++i) {
        const float v = input[n * plane + i];
        auto sigmoid = [](float t) { return 1.0f / (1.0f + std::exp(-t)); };
        const float relu = std::max(0.0f, v);
        EXPECT_NEAR(gv[n * 2 * plane + i], sigmoid(relu), 1e-6f) << n << "," << i;
        EXPECT_NEAR(gv[n * 2 * plane + plane + i], sigmoid(sigmoid(v)), 1e-6f) << n << "," << i;
        EXPECT_EQ(fv[n * plane + i], relu * relu) << n << "," << i;
      }
  }
}

// A value that is a part of two Concats can be written in place into one of
// them only; the other copies.
TEST(Session, AValueConcatenatedTwiceIsWrittenInPlaceOnce) {
  GraphBuilder b;
  const int x = b.input("x", {1, 2, 4});
  const int a = b.node("Relu", {x});
  const int s = b.node("Sigmoid", {x});
  const int n = b.node("Neg", {x});
  const int d = b.node("Concat", {a, s}, {{"axis", int64_t{1}}});
  const int e = b.node("Concat", {a, n}, {{"axis", int64_t{1}}});
  b.g.outputs = {d, e};
  b.g.values[d].name = "d";
  b.g.values[e].name = "e";
  Session session(Model::fromGraph(b.g));
  const auto plan = session.plan();
  EXPECT_EQ(plan[3].kernel, "concat.in_place");
  EXPECT_NE(plan[4].kernel, "concat.in_place");
  const std::vector<float> input = {-1, 2, -3, 4, 5, -6, 7, -8};
  const auto out = session.run({{"x", Tensor({1, 2, 4}, input)}});
  for (int i = 0; i < 8; ++i) {
    const float relu = std::max(0.0f, input[i]);
    EXPECT_EQ(out.at("d").data[i], relu) << i;
    EXPECT_NEAR(out.at("d").data[8 + i], 1.0f / (1.0f + std::exp(-input[i])), 1e-6f) << i;
    EXPECT_EQ(out.at("e").data[i], relu) << i;
    EXPECT_EQ(out.at("e").data[8 + i], -input[i]) << i;
  }
}

// A part that is also a graph output keeps its own buffer.
TEST(Session, ConcatPartThatIsAGraphOutputIsNotWrittenInPlace) {
  GraphBuilder b;
  const int x = b.input("x", {1, 2, 4});
  const int a = b.node("Relu", {x});
  const int s = b.node("Sigmoid", {x});
  const int d = b.node("Concat", {a, s}, {{"axis", int64_t{1}}});
  b.g.outputs = {d, a};
  b.g.values[d].name = "d";
  b.g.values[a].name = "a";
  Session session(Model::fromGraph(b.g));
  EXPECT_NE(session.plan()[2].kernel, "concat.in_place");
  const std::vector<float> input = {-1, 2, -3, 4, 5, -6, 7, -8};
  const auto out = session.run({{"x", Tensor({1, 2, 4}, input)}});
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(out.at("a").data[i], std::max(0.0f, input[i]));
    EXPECT_EQ(out.at("d").data[i], std::max(0.0f, input[i]));
  }
}

TEST(Allocator, RefusesImpossibleSizesNamingTheOwner) {
  for (int64_t bytes : {int64_t{0}, int64_t{-8}, int64_t{1} << 50}) {
    try {
      allocateBuffer(bytes, "Conv 'conv1'", "packed weights");
      FAIL() << "allocated " << bytes << " bytes";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("Conv 'conv1'"), std::string::npos) << what;
      EXPECT_NE(what.find("packed weights"), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(bytes)), std::string::npos) << what;
    }
  }
  EXPECT_THROW(checkedBytes(int64_t{1} << 62, 8, "x", "y"), Error);
  EXPECT_NE(allocateBuffer(1, "x", "y"), nullptr);
}

// Cache-line aligned, and a block of 2 MiB or more aligned to a huge page;
// every byte asked for is usable.
TEST(Allocator, AlignsToCacheLinesAndLargeBlocksToHugePages) {
  const int64_t huge = static_cast<int64_t>(kHugePageBytes);
  for (int64_t bytes : {int64_t{1}, int64_t{100}, huge - 1, huge, 3 * huge / 2 + 1}) {
    SCOPED_TRACE(bytes);
    AlignedBuffer buffer = allocateBuffer(bytes, "test", "buffer");
    const auto address = reinterpret_cast<uintptr_t>(buffer.get());
    EXPECT_EQ(address % 64, 0u);
    if (bytes >= huge) {
      EXPECT_EQ(address % kHugePageBytes, 0u);
    }
    std::memset(buffer.get(), 0xab, static_cast<size_t>(bytes));
    EXPECT_EQ(buffer.get()[bytes - 1], 0xab);
  }
}

}  // namespace
}  // namespace petrel
