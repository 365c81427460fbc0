// ONNX import: opset normalisation, constants, data types, no-op removal,
// shape-chain folding and the errors for bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "converter/onnx_import.h"
#include "converter/onnx_tensors.h"
#include "graph_inspect.h"
#include "onnx_builder.h"
#include "petrel/error.h"

namespace petrel::test {
namespace {

using onnx::TensorProto;

// Expects importOnnx to throw an Error whose message contains every fragment.
template <typename Source>
void expectImportError(const Source& source, const std::vector<std::string>& fragments) {
  try {
    importOnnx(source);
    ADD_FAILURE() << "import succeeded, expected an error containing '" << fragments.at(0) << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "message: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "message is not one line: " << message;
  }
}

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("petrel_converter_test_" + name)).string();
}

// ---------------------------------------------------------------------------
// Opset normalisation

TEST(OnnxImport, Opset11UnsqueezeAxesAttributeBecomesInput) {
  OnnxBuilder b(11);
  b.input("x", {2, 3});
  setInts(b.node("Unsqueeze", {"x"}, {"y"}, "unsq"), "axes", {0, 3});
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Unsqueeze"});
  const Node& n = g.nodes[0];
  EXPECT_FALSE(n.has("axes"));
  ASSERT_EQ(n.inputs.size(), 2u);
  EXPECT_EQ(g.values[n.inputs[0]].name, "x");
  EXPECT_EQ(constInts(g, n.inputs[1]), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 2, 3, 1}));
  EXPECT_EQ(report.onnxNodes, 1);
  EXPECT_EQ(report.petrelNodes, 1);
  EXPECT_EQ(report.opCounts.at("Unsqueeze"), 1);
}

TEST(OnnxImport, Opset13UnsqueezeKeepsItsAxesInput) {
  OnnxBuilder b(13);
  b.input("x", {2, 3});
  b.initializerInt64("axes", {1}, {1});
  b.node("Unsqueeze", {"x", "axes"}, {"y"});
  b.output("y");
  Graph g = importOnnx(b.model);
  const Node& n = onlyNode(g, "Unsqueeze");
  EXPECT_EQ(constInts(g, n.inputs.at(1)), (std::vector<int64_t>{1}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{2, 1, 3}));
}

