#pragma once
// Reading and writing .petrel files (layout in schema/petrel.fbs).
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"

namespace petrel {

constexpr char kFileMagic[8] = {'P', 'E', 'T', 'R', 'E', 'L', '\0', '\x1a'};
// Format versions. Bump when the meaning of a file changes.
//   1: fp32/int64 constants only.
//   2: may hold compressed weights (fp16/int8/int4 constants with rows, depth,
//      block_size, symmetric; schema/petrel.fbs).
// The writer uses the lowest version that can hold the graph, so a plain fp32
// model stays readable by version-1 readers. The reader accepts every version
// up to kNewestFormatVersion.
constexpr uint32_t kFormatVersionPlain = 1;
constexpr uint32_t kFormatVersionEncoded = 2;
constexpr uint32_t kNewestFormatVersion = kFormatVersionEncoded;
constexpr size_t kFileHeaderSize = 64;
constexpr size_t kTensorAlignment = 64;    // every tensor's data
constexpr size_t kLargeTensorAlignment = 4096;  // tensors of at least kLargeTensorBytes
constexpr size_t kLargeTensorBytes = 64 * 1024;

struct FileHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t headerSize;
  uint64_t graphOffset;
  uint64_t graphSize;
  uint64_t dataOffset;
  uint64_t dataSize;
  uint64_t fileSize;
  uint8_t reserved[8];
};
static_assert(sizeof(FileHeader) == kFileHeaderSize, "FileHeader must be exactly 64 bytes");

// The version writeModelFile gives `graph`: kFormatVersionEncoded if any
// constant is compressed, else kFormatVersionPlain.
uint32_t formatVersionFor(const Graph& graph);

// Writes `graph` to `path` atomically (a temporary file renamed into place),
// so a failed write never leaves a partial model behind.
void writeModelFile(const Graph& graph, const std::string& path, const std::string& producer);

struct LoadedModel {
  Graph graph;                        // constants point into the mapping
  std::shared_ptr<const void> mapping;  // keeps the file mapped
  size_t fileBytes = 0;
  std::string producer;
};

// Memory-maps and verifies a .petrel file; throws Error naming the file and
// the problem (not found, truncated, bad magic, version, corrupt graph, ...).
LoadedModel readModelFile(const std::string& path);

// Same checks on bytes already in memory (used by tests and fuzzing). The
// bytes must stay alive as long as the returned graph.
Graph parseModelBytes(const uint8_t* bytes, size_t size, const std::string& what, std::string* producer = nullptr);

}  // namespace petrel
