#pragma once
// Builds small ONNX models in memory for the converter tests.
//
//   OnnxBuilder b(13);
//   b.input("x", {-1, 3, 8, 8});                     // -1: symbolic "batch"
//   b.initializer("w", {4, 3, 3, 3}, weights);
//   auto& conv = b.node("Conv", {"x", "w"}, {"y"});
//   setInts(conv, "pads", {1, 1, 1, 1});
//   b.output("y");
//   petrel::Graph g = petrel::importOnnx(b.model);
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace petrel::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model.set_ir_version(8);
    model.set_producer_name("petrel-test");
    auto* op = model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model.mutable_graph()->set_name("test");
  }

  onnx::GraphProto& graph() { return *model.mutable_graph(); }

  // A graph input; dims of -1 become the symbolic dimension "batch".
  void input(const std::string& name, const std::vector<int64_t>& dims, int elemType = onnx::TensorProto::FLOAT) {
    auto* v = graph().add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elemType);
    auto* shape = t->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d < 0)
        dim->set_dim_param("batch");
      else
        dim->set_dim_value(d);
    }
  }

  void output(const std::string& name, int elemType = onnx::TensorProto::FLOAT) {
    auto* v = graph().add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(elemType);
  }

  static onnx::TensorProto floatTensor(const std::string& name, const std::vector<int64_t>& dims,
                                       const std::vector<float>& values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    for (float v : values) t.add_float_data(v);
    return t;
  }

  static onnx::TensorProto int64Tensor(const std::string& name, const std::vector<int64_t>& dims,
                                       const std::vector<int64_t>& values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t.add_dims(d);
    for (int64_t v : values) t.add_int64_data(v);
    return t;
  }

  void initializer(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    *graph().add_initializer() = floatTensor(name, dims, values);
  }
  void initializerInt64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
    *graph().add_initializer() = int64Tensor(name, dims, values);
  }
  void initializerTensor(const onnx::TensorProto& tensor) { *graph().add_initializer() = tensor; }

  // A scalar float initializer (shape []).
  void scalar(const std::string& name, float value) { initializer(name, {}, {value}); }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    auto* n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(graph().node_size()) : name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return *n;
  }

  onnx::ModelProto model;
};

inline void setInt(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void setFloat(onnx::NodeProto& node, const std::string& name, float value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
inline void setString(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}
inline void setInts(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
inline void setFloats(onnx::NodeProto& node, const std::string& name, const std::vector<float>& values) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float v : values) a->add_floats(v);
}
inline void setTensor(onnx::NodeProto& node, const std::string& name, const onnx::TensorProto& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = value;
}

}  // namespace petrel::test