TEST(OnnxImport, Opset12SqueezeAndOpset11SplitAttributesBecomeInputs) {
  OnnxBuilder b(11);
  b.input("x", {1, 6, 1});
  setInts(b.node("Squeeze", {"x"}, {"s"}, "sq"), "axes", {0, 2});
  auto& split = b.node("Split", {"s"}, {"a", "b"}, "split");
  setInt(split, "axis", 0);
  setInts(split, "split", {2, 4});
  b.output("a");
  b.output("b");
  Graph g = importOnnx(b.model);
  const Node& sq = onlyNode(g, "Squeeze");
  EXPECT_EQ(constInts(g, sq.inputs.at(1)), (std::vector<int64_t>{0, 2}));
  const Node& sp = onlyNode(g, "Split");
  EXPECT_FALSE(sp.has("split"));
  EXPECT_EQ(sp.getInt("axis", -1), 0);
  EXPECT_EQ(constInts(g, sp.inputs.at(1)), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(g.values[g.outputs[1]].shape, (Shape{4}));
}

TEST(OnnxImport, Opset11SoftmaxOnLastAxisStaysOneNode) {
  OnnxBuilder b(11);
  b.input("x", {2, 4, 5});
  setInt(b.node("Softmax", {"x"}, {"y"}), "axis", 2);
  b.output("y");
  Graph g = importOnnx(b.model);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Softmax"});
  EXPECT_EQ(g.nodes[0].getInt("axis", 0), -1);
}

TEST(OnnxImport, Opset11SoftmaxOnInnerAxisIsCoercedTo2D) {
  for (int64_t batch : {int64_t{-1}, int64_t{2}}) {
    OnnxBuilder b(11);
    b.input("x", {batch, 4, 5});
    b.node("Softmax", {"x"}, {"y"}, "sm");  // default axis 1: normalise over 4*5 values
    b.output("y");
    Graph g = importOnnx(b.model);
    if (batch < 0) {
      // The target shape comes from Shape(x), evaluated at planning.
      EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Flatten", "Softmax", "Shape", "Reshape"}));
    } else {
      ASSERT_EQ(opsOf(g), (std::vector<std::string>{"Flatten", "Softmax", "Reshape"}));
      EXPECT_EQ(constInts(g, g.nodes[2].inputs.at(1)), (std::vector<int64_t>{2, 4, 5}));
    }
    EXPECT_EQ(onlyNode(g, "Flatten").getInt("axis", 0), 1);
    EXPECT_EQ(onlyNode(g, "Softmax").getInt("axis", 0), -1);
    EXPECT_EQ(outputName(g, 0), "y");
  }
}

TEST(OnnxImport, Opset11SoftmaxWithUnknownRank) {
  for (int64_t axis : {int64_t{-1}, int64_t{2}}) {
    OnnxBuilder b(11);
    auto* x = b.graph().add_input();  // no shape: the rank is unknown
    x->set_name("x");
    x->mutable_type()->mutable_tensor_type()->set_elem_type(TensorProto::FLOAT);
    setInt(b.node("Softmax", {"x"}, {"y"}), "axis", axis);
    b.output("y");
    Graph g = importOnnx(b.model);
    if (axis == -1) {
      EXPECT_EQ(opsOf(g), std::vector<std::string>{"Softmax"});
    } else {
      // Correct for any rank: Flatten at the axis, normalise rows, restore the shape.
      EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Flatten", "Softmax", "Shape", "Reshape"}));
      EXPECT_EQ(onlyNode(g, "Flatten").getInt("axis", 0), 2);
    }
    EXPECT_EQ(onlyNode(g, "Softmax").getInt("axis", 0), -1);
    EXPECT_EQ(outputName(g, 0), "y");
  }
}

// ---------------------------------------------------------------------------
// Constants and data types

TEST(OnnxImport, ConstantNodesBecomeConstants) {
  OnnxBuilder b(13);
  b.input("x", {3, 2});
  setTensor(b.node("Constant", {}, {"c_tensor"}), "value", OnnxBuilder::floatTensor("", {2}, {1.5f, -2.0f}));
  setFloat(b.node("Constant", {}, {"c_float"}), "value_float", 3.0f);
  setInts(b.node("Constant", {}, {"c_ints"}), "value_ints", {1, 3, 2});
  setInt(b.node("Constant", {}, {"c_int"}), "value_int", 1);
  setFloats(b.node("Constant", {}, {"c_floats"}), "value_floats", {0.25f, 0.5f});
  b.node("Add", {"x", "c_tensor"}, {"y"});
  b.node("Mul", {"y", "c_float"}, {"z"});
  b.node("Sub", {"z", "c_floats"}, {"w"});
  b.node("Reshape", {"w", "c_ints"}, {"r"});
  auto& gather = b.node("Gather", {"w", "c_int"}, {"g"});
  setInt(gather, "axis", 0);
  b.output("r");
  b.output("g");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  EXPECT_EQ(report.onnxNodes, 10);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Add", "Mul", "Sub", "Reshape", "Gather"}));
  EXPECT_EQ(constFloats(g, onlyNode(g, "Add").inputs[1]), (std::vector<float>{1.5f, -2.0f}));
  const Value& scalar = g.values[onlyNode(g, "Mul").inputs[1]];
  EXPECT_EQ(scalar.shape, Shape{});
  EXPECT_EQ(constFloats(g, onlyNode(g, "Mul").inputs[1]), (std::vector<float>{3.0f}));
  EXPECT_EQ(constFloats(g, onlyNode(g, "Sub").inputs[1]), (std::vector<float>{0.25f, 0.5f}));
  EXPECT_EQ(constInts(g, onlyNode(g, "Reshape").inputs[1]), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(g.values[onlyNode(g, "Reshape").inputs[1]].dtype, DType::kInt64);
  EXPECT_EQ(constInts(g, onlyNode(g, "Gather").inputs[1]), (std::vector<int64_t>{1}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{1, 3, 2}));
  EXPECT_EQ(g.values[g.outputs[1]].shape, (Shape{2}));
}

TEST(OnnxImport, Int32InitializersBecomeInt64InBothEncodings) {
  OnnxBuilder b(13);
  b.input("x", {2, 5});
  TensorProto typed;
  typed.set_name("idx_typed");
  typed.set_data_type(TensorProto::INT32);
  typed.add_dims(3);
  for (int v : {4, 0, -1}) typed.add_int32_data(v);
  b.initializerTensor(typed);
  TensorProto raw;
  raw.set_name("idx_raw");
  raw.set_data_type(TensorProto::INT32);
  raw.add_dims(2);
  const int32_t rawValues[2] = {3, -2};
  raw.set_raw_data(std::string(reinterpret_cast<const char*>(rawValues), sizeof(rawValues)));
  b.initializerTensor(raw);
  setInt(b.node("Gather", {"x", "idx_typed"}, {"a"}, "ga"), "axis", 1);
  setInt(b.node("Gather", {"x", "idx_raw"}, {"b"}, "gb"), "axis", 1);
  b.output("a");
  b.output("b");
  Graph g = importOnnx(b.model);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.values[g.nodes[0].inputs[1]].dtype, DType::kInt64);
  EXPECT_EQ(constInts(g, g.nodes[0].inputs[1]), (std::vector<int64_t>{4, 0, -1}));
  EXPECT_EQ(constInts(g, g.nodes[1].inputs[1]), (std::vector<int64_t>{3, -2}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{2, 3}));
}

TEST(OnnxTensors, ConvertsEveryHandledElementType) {
  {
    TensorProto t;
    t.set_data_type(TensorProto::BOOL);
    t.add_dims(4);
    for (int v : {0, 1, 2, 0}) t.add_int32_data(v);
    auto c = tensorToConstant(t, "t");
    ASSERT_EQ(c->storage, Storage::kInt64);
    EXPECT_EQ(std::vector<int64_t>(c->int64s(), c->int64s() + 4), (std::vector<int64_t>{0, 1, 1, 0}));
  }
  {
    TensorProto t;
    t.set_data_type(TensorProto::BOOL);
    t.add_dims(3);
    t.set_raw_data(std::string("\x01\x00\x05", 3));
    auto c = tensorToConstant(t, "t");
    EXPECT_EQ(std::vector<int64_t>(c->int64s(), c->int64s() + 3), (std::vector<int64_t>{1, 0, 1}));
  }
  {
    TensorProto t;
    t.set_data_type(TensorProto::DOUBLE);
    t.add_dims(2);
    t.add_double_data(0.5);
    t.add_double_data(-1e10);
    auto c = tensorToConstant(t, "t");
    ASSERT_EQ(c->storage, Storage::kFloat32);
    EXPECT_EQ(std::vector<float>(c->floats(), c->floats() + 2), (std::vector<float>{0.5f, -1e10f}));
  }
  {
    TensorProto t;
    t.set_data_type(TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(2);
    const float values[4] = {1, -2, 3.5f, 0};
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
    auto c = tensorToConstant(t, "t");
    EXPECT_EQ(c->shape, (Shape{2, 2}));
    EXPECT_EQ(std::vector<float>(c->floats(), c->floats() + 4), (std::vector<float>{1, -2, 3.5f, 0}));
  }
  {
    TensorProto t;
    t.set_data_type(TensorProto::INT64);
    const int64_t values[2] = {int64_t{1} << 40, -7};
    t.add_dims(2);
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
    auto c = tensorToConstant(t, "t");
    EXPECT_EQ(std::vector<int64_t>(c->int64s(), c->int64s() + 2), (std::vector<int64_t>{int64_t{1} << 40, -7}));
  }
  {
    TensorProto t;  // a scalar uint8 in raw form
    t.set_data_type(TensorProto::UINT8);
    t.set_raw_data(std::string("\xff", 1));
    auto c = tensorToConstant(t, "t");
    EXPECT_EQ(c->shape, Shape{});
    EXPECT_EQ(c->int64s()[0], 255);
  }
}

TEST(OnnxTensors, RejectsBadTensors) {
  TensorProto t;
  t.set_data_type(TensorProto::FLOAT);
  t.add_dims(3);
  t.add_float_data(1.0f);  // 1 value for 3 elements
  EXPECT_THROW(tensorToConstant(t, "t"), Error);
  t.clear_float_data();
  t.set_raw_data(std::string(8, '\0'));  // 8 bytes for 12
  EXPECT_THROW(tensorToConstant(t, "t"), Error);
  TensorProto half;
  half.set_data_type(TensorProto::FLOAT16);
  half.add_dims(1);
  half.add_int32_data(0);
  EXPECT_THROW(tensorToConstant(half, "t"), Error);
  TensorProto str;
  str.set_data_type(TensorProto::STRING);
  EXPECT_THROW(tensorToConstant(str, "t"), Error);
}

TEST(OnnxImport, ConstantOfShapeTensorAttributeBecomesScalar) {
  for (bool integer : {false, true}) {
    OnnxBuilder b(13);
    b.input("x", {-1, 3});
    b.node("Shape", {"x"}, {"s"});
    auto& cos = b.node("ConstantOfShape", {"s"}, {"y"}, "cos");
    if (integer)
      setTensor(cos, "value", OnnxBuilder::int64Tensor("", {1}, {7}));
    else
      setTensor(cos, "value", OnnxBuilder::floatTensor("", {1}, {0.5f}));
    b.output("y", integer ? TensorProto::INT64 : TensorProto::FLOAT);
    Graph g = importOnnx(b.model);
    const Node& n = onlyNode(g, "ConstantOfShape");
    if (integer)
      EXPECT_EQ(n.getInt("value", 0), 7);
    else
      EXPECT_EQ(n.getFloat("value", 0), 0.5f);
    EXPECT_EQ(g.values[g.outputs[0]].dtype, integer ? DType::kInt64 : DType::kFloat32);
  }
}

TEST(OnnxImport, GraphInputsThatAreInitializersAreConstants) {
  OnnxBuilder b(13);
  b.input("x", {2});
  b.input("bias", {2});  // old exporters list weights as inputs too
  b.initializer("bias", {2}, {1.0f, 2.0f});
  b.node("Add", {"x", "bias"}, {"y"});
  b.output("y");
  Graph g = importOnnx(b.model);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].name, "x");
  EXPECT_EQ(constFloats(g, onlyNode(g, "Add").inputs[1]), (std::vector<float>{1.0f, 2.0f}));
}

