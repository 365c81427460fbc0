#pragma once
// Conversion of ONNX protobuf pieces (element types, tensors, attributes) to
// Petrel's IR. Petrel keeps two dtypes: every floating type becomes float32,
// every integer type and bool (as 0/1) becomes int64.
#include <memory>
#include <string>

#include "graph/graph.h"

namespace onnx {
class TensorProto;
class AttributeProto;
class TypeProto;
}  // namespace onnx

namespace petrel {

// "FLOAT16", "INT32", ... for messages.
std::string onnxElemTypeName(int elemType);
// Petrel dtype of an ONNX element type; Error naming `what` (e.g. "value 'x'")
// for types Petrel does not handle (strings, float16, complex ...).
DType petrelDTypeOf(int elemType, const std::string& what);

// A tensor (initializer, Constant value) as owned constant data. Reads typed
// fields and raw_data; rejects external data not loaded yet (importOnnx from
// a path loads it first), segments, wrong sizes.
// `what` names the tensor in errors.
std::shared_ptr<ConstantData> tensorToConstant(const onnx::TensorProto& tensor, const std::string& what);

// A node attribute: INT, FLOAT, STRING, INTS, FLOATS map to the same kinds; a
// TENSOR of one element (ConstantOfShape "value") becomes a scalar int64_t or
// float. Other kinds are an Error naming `nodeDescription` and the attribute.
AttributeValue attributeToValue(const onnx::AttributeProto& attribute, const std::string& nodeDescription);

// Shape of a value's TypeProto: dim_value, or -1 for dim_param / unknown.
// Returns false if the type carries no shape (unknown rank).
bool shapeOfType(const onnx::TypeProto& type, Shape* shape);

}  // namespace petrel
