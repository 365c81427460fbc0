#include "format/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "petrel/error.h"
#include "petrel_generated.h"

namespace petrel {

namespace {

size_t alignUp(size_t value, size_t alignment) { return (value + alignment - 1) / alignment * alignment; }

size_t tensorAlignment(size_t bytes) { return bytes >= kLargeTensorBytes ? kLargeTensorAlignment : kTensorAlignment; }

// Largest dimension and element count a file may declare; keeps every byte
// count computed from them far from overflow.
constexpr int64_t kMaxFileElements = int64_t{1} << 40;

// Elements of a shape read from a file, or -1 if a dimension is negative or
// the count exceeds kMaxFileElements (possibly through overflow).
int64_t checkedElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxFileElements) return -1;
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxFileElements) return -1;
  }
  return n;
}

// Bytes a plain (fp32 / int64) constant of `elements` must occupy.
int64_t plainConstantBytes(Storage storage, int64_t elements) {
  return storage == Storage::kInt64 ? elements * 8 : elements * 4;
}

fb::AttributeKind attributeKind(const AttributeValue& v) {
  switch (v.index()) {
    case 0: return fb::AttributeKind::Int;
    case 1: return fb::AttributeKind::Float;
    case 2: return fb::AttributeKind::String;
    case 3: return fb::AttributeKind::Ints;
    default: return fb::AttributeKind::Floats;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Writing

uint32_t formatVersionFor(const Graph& graph) {
  for (const Value& v : graph.values)
    if (v.constant && v.constant->isEncoded()) return kFormatVersionEncoded;
  return kFormatVersionPlain;
}

void writeModelFile(const Graph& graph, const std::string& path, const std::string& producer) {
  graph.validate();  // also checks every encoded constant against its layout
  const uint32_t formatVersion = formatVersionFor(graph);

  // Lay out the data section first: offsets go into the FlatBuffer.
  std::vector<uint64_t> dataOffsets(graph.values.size(), 0);
  size_t dataSize = 0;
  for (size_t i = 0; i < graph.values.size(); ++i) {
    const auto& c = graph.values[i].constant;
    if (!c) continue;
    dataSize = alignUp(dataSize, tensorAlignment(c->byteSize));
    dataOffsets[i] = dataSize;
    dataSize += c->byteSize;
  }

  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  std::vector<flatbuffers::Offset<fb::Value>> values;
  for (size_t i = 0; i < graph.values.size(); ++i) {
    const Value& v = graph.values[i];
    flatbuffers::Offset<fb::Constant> constant = 0;
    if (v.constant) {
      const ConstantData& c = *v.constant;
      const fb::DataRange range(dataOffsets[i], c.byteSize);
      // The matrix fields are written for compressed weights only; plain
      // constants leave them at their defaults (absent from the buffer).
      const EncodedLayout plain;
      const EncodedLayout& layout = c.isEncoded() ? c.encoding : plain;
      constant = fb::CreateConstant(fbb, static_cast<fb::Storage>(c.storage), fbb.CreateVector(c.shape), &range,
                                    layout.rows, layout.depth, static_cast<int32_t>(layout.blockSize),
                                    layout.symmetric);
    }
    values.push_back(fb::CreateValue(fbb, fbb.CreateString(v.name), static_cast<fb::DType>(v.dtype),
                                     fbb.CreateVector(v.shape), constant));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const Node& n : graph.nodes) {
    std::vector<flatbuffers::Offset<fb::Attribute>> attributes;
    for (const auto& [name, value] : n.attributes) {
      auto nameOffset = fbb.CreateString(name);
      flatbuffers::Offset<flatbuffers::String> s = 0;
      flatbuffers::Offset<flatbuffers::Vector<int64_t>> ints = 0;
      flatbuffers::Offset<flatbuffers::Vector<float>> floats = 0;
      int64_t i = 0;
      float f = 0.0f;
      if (auto* p = std::get_if<int64_t>(&value)) i = *p;
      if (auto* p = std::get_if<float>(&value)) f = *p;
      if (auto* p = std::get_if<std::string>(&value)) s = fbb.CreateString(*p);
      if (auto* p = std::get_if<std::vector<int64_t>>(&value)) ints = fbb.CreateVector(*p);
      if (auto* p = std::get_if<std::vector<float>>(&value)) floats = fbb.CreateVector(*p);
      attributes.push_back(fb::CreateAttribute(fbb, nameOffset, attributeKind(value), i, f, s, ints, floats));
    }
    nodes.push_back(fb::CreateNode(fbb, fbb.CreateString(n.name), fbb.CreateString(n.op), fbb.CreateVector(n.inputs),
                                   fbb.CreateVector(n.outputs), fbb.CreateVector(attributes)));
  }
  auto root = fb::CreateModel(fbb, formatVersion, fbb.CreateString(producer), fbb.CreateVector(values),
                              fbb.CreateVector(nodes), fbb.CreateVector(graph.inputs), fbb.CreateVector(graph.outputs));
  fb::FinishModelBuffer(fbb, root);

  FileHeader header{};
  std::memcpy(header.magic, kFileMagic, sizeof(kFileMagic));
  header.formatVersion = formatVersion;
  header.headerSize = kFileHeaderSize;
  header.graphOffset = kFileHeaderSize;
  header.graphSize = fbb.GetSize();
  header.dataOffset = alignUp(header.graphOffset + header.graphSize, kLargeTensorAlignment);
  header.dataSize = dataSize;
  header.fileSize = header.dataOffset + dataSize;

  const std::string temporary = path + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    auto pad = [&out](size_t to) {
      static const char zeros[kLargeTensorAlignment] = {};
      const size_t at = static_cast<size_t>(out.tellp());
      if (to > at) out.write(zeros, static_cast<std::streamsize>(to - at));
    };
    out.write(reinterpret_cast<const char*>(&header), sizeof(header));
    out.write(reinterpret_cast<const char*>(fbb.GetBufferPointer()), static_cast<std::streamsize>(fbb.GetSize()));
    for (size_t i = 0; i < graph.values.size(); ++i) {
      const auto& c = graph.values[i].constant;
      if (!c) continue;
      pad(header.dataOffset + dataOffsets[i]);
      out.write(reinterpret_cast<const char*>(c->bytes), static_cast<std::streamsize>(c->byteSize));
    }
    pad(header.fileSize);
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw Error("cannot write '" + path + "': write failed (disk full?)");
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw Error("cannot write '" + path + "': " + std::strerror(errno));
  }
}

// ---------------------------------------------------------------------------
// Reading

namespace {

class FileMapping {
 public:
  FileMapping(void* address, size_t size) : address_(address), size_(size) {}
  ~FileMapping() {
    if (address_) munmap(address_, size_);
  }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(address_); }
  size_t size() const { return size_; }

 private:
  void* address_;
  size_t size_;
};

template <typename T>
std::vector<T> toVector(const flatbuffers::Vector<T>* v) {
  return v ? std::vector<T>(v->begin(), v->end()) : std::vector<T>{};
}

std::string toString(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

}  // namespace

Graph parseModelBytes(const uint8_t* bytes, size_t size, const std::string& what, std::string* producer) {
  auto corrupt = [&what](const std::string& why) { return Error("'" + what + "' is not a valid Petrel model: " + why); };
  if (size < kFileHeaderSize) throw corrupt("file is " + std::to_string(size) + " bytes, too short for the header");
  FileHeader header;
  std::memcpy(&header, bytes, sizeof(header));
  if (std::memcmp(header.magic, kFileMagic, sizeof(kFileMagic)) != 0)
    throw corrupt("wrong magic bytes (not a .petrel file)");
  if (header.formatVersion < kFormatVersionPlain || header.formatVersion > kNewestFormatVersion)
    throw Error("'" + what + "' has format version " + std::to_string(header.formatVersion) +
                ", this Petrel reads versions " + std::to_string(kFormatVersionPlain) + " to " +
                std::to_string(kNewestFormatVersion) +
                (header.formatVersion > kNewestFormatVersion ? ": upgrade Petrel" : ": convert the model again"));
  if (header.headerSize != kFileHeaderSize) throw corrupt("unexpected header size");
  if (header.fileSize != size)
    throw corrupt("file is " + std::to_string(size) + " bytes but its header says " + std::to_string(header.fileSize) +
                  " (truncated or padded)");
  uint64_t graphEnd = 0, dataEnd = 0;
  if (__builtin_add_overflow(header.graphOffset, header.graphSize, &graphEnd) || header.graphOffset < kFileHeaderSize ||
      graphEnd > size)
    throw corrupt("graph section lies outside the file");
  if (__builtin_add_overflow(header.dataOffset, header.dataSize, &dataEnd) || header.dataOffset < graphEnd ||
      dataEnd > size || header.dataOffset % kLargeTensorAlignment != 0)
    throw corrupt("data section lies outside the file or is misaligned");

  const uint8_t* graphBytes = bytes + header.graphOffset;
  flatbuffers::Verifier verifier(graphBytes, header.graphSize);
  if (!fb::ModelBufferHasIdentifier(graphBytes) || !fb::VerifyModelBuffer(verifier))
    throw corrupt("graph section fails FlatBuffers verification");
  const fb::Model* model = fb::GetModel(graphBytes);
  if (model->format_version() != header.formatVersion) throw corrupt("graph and header disagree on the format version");
  if (producer) *producer = toString(model->producer());

  Graph graph;
  const uint8_t* data = bytes + header.dataOffset;
  if (model->values()) {
    for (const fb::Value* v : *model->values()) {
      Value value;
      value.name = toString(v->name());
      value.dtype = static_cast<DType>(v->dtype());
      if (value.dtype != DType::kFloat32 && value.dtype != DType::kInt64)
        throw corrupt("value '" + value.name + "' has an unknown dtype");
      value.shape = toVector(v->shape());
      if (const fb::Constant* c = v->constant()) {
        const std::string named = "constant '" + value.name + "'";
        auto constant = std::make_shared<ConstantData>();
        const int storageCode = static_cast<int>(c->storage());
        if (storageCode < 0 || storageCode > static_cast<int>(Storage::kInt64))
          throw corrupt(named + " uses storage kind " + std::to_string(storageCode) + ", unknown to this version");
        constant->storage = static_cast<Storage>(storageCode);
        constant->shape = toVector(c->shape());
        const int64_t elements = checkedElements(constant->shape);
        if (elements < 0)
          throw corrupt(named + " has a bad shape " + shapeToString(constant->shape) + " (negative or too large)");
        const fb::DataRange* range = c->data();
        uint64_t end = 0;
        if (!range || __builtin_add_overflow(range->offset(), range->size(), &end) || end > header.dataSize)
          throw corrupt(named + " points outside the data section");
        if (range->offset() % kTensorAlignment != 0) throw corrupt(named + " is misaligned");
        constant->bytes = data + range->offset();
        constant->byteSize = range->size();
        if (constant->isEncoded()) {
          if (header.formatVersion < kFormatVersionEncoded)
            throw corrupt(named + " is stored as " + storageName(constant->storage) + ", which format version " +
                          std::to_string(header.formatVersion) + " cannot hold");
          if (value.dtype != DType::kFloat32)
            throw corrupt(named + " is stored as " + storageName(constant->storage) + " but is not a float tensor");
          constant->encoding.storage = static_cast<WeightStorage>(constant->storage);
          constant->encoding.rows = c->rows();
          constant->encoding.depth = c->depth();
          constant->encoding.blockSize = c->block_size();
          constant->encoding.symmetric = c->symmetric();
          try {
            constant->encodedView(value.name);  // storage, layout and data size (one place for these checks)
          } catch (const Error& e) {
            throw corrupt(e.what());
          }
          // The layout is valid, so rows * depth cannot overflow.
          if (constant->encoding.rows * constant->encoding.depth != elements)
            throw corrupt(named + " of shape " + shapeToString(constant->shape) + " (" + std::to_string(elements) +
                          " elements) is encoded as a [" + std::to_string(constant->encoding.rows) + ", " +
                          std::to_string(constant->encoding.depth) + "] matrix");
        } else {
          const int64_t expected = plainConstantBytes(constant->storage, elements);
          if (range->size() != static_cast<uint64_t>(expected))
            throw corrupt(named + " of shape " + shapeToString(constant->shape) + " has " +
                          std::to_string(range->size()) + " bytes, expected " + std::to_string(expected));
        }
        value.constant = std::move(constant);
      }
      graph.values.push_back(std::move(value));
    }
  }
  if (model->nodes()) {
    for (const fb::Node* n : *model->nodes()) {
      Node node;
      node.name = toString(n->name());
      node.op = toString(n->op());
      node.inputs = toVector(n->inputs());
      node.outputs = toVector(n->outputs());
      if (n->attributes()) {
        for (const fb::Attribute* a : *n->attributes()) {
          const std::string name = toString(a->name());
          switch (a->kind()) {
            case fb::AttributeKind::Int: node.attributes[name] = a->i(); break;
            case fb::AttributeKind::Float: node.attributes[name] = a->f(); break;
            case fb::AttributeKind::String: node.attributes[name] = toString(a->s()); break;
            case fb::AttributeKind::Ints: node.attributes[name] = toVector(a->ints()); break;
            case fb::AttributeKind::Floats: node.attributes[name] = toVector(a->floats()); break;
            default: throw corrupt("node '" + node.name + "' attribute '" + name + "' has an unknown kind");
          }
        }
      }
      graph.nodes.push_back(std::move(node));
    }
  }
  graph.inputs = toVector(model->inputs());
  graph.outputs = toVector(model->outputs());
  try {
    graph.validate();
  } catch (const Error& e) {
    throw corrupt(e.what());
  }
  return graph;
}

LoadedModel readModelFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open model '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot open model '" + path + "': not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kFileHeaderSize) {
    ::close(fd);
    throw Error("'" + path + "' is not a valid Petrel model: file is " + std::to_string(size) +
                " bytes, too short for the header");
  }
  void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) throw Error("cannot map model '" + path + "': " + std::strerror(errno));
  auto mapping = std::make_shared<FileMapping>(address, size);

  LoadedModel loaded;
  loaded.graph = parseModelBytes(mapping->bytes(), size, path, &loaded.producer);
  for (Value& v : loaded.graph.values)
    if (v.constant) {
      auto constant = std::const_pointer_cast<ConstantData>(v.constant);
      constant->keepAlive = mapping;
      constant->fileBacked = true;
    }
  loaded.mapping = mapping;
  loaded.fileBytes = size;
  return loaded;
}

}  // namespace petrel