TEST(OnnxImport, DynamicInputDimensionIsMinusOne) {
  OnnxBuilder b(13);
  b.input("x", {-1, 3, 8});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  Graph g = importOnnx(b.model);
  EXPECT_EQ(g.values[g.inputs[0]].shape, (Shape{-1, 3, 8}));
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{-1, 3, 8}));
  EXPECT_EQ(g.values[g.outputs[0]].dtype, DType::kFloat32);
}

// ---------------------------------------------------------------------------
// No-op removal

TEST(OnnxImport, IdentityFeedingTheGraphOutputKeepsTheOutputName) {
  OnnxBuilder b(13);
  b.input("x", {4});
  b.node("Sigmoid", {"x"}, {"s"});
  b.node("Identity", {"s"}, {"i1"});
  b.node("Identity", {"i1"}, {"y"});
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Sigmoid"});
  EXPECT_EQ(outputName(g, 0), "y");
  EXPECT_EQ(g.nodes[0].outputs[0], g.outputs[0]);
  EXPECT_EQ(report.removedNoOps, 2);
}

TEST(OnnxImport, IdentityDropoutAndNoOpCastInsideTheGraphAreRemoved) {
  OnnxBuilder b(13);
  b.input("x", {4});
  b.initializer("w", {4}, {1, 2, 3, 4});
  b.node("Identity", {"x"}, {"a"});
  b.node("Dropout", {"a"}, {"d", ""});
  setInt(b.node("Cast", {"d"}, {"c"}), "to", TensorProto::FLOAT);
  b.node("Identity", {"w"}, {"w2"});  // torch shares weights through Identity
  b.node("Mul", {"c", "w2"}, {"y"});
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Mul"});
  EXPECT_EQ(g.values[g.nodes[0].inputs[0]].name, "x");
  EXPECT_EQ(constFloats(g, g.nodes[0].inputs[1]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(report.removedNoOps, 4);
}

TEST(OnnxImport, IdentityOfAConstantGraphOutputBecomesTheConstant) {
  OnnxBuilder b(13);
  b.input("x", {2});
  b.initializer("w", {2}, {5, 6});
  b.node("Identity", {"w"}, {"y"});
  b.node("Relu", {"x"}, {"z"});
  b.output("y");
  b.output("z");
  Graph g = importOnnx(b.model);
  EXPECT_EQ(opsOf(g), std::vector<std::string>{"Relu"});
  EXPECT_EQ(outputName(g, 0), "y");
  EXPECT_EQ(constFloats(g, g.outputs[0]), (std::vector<float>{5, 6}));
}

TEST(OnnxImport, IdentityFromInputToOutputIsKept) {
  OnnxBuilder b(13);
  b.input("x", {2});
  b.node("Identity", {"x"}, {"y"});
  b.output("y");
  Graph g = importOnnx(b.model);
  EXPECT_EQ(opsOf(g), std::vector<std::string>{"Identity"});
  EXPECT_EQ(outputName(g, 0), "y");
}

// ---------------------------------------------------------------------------
// Constant folding of shape chains

// x -> Shape -> Gather(0) -> Unsqueeze -> Concat(.., [-1]) -> Reshape(x, ..)
OnnxBuilder flattenByShapeChain(int64_t batch) {
  OnnxBuilder b(13);
  b.input("x", {batch, 3, 4, 5});
  b.initializerInt64("zero", {}, {0});
  b.initializerInt64("axes0", {1}, {0});
  b.initializerInt64("minus1", {1}, {-1});
  b.node("Shape", {"x"}, {"s"});
  setInt(b.node("Gather", {"s", "zero"}, {"n"}), "axis", 0);
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  setInt(b.node("Concat", {"n1", "minus1"}, {"target"}), "axis", 0);
  b.node("Reshape", {"x", "target"}, {"y"});
  b.output("y");
  return b;
}

TEST(OnnxImport, ShapeChainFoldsWithFixedShapes) {
  ConvertReport report;
  Graph g = importOnnx(flattenByShapeChain(2).model, {}, &report);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Reshape"});
  EXPECT_EQ(constInts(g, g.nodes[0].inputs[1]), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(report.foldedConstants, 4);
  // The chain's initializers are gone from the graph.
  EXPECT_EQ(g.findValue("zero"), -1);
  EXPECT_EQ(g.findValue("minus1"), -1);
}

TEST(OnnxImport, ShapeChainStaysWithDynamicBatch) {
  ConvertReport report;
  Graph g = importOnnx(flattenByShapeChain(-1).model, {}, &report);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}));
  EXPECT_EQ(report.foldedConstants, 0);
  EXPECT_EQ(g.values[onlyNode(g, "Concat").outputs[0]].dtype, DType::kInt64);
}

