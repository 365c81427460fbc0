#pragma once
// Every failure Petrel reports is a petrel::Error whose message names what is
// wrong (the file, the node, the input, the size) in one line.
#include <stdexcept>
#include <string>

namespace petrel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace petrel
