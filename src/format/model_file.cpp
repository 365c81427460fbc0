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

// Bytes a constant of this storage and shape must occupy, or -1 if not
// computable (a kind this version does not read).
int64_t expectedConstantBytes(Storage storage, const Shape& shape) {
  const int64_t n = shapeElements(shape);
  switch (storage) {
    case Storage::kFloat32: return n * 4;
    case Storage::kInt64: return n * 8;
    default: return -1;
  }
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

void writeModelFile(const Graph& graph, const std::string& path, const std::string& producer) {
  graph.validate();

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
      const fb::DataRange range(dataOffsets[i], v.constant->byteSize);
      constant = fb::CreateConstant(fbb, static_cast<fb::Storage>(v.constant->storage),
                                    fbb.CreateVector(v.constant->shape), &range);
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
  auto root = fb::CreateModel(fbb, kFormatVersion, fbb.CreateString(producer), fbb.CreateVector(values),
                              fbb.CreateVector(nodes), fbb.CreateVector(graph.inputs), fbb.CreateVector(graph.outputs));
  fb::FinishModelBuffer(fbb, root);

  FileHeader header{};
  std::memcpy(header.magic, kFileMagic, sizeof(kFileMagic));
  header.formatVersion = kFormatVersion;
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
  if (header.formatVersion != kFormatVersion)
    throw Error("'" + what + "' has format version " + std::to_string(header.formatVersion) +
                ", this Petrel reads version " + std::to_string(kFormatVersion) +
                (header.formatVersion > kFormatVersion ? ": upgrade Petrel" : ": convert the model again"));
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
        auto constant = std::make_shared<ConstantData>();
        constant->storage = static_cast<Storage>(c->storage());
        constant->shape = toVector(c->shape());
        for (int64_t d : constant->shape)
          if (d < 0 || d > (int64_t{1} << 40)) throw corrupt("constant '" + value.name + "' has a bad dimension");
        const int64_t expected = expectedConstantBytes(constant->storage, constant->shape);
        if (expected < 0)
          throw corrupt("constant '" + value.name + "' uses storage kind " +
                        std::to_string(static_cast<int>(constant->storage)) + ", unknown to this version");
        const fb::DataRange* range = c->data();
        uint64_t end = 0;
        if (!range || __builtin_add_overflow(range->offset(), range->size(), &end) || end > header.dataSize)
          throw corrupt("constant '" + value.name + "' points outside the data section");
        if (range->size() != static_cast<uint64_t>(expected))
          throw corrupt("constant '" + value.name + "' of shape " + shapeToString(constant->shape) + " has " +
                        std::to_string(range->size()) + " bytes, expected " + std::to_string(expected));
        if (range->offset() % kTensorAlignment != 0) throw corrupt("constant '" + value.name + "' is misaligned");
        constant->bytes = data + range->offset();
        constant->byteSize = range->size();
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