TEST(OnnxImport, KnownDimsOfADynamicShapeAreFolded) {
  // target = Concat(Unsqueeze(Gather(Shape(x), 0)), Unsqueeze(Gather(Shape(x), 1)), Gather(Shape(x), [2, 3]))
  OnnxBuilder b(13);
  b.input("x", {-1, 3, 4, 5});
  b.initializerInt64("i0", {}, {0});
  b.initializerInt64("i1", {}, {-3});
  b.initializerInt64("i23", {2}, {2, 3});
  b.initializerInt64("axes0", {1}, {0});
  b.node("Shape", {"x"}, {"s"});
  b.node("Gather", {"s", "i0"}, {"n"});
  b.node("Gather", {"s", "i1"}, {"c"});
  b.node("Gather", {"s", "i23"}, {"hw"});
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  b.node("Unsqueeze", {"c", "axes0"}, {"c1"});
  setInt(b.node("Concat", {"n1", "c1", "hw"}, {"target"}), "axis", 0);
  b.node("Reshape", {"x", "target"}, {"y"});
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  EXPECT_EQ(opsOf(g), (std::vector<std::string>{"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}));
  EXPECT_EQ(report.foldedConstants, 3);  // Gather(1), Gather([2, 3]), Unsqueeze(c)
  const Node& concat = onlyNode(g, "Concat");
  ASSERT_EQ(concat.inputs.size(), 3u);
  EXPECT_FALSE(g.values[concat.inputs[0]].isConstant());
  EXPECT_EQ(constInts(g, concat.inputs[1]), (std::vector<int64_t>{3}));
  EXPECT_EQ(constInts(g, concat.inputs[2]), (std::vector<int64_t>{4, 5}));
}

TEST(OnnxImport, ArithmeticOnConstantsIsFolded) {
  OnnxBuilder b(13);
  b.input("x", {2, 3});
  b.initializer("a", {3}, {1, 2, 3});
  b.initializer("c", {3}, {10, 20, 30});
  b.node("Mul", {"a", "c"}, {"ac"});
  b.node("Add", {"ac", "a"}, {"bias"});
  b.node("Add", {"x", "bias"}, {"y"});
  b.output("y");
  ConvertReport report;
  Graph g = importOnnx(b.model, {}, &report);
  ASSERT_EQ(opsOf(g), std::vector<std::string>{"Add"});
  EXPECT_EQ(constFloats(g, g.nodes[0].inputs[1]), (std::vector<float>{11, 42, 93}));
  EXPECT_EQ(report.foldedConstants, 2);
}

// ---------------------------------------------------------------------------
// Errors

TEST(OnnxImportErrors, UnknownOperatorNamesNodeAndOp) {
  OnnxBuilder b(13);
  b.input("x", {2});
  b.node("FancyOp", {"x"}, {"y"}, "my_node");
  b.output("y");
  expectImportError(b.model, {"node 'my_node' (op FancyOp): operator is not supported by Petrel"});
}

TEST(OnnxImportErrors, OnnxOperatorWithoutPetrelPlannerNamesNodeAndOp) {
  OnnxBuilder b(13);
  b.input("x", {3, 3});
  b.node("Det", {"x"}, {"y"}, "det_node");
  b.output("y");
  expectImportError(b.model, {"node 'det_node' (op Det): operator is not supported by Petrel"});
}

TEST(OnnxImportErrors, UnsupportedOpsets) {
  for (int64_t opset : {10, 18}) {
    OnnxBuilder b(opset);
    b.input("x", {2});
    b.node("Relu", {"x"}, {"y"});
    b.output("y");
    expectImportError(b.model, {"opset " + std::to_string(opset), "11 to 17"});
  }
}

TEST(OnnxImportErrors, OtherDomainsAreRejected) {
  OnnxBuilder b(13);
  auto* ms = b.model.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  b.input("x", {2});
  b.node("FusedGemm", {"x"}, {"y"}, "fg").set_domain("com.microsoft");
  b.output("y");
  expectImportError(b.model, {"fg", "domain 'com.microsoft'"});
}

TEST(OnnxImportErrors, MissingFile) {
  expectImportError(std::string("/nonexistent/dir/model.onnx"), {"/nonexistent/dir/model.onnx", "no such file"});
}

TEST(OnnxImportErrors, GarbageFiles) {
  std::mt19937 rng(7);
  const std::string path = tempPath("garbage.onnx");
  for (int trial = 0; trial < 5; ++trial) {
    std::string bytes(trial == 0 ? 0 : 1000 * trial, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (trial == 4) bytes = "this is a text file, not a model\n";
    std::ofstream(path, std::ios::binary) << bytes;
    expectImportError(path, {path, "not an ONNX model"});
  }
  std::remove(path.c_str());
}

// A tensor in an external data file (as ONNX saves models over 2 GB): read
// from the model's folder when importing from a path; bad references are
// errors naming the tensor.
TEST(OnnxImport, ExternalDataFiles) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "petrel_external_data_test";
  std::filesystem::create_directories(dir);
  const float values[3] = {1.5f, -2.0f, 4.0f};
  {
    std::ofstream data(dir / "weights.bin", std::ios::binary);
    data.write("padding!", 8);  // the tensor starts at offset 8
    data.write(reinterpret_cast<const char*>(values), sizeof(values));
  }
  auto writeModel = [&](const std::string& location, const std::string& offset, const std::string& length) {
    OnnxBuilder b(13);
    b.input("x", {3});
    TensorProto w;
    w.set_name("w");
    w.set_data_type(TensorProto::FLOAT);
    w.add_dims(3);
    w.set_data_location(TensorProto::EXTERNAL);
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", location}, {"offset", offset},
                                     {"length", length}}) {
      auto* entry = w.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
    b.initializerTensor(w);
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    std::ofstream out(dir / "model.onnx", std::ios::binary);
    b.model.SerializeToOstream(&out);
    return (dir / "model.onnx").string();
  };
  const Graph g = importOnnx(writeModel("weights.bin", "8", "12"));
  const int w = g.findValue("w");
  ASSERT_GE(w, 0);
  ASSERT_TRUE(g.values[w].constant);
  EXPECT_EQ(std::vector<float>(g.values[w].constant->floats(), g.values[w].constant->floats() + 3),
            std::vector<float>(values, values + 3));
  expectImportError(writeModel("missing.bin", "0", "12"), {"'w'", "missing.bin"});
  expectImportError(writeModel("weights.bin", "8", "400"), {"'w'", "outside"});
  expectImportError(writeModel("../weights.bin", "8", "12"), {"'w'", "relative", ".."});
  expectImportError(writeModel("/etc/passwd", "0", "12"), {"'w'", "relative"});
  expectImportError(writeModel("weights.bin", "eight", "12"), {"'w'", "not a number"});
  std::filesystem::remove_all(dir);
}

TEST(OnnxImportErrors, ExternalDataOfAModelInMemoryIsRejected) {
  OnnxBuilder b(13);
  b.input("x", {2});
  TensorProto w;
  w.set_name("w");
  w.set_data_type(TensorProto::FLOAT);
  w.add_dims(2);
  w.set_data_location(TensorProto::EXTERNAL);
  auto* entry = w.add_external_data();
  entry->set_key("location");
  entry->set_value("model.onnx.data");
  b.initializerTensor(w);
  b.node("Add", {"x", "w"}, {"y"});
  b.output("y");
  expectImportError(b.model, {"initializer 'w'", "external"});
}

TEST(OnnxImportErrors, UnsupportedDataTypes) {
  OnnxBuilder b(13);
  b.input("x", {2}, TensorProto::FLOAT16);
  b.node("Relu", {"x"}, {"y"});
  b.output("y", TensorProto::FLOAT16);
  expectImportError(b.model, {"'x'", "FLOAT16"});
}

TEST(OnnxImportErrors, UndefinedInputIsNamed) {
  OnnxBuilder b(13);
  b.input("x", {2});
  b.node("Add", {"x", "nowhere"}, {"y"}, "adder");
  b.output("y");
  expectImportError(b.model, {"node 'adder' (op Add)", "'nowhere'"});
}

TEST(OnnxImportErrors, NotAModel) {
  onnx::ModelProto empty;
  expectImportError(empty, {"not an ONNX model"});
}

TEST(OnnxImportErrors, GraphAttributesAreRejected) {
  OnnxBuilder b(13);
  TensorProto cond;
  cond.set_name("c");
  cond.set_data_type(TensorProto::BOOL);
  cond.add_int32_data(1);
  b.initializerTensor(cond);
  auto& n = b.node("If", {"c"}, {"y"}, "branch");
  auto* a = n.add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("then");
  b.output("y");
  EXPECT_THROW(importOnnx(b.model), Error);
}

TEST(OnnxImport, ReadsAModelFile) {
  OnnxBuilder b(13);
  b.input("x", {1, 2});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  const std::string path = tempPath("relu.onnx");
  {
    std::ofstream out(path, std::ios::binary);
    ASSERT_TRUE(b.model.SerializeToOstream(&out));
  }
  std::vector<std::string> lines;
  ConvertOptions options;
  options.log = [&](const std::string& line) { lines.push_back(line); };
  Graph g = importOnnx(path, options);
  std::remove(path.c_str());
  EXPECT_EQ(opsOf(g), std::vector<std::string>{"Relu"});
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("opset 13"), std::string::npos) << lines.front();
}

}  // namespace
}  // namespace petrel::test
