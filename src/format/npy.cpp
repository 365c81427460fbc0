#include "format/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace petrel {

namespace {

// Finds `'key': value` in the header dict and returns the raw value text.
std::string headerField(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string::npos) throw Error("'" + path + "' is not a valid .npy file: header has no " + quoted);
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos) throw Error("'" + path + "' is not a valid .npy file: malformed header");
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  size_t end = at;
  if (header[at] == '(') {
    end = header.find(')', at);
    if (end == std::string::npos) throw Error("'" + path + "' is not a valid .npy file: malformed shape");
    return header.substr(at, end - at + 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(at, end - at);
}

}  // namespace

Tensor readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error("'" + path + "' is not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t headerLength = 0;
  if (major == 1) {
    unsigned char len[2];
    if (!in.read(reinterpret_cast<char*>(len), 2)) throw Error("'" + path + "' is truncated");
    headerLength = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    if (!in.read(reinterpret_cast<char*>(len), 4)) throw Error("'" + path + "' is truncated");
    headerLength = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
    if (headerLength > (1u << 20)) throw Error("'" + path + "' has an implausibly long header");
  } else {
    throw Error("'" + path + "' uses .npy format version " + std::to_string(major) + ", not supported");
  }
  std::string header(headerLength, '\0');
  if (!in.read(header.data(), headerLength)) throw Error("'" + path + "' is truncated (header)");

  const std::string descr = headerField(header, "descr", path);
  if (descr != "'<f4'" && descr != "'float32'")
    throw Error("'" + path + "' holds dtype " + descr + "; Petrel reads float32 ('<f4') arrays only");
  if (headerField(header, "fortran_order", path) != "False")
    throw Error("'" + path + "' is in Fortran order; save it in C order (np.ascontiguousarray)");
  std::string shapeText = headerField(header, "shape", path);
  Tensor tensor;
  std::string digits;
  for (char c : shapeText.substr(1)) {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c == ',' || c == ')') {
      if (!digits.empty()) tensor.shape.push_back(std::stoll(digits));
      digits.clear();
    } else if (c != ' ' && c != 'L') {
      throw Error("'" + path + "' has a malformed shape " + shapeText);
    }
  }
  const int64_t count = tensor.elements();
  if (count < 0 || count > (int64_t{1} << 34)) throw Error("'" + path + "' has an implausible shape " + shapeText);
  tensor.data.resize(static_cast<size_t>(count));
  if (!in.read(reinterpret_cast<char*>(tensor.data.data()), static_cast<std::streamsize>(count * sizeof(float))))
    throw Error("'" + path + "' is truncated: expected " + std::to_string(count) + " float32 values");
  return tensor;
}

void writeNpy(const std::string& path, const Tensor& tensor) {
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape.size(); ++i) dict << tensor.shape[i] << (tensor.shape.size() == 1 || i + 1 < tensor.shape.size() ? "," : "");
  dict << "), }";
  std::string header = dict.str();
  // Pad with spaces so the data starts on a 64-byte boundary, ending in '\n'.
  const size_t prefix = 10;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  out.write("\x93NUMPY\x01\x00", 8);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(tensor.data.data()),
            static_cast<std::streamsize>(tensor.data.size() * sizeof(float)));
  if (!out) throw Error("cannot write '" + path + "': write failed");
}

}  // namespace petrel
