#include "converter/onnx_tensors.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <limits>
#include <vector>

#include "petrel/error.h"

namespace petrel {

using onnx::AttributeProto;
using onnx::TensorProto;

std::string onnxElemTypeName(int elemType) {
  if (TensorProto::DataType_IsValid(elemType))
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(elemType));
  return "type " + std::to_string(elemType);
}

DType petrelDTypeOf(int elemType, const std::string& what) {
  switch (elemType) {
    case TensorProto::FLOAT:
    case TensorProto::DOUBLE:
      return DType::kFloat32;
    case TensorProto::INT64:
    case TensorProto::INT32:
    case TensorProto::INT16:
    case TensorProto::INT8:
    case TensorProto::UINT64:
    case TensorProto::UINT32:
    case TensorProto::UINT16:
    case TensorProto::UINT8:
    case TensorProto::BOOL:
      return DType::kInt64;
    default:
      throw Error(what + " has data type " + onnxElemTypeName(elemType) +
                  ", which Petrel does not support (float, double, integer and bool tensors only)");
  }
}

namespace {

// Bytes per element in raw_data.
size_t rawElementSize(int elemType) {
  switch (elemType) {
    case TensorProto::DOUBLE:
    case TensorProto::INT64:
    case TensorProto::UINT64:
      return 8;
    case TensorProto::FLOAT:
    case TensorProto::INT32:
    case TensorProto::UINT32:
      return 4;
    case TensorProto::INT16:
    case TensorProto::UINT16:
      return 2;
    default:
      return 1;  // INT8, UINT8, BOOL
  }
}

// Element i of little-endian raw data of the given type, as double / int64.
template <typename T>
T rawAt(const std::string& raw, size_t i) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
  return v;
}

double rawFloatAt(const std::string& raw, int elemType, size_t i) {
  return elemType == TensorProto::DOUBLE ? rawAt<double>(raw, i) : rawAt<float>(raw, i);
}

int64_t checkedUnsigned(uint64_t v, const std::string& what) {
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw Error(what + " holds the value " + std::to_string(v) + ", which does not fit in int64");
  return static_cast<int64_t>(v);
}

int64_t rawIntAt(const std::string& raw, int elemType, size_t i, const std::string& what) {
  switch (elemType) {
    case TensorProto::INT64: return rawAt<int64_t>(raw, i);
    case TensorProto::UINT64: return checkedUnsigned(rawAt<uint64_t>(raw, i), what);
    case TensorProto::INT32: return rawAt<int32_t>(raw, i);
    case TensorProto::UINT32: return rawAt<uint32_t>(raw, i);
    case TensorProto::INT16: return rawAt<int16_t>(raw, i);
    case TensorProto::UINT16: return rawAt<uint16_t>(raw, i);
    case TensorProto::INT8: return rawAt<int8_t>(raw, i);
    case TensorProto::UINT8: return rawAt<uint8_t>(raw, i);
    case TensorProto::BOOL: return rawAt<uint8_t>(raw, i) != 0 ? 1 : 0;
    default: return 0;
  }
}

// Number of values in the typed field that holds this element type.
int typedFieldSize(const TensorProto& t) {
  switch (t.data_type()) {
    case TensorProto::FLOAT: return t.float_data_size();
    case TensorProto::DOUBLE: return t.double_data_size();
    case TensorProto::INT64: return t.int64_data_size();
    case TensorProto::UINT32:
    case TensorProto::UINT64: return t.uint64_data_size();
    default: return t.int32_data_size();  // INT32, INT16, INT8, UINT16, UINT8, BOOL
  }
}

int64_t typedIntAt(const TensorProto& t, int i, const std::string& what) {
  switch (t.data_type()) {
    case TensorProto::INT64: return t.int64_data(i);
    case TensorProto::UINT32:
    case TensorProto::UINT64: return checkedUnsigned(t.uint64_data(i), what);
    case TensorProto::BOOL: return t.int32_data(i) != 0 ? 1 : 0;
    default: return t.int32_data(i);
  }
}

}  // namespace

std::shared_ptr<ConstantData> tensorToConstant(const TensorProto& tensor, const std::string& what) {
  if (tensor.data_location() == TensorProto::EXTERNAL || tensor.external_data_size() > 0)
    throw Error(what + " keeps its data in an external file, which is read only when importing from a file path");
  if (tensor.has_segment()) throw Error(what + " is a segmented tensor, which Petrel does not support");
  const DType dtype = petrelDTypeOf(tensor.data_type(), what);

  Shape shape;
  for (int64_t d : tensor.dims()) {
    if (d < 0) throw Error(what + " has a negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  const int64_t count = shapeElements(shape);
  const int elemType = tensor.data_type();

  if (tensor.has_raw_data()) {
    const std::string& raw = tensor.raw_data();
    if (raw.size() != static_cast<size_t>(count) * rawElementSize(elemType))
      throw Error(what + " of shape " + shapeToString(shape) + " and type " + onnxElemTypeName(elemType) + " has " +
                  std::to_string(raw.size()) + " bytes of data, expected " +
                  std::to_string(count * rawElementSize(elemType)));
    if (dtype == DType::kFloat32) {
      std::vector<float> values(count);
      for (int64_t i = 0; i < count; ++i) values[i] = static_cast<float>(rawFloatAt(raw, elemType, i));
      return ConstantData::fromFloats(shape, values);
    }
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) values[i] = rawIntAt(raw, elemType, i, what);
    return ConstantData::fromInt64s(shape, values);
  }

  if (typedFieldSize(tensor) != count)
    throw Error(what + " of shape " + shapeToString(shape) + " has " + std::to_string(typedFieldSize(tensor)) +
                " values, expected " + std::to_string(count));
  if (dtype == DType::kFloat32) {
    std::vector<float> values(count);
    for (int64_t i = 0; i < count; ++i)
      values[i] = elemType == TensorProto::DOUBLE ? static_cast<float>(tensor.double_data(i)) : tensor.float_data(i);
    return ConstantData::fromFloats(shape, values);
  }
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) values[i] = typedIntAt(tensor, static_cast<int>(i), what);
  return ConstantData::fromInt64s(shape, values);
}

AttributeValue attributeToValue(const AttributeProto& attribute, const std::string& nodeDescription) {
  const std::string what = nodeDescription + ": attribute '" + attribute.name() + "'";
  switch (attribute.type()) {
    case AttributeProto::INT: return static_cast<int64_t>(attribute.i());
    case AttributeProto::FLOAT: return attribute.f();
    case AttributeProto::STRING: return attribute.s();
    case AttributeProto::INTS: return std::vector<int64_t>(attribute.ints().begin(), attribute.ints().end());
    case AttributeProto::FLOATS: return std::vector<float>(attribute.floats().begin(), attribute.floats().end());
    case AttributeProto::TENSOR: {
      std::shared_ptr<ConstantData> c = tensorToConstant(attribute.t(), what);
      if (c->elements() != 1)
        throw Error(what + " is a tensor of shape " + shapeToString(c->shape) +
                    "; Petrel supports only one-element tensor attributes");
      if (c->storage == Storage::kFloat32) return c->floats()[0];
      return c->int64s()[0];
    }
    default:
      throw Error(what + " has kind " + AttributeProto::AttributeType_Name(attribute.type()) +
                  ", which Petrel does not support");
  }
}

bool shapeOfType(const onnx::TypeProto& type, Shape* shape) {
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return false;
  shape->clear();
  for (const auto& dim : type.tensor_type().shape().dim())
    shape->push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : -1);
  return true;
}

}  // namespace petrel
