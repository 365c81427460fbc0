#include "graph/graph.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <unordered_map>

#include "petrel/error.h"

namespace petrel {

int64_t shapeElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shapeToString(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out << ", ";
    out << shape[i];
  }
  out << ']';
  return out.str();
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
  }
  return "?";
}

const char* storageName(Storage storage) {
  switch (storage) {
    case Storage::kFloat32: return "fp32";
    case Storage::kFloat16: return "fp16";
    case Storage::kInt8: return "int8";
    case Storage::kInt4: return "int4";
    case Storage::kInt64: return "int64";
  }
  return "?";
}

namespace {
template <typename T>
std::shared_ptr<ConstantData> ownedConstant(Storage storage, Shape shape, const std::vector<T>& values) {
  auto owned = std::make_shared<std::vector<T>>(values);
  auto c = std::make_shared<ConstantData>();
  c->storage = storage;
  c->shape = std::move(shape);
  c->bytes = reinterpret_cast<const uint8_t*>(owned->data());
  c->byteSize = owned->size() * sizeof(T);
  c->keepAlive = owned;
  return c;
}
}  // namespace

std::shared_ptr<ConstantData> ConstantData::fromFloats(Shape shape, const std::vector<float>& values) {
  if (shapeElements(shape) != static_cast<int64_t>(values.size()))
    throw Error("constant of shape " + shapeToString(shape) + " given " + std::to_string(values.size()) + " values");
  return ownedConstant(Storage::kFloat32, std::move(shape), values);
}

std::shared_ptr<ConstantData> ConstantData::fromInt64s(Shape shape, const std::vector<int64_t>& values) {
  if (shapeElements(shape) != static_cast<int64_t>(values.size()))
    throw Error("constant of shape " + shapeToString(shape) + " given " + std::to_string(values.size()) + " values");
  return ownedConstant(Storage::kInt64, std::move(shape), values);
}

std::shared_ptr<ConstantData> ConstantData::fromEncoded(Shape shape, const EncodedLayout& layout,
                                                       const std::vector<uint8_t>& blob) {
  if (layout.storage == WeightStorage::kFloat32)
    throw Error("an fp32 constant of shape " + shapeToString(shape) + " is not encoded");
  if (layout.rows * layout.depth != shapeElements(shape))
    throw Error("an encoded matrix [" + std::to_string(layout.rows) + ", " + std::to_string(layout.depth) +
                "] cannot hold a tensor of shape " + shapeToString(shape));
  // uint32 words keep the blob 4-byte aligned (its fp32 scales come first).
  auto owned = std::make_shared<std::vector<uint32_t>>((blob.size() + 3) / 4);
  if (!blob.empty()) std::memcpy(owned->data(), blob.data(), blob.size());
  auto c = std::make_shared<ConstantData>();
  c->storage = static_cast<Storage>(layout.storage);
  c->shape = std::move(shape);
  c->bytes = reinterpret_cast<const uint8_t*>(owned->data());
  c->byteSize = blob.size();
  c->keepAlive = owned;
  c->encoding = layout;
  return c;
}

EncodedMatrixView ConstantData::encodedView(const std::string& name) const {
  if (!isEncoded())
    throw Error("constant '" + name + "' is stored as " + storageName(storage) + ", not as encoded weights");
  if (static_cast<Storage>(encoding.storage) != storage)
    throw Error("constant '" + name + "' is stored as " + storageName(storage) + " but its encoding says " +
                weightStorageName(encoding.storage));
  return viewEncodedBlob(encoding, bytes, byteSize, name.c_str());
}

size_t ConstantData::releasePages() const {
  if (!fileBacked || byteSize == 0) return 0;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(bytes) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(bytes) + byteSize) / page * page;
  if (end <= begin) return 0;
  // Only whole pages inside this constant, so neighbours are never affected.
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) return 0;
  return end - begin;
}

const float* ConstantData::floats() const {
  if (storage != Storage::kFloat32) throw Error(std::string("constant is stored as ") + storageName(storage) + ", not fp32");
  return reinterpret_cast<const float*>(bytes);
}

const int64_t* ConstantData::int64s() const {
  if (storage != Storage::kInt64) throw Error(std::string("constant is stored as ") + storageName(storage) + ", not int64");
  return reinterpret_cast<const int64_t*>(bytes);
}

// ---------------------------------------------------------------------------

std::string Node::describe() const { return op + " '" + name + "'"; }

