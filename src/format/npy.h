#pragma once
// NumPy .npy files (format 1.0-3.0), float32 little-endian in C order: the
// input and output format of `petrel run`.
#include <string>

#include "petrel/petrel.h"

namespace petrel {

// Throws Error naming the file and the problem (dtype, Fortran order, size).
Tensor readNpy(const std::string& path);
void writeNpy(const std::string& path, const Tensor& tensor);

}  // namespace petrel
