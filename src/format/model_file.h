#pragma once
// Reading and writing .petrel files (layout in schema/petrel.fbs).
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"

namespace petrel {

constexpr char kFileMagic[8] = {'P', 'E', 'T', 'R', 'E', 'L', '\0', '\x1a'};
// Version 1: fp32/int64 constants. Bump when the meaning of a file changes.
constexpr uint32_t kFormatVersion = 1;
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