namespace {
template <typename T>
const T* attributeAs(const Node& node, const std::string& key, const char* typeName) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  if (!v) throw Error(node.describe() + ": attribute '" + key + "' is not " + typeName);
  return v;
}
}  // namespace

int64_t Node::getInt(const std::string& key, int64_t fallback) const {
  const auto* v = attributeAs<int64_t>(*this, key, "an integer");
  return v ? *v : fallback;
}
float Node::getFloat(const std::string& key, float fallback) const {
  const auto* v = attributeAs<float>(*this, key, "a float");
  return v ? *v : fallback;
}
std::string Node::getString(const std::string& key, const std::string& fallback) const {
  const auto* v = attributeAs<std::string>(*this, key, "a string");
  return v ? *v : fallback;
}
std::vector<int64_t> Node::getInts(const std::string& key, const std::vector<int64_t>& fallback) const {
  const auto* v = attributeAs<std::vector<int64_t>>(*this, key, "a list of integers");
  return v ? *v : fallback;
}
std::vector<float> Node::getFloats(const std::string& key, const std::vector<float>& fallback) const {
  const auto* v = attributeAs<std::vector<float>>(*this, key, "a list of floats");
  return v ? *v : fallback;
}

// ---------------------------------------------------------------------------

int Graph::addValue(Value value) {
  values.push_back(std::move(value));
  return static_cast<int>(values.size()) - 1;
}

int Graph::findValue(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == name) return static_cast<int>(i);
  return -1;
}

void Graph::validate() const {
  const int count = static_cast<int>(values.size());
  std::vector<bool> available(values.size(), false);
  std::vector<bool> produced(values.size(), false);
  for (int i = 0; i < count; ++i) {
    if (values[i].constant) {
      available[i] = true;
      const ConstantData& c = *values[i].constant;
      const int64_t elems = shapeElements(c.shape);
      for (int64_t d : c.shape)
        if (d < 0) throw Error("constant '" + values[i].name + "' has a negative dimension");
      int64_t expected = 0;
      switch (c.storage) {
        case Storage::kFloat32: expected = elems * 4; break;
        case Storage::kInt64: expected = elems * 8; break;
        default: expected = -1; break;
      }
      if (c.isEncoded()) {
        c.encodedView(values[i].name);  // checks the layout against the byte size
        if (c.encoding.rows * c.encoding.depth != elems)
          throw Error("constant '" + values[i].name + "' of shape " + shapeToString(c.shape) +
                      " is encoded as a [" + std::to_string(c.encoding.rows) + ", " +
                      std::to_string(c.encoding.depth) + "] matrix");
      }
      if (expected >= 0 && static_cast<int64_t>(c.byteSize) != expected)
        throw Error("constant '" + values[i].name + "' of shape " + shapeToString(c.shape) + " has " +
                    std::to_string(c.byteSize) + " bytes, expected " + std::to_string(expected));
    }
  }
  for (int id : inputs) {
    if (id < 0 || id >= count) throw Error("graph input id " + std::to_string(id) + " out of range");
    if (values[id].constant) throw Error("graph input '" + values[id].name + "' is a constant");
    available[id] = true;
    produced[id] = true;
  }
  for (const Node& node : nodes) {
    if (node.op.empty()) throw Error("node '" + node.name + "' has no op type");
    for (int id : node.inputs) {
      if (id == -1) continue;
      if (id < -1 || id >= count)
        throw Error(node.describe() + ": input id " + std::to_string(id) + " out of range");
      if (!available[id])
        throw Error(node.describe() + ": input '" + values[id].name + "' is used before it is produced");
    }
    for (int id : node.outputs) {
      if (id < 0 || id >= count)
        throw Error(node.describe() + ": output id " + std::to_string(id) + " out of range");
      if (produced[id] || values[id].constant)
        throw Error(node.describe() + ": value '" + values[id].name + "' is produced twice");
      produced[id] = true;
      available[id] = true;
    }
  }
  if (outputs.empty()) throw Error("graph has no outputs");
  for (int id : outputs) {
    if (id < 0 || id >= count) throw Error("graph output id " + std::to_string(id) + " out of range");
    if (!available[id]) throw Error("graph output '" + values[id].name + "' is never produced");
  }
}

size_t Graph::constantBytes() const {
  size_t total = 0;
  for (const Value& v : values)
    if (v.constant) total += v.constant->byteSize;
  return total;
}

}  // namespace petrel
