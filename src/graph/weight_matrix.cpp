#include "graph/weight_matrix.h"

#include "petrel/error.h"
#include "weights/decode.h"

namespace petrel {

std::optional<WeightMatrix> weightMatrixOf(const Node& node, int input, const Shape& shape) {
  if (input != kWeightInput) return std::nullopt;
  for (int64_t d : shape)
    if (d < 1) return std::nullopt;
  WeightMatrix m;
  if (node.op == "Conv" && (shape.size() == 3 || shape.size() == 4)) {
    m.rows = shape[0];
    m.depth = shapeElements(shape) / shape[0];
    return m;
  }
  if (node.op == "ConvTranspose" && (shape.size() == 3 || shape.size() == 4)) {
    const int64_t group = node.getInt("group", 1);
    if (group < 1 || shape[0] % group != 0) return std::nullopt;
    const int64_t kernel = shapeElements(shape) / (shape[0] * shape[1]);
    m.rows = shape[1] * group * kernel;
    m.depth = shape[0] / group;
    m.groups = group;
    return m;
  }
  if (shape.size() != 2) return std::nullopt;
  const bool storedRowsFirst = node.op == "Gemm" && node.getInt("transB", 0) != 0;  // [N][K]
  if (node.op != "MatMul" && node.op != "Gemm") return std::nullopt;
  m.rows = storedRowsFirst ? shape[0] : shape[1];
  m.depth = storedRowsFirst ? shape[1] : shape[0];
  m.groups = storedRowsFirst ? 0 : 1;
  return m;
}

std::vector<float> toWeightMatrix(const WeightMatrix& matrix, const float* logical) {
  const int64_t total = matrix.rows * matrix.depth;
  if (matrix.asStored()) return std::vector<float>(logical, logical + total);
  std::vector<float> out(static_cast<size_t>(total));
  const int64_t rowsPerGroup = matrix.rows / matrix.groups;
  for (int64_t g = 0; g < matrix.groups; ++g) {
    const float* block = logical + g * rowsPerGroup * matrix.depth;  // [depth][rowsPerGroup]
    float* dst = out.data() + g * rowsPerGroup * matrix.depth;       // [rowsPerGroup][depth]
    for (int64_t k = 0; k < matrix.depth; ++k)
      for (int64_t r = 0; r < rowsPerGroup; ++r) dst[r * matrix.depth + k] = block[k * rowsPerGroup + r];
  }
  return out;
}

std::vector<float> fromWeightMatrix(const WeightMatrix& matrix, const float* rowsByDepth) {
  const int64_t total = matrix.rows * matrix.depth;
  if (matrix.asStored()) return std::vector<float>(rowsByDepth, rowsByDepth + total);
  std::vector<float> out(static_cast<size_t>(total));
  const int64_t rowsPerGroup = matrix.rows / matrix.groups;
  for (int64_t g = 0; g < matrix.groups; ++g) {
    const float* src = rowsByDepth + g * rowsPerGroup * matrix.depth;  // [rowsPerGroup][depth]
    float* block = out.data() + g * rowsPerGroup * matrix.depth;       // [depth][rowsPerGroup]
    for (int64_t r = 0; r < rowsPerGroup; ++r)
      for (int64_t k = 0; k < matrix.depth; ++k) block[k * rowsPerGroup + r] = src[r * matrix.depth + k];
  }
  return out;
}

std::vector<float> decodeWeightConstant(const ConstantData& constant, const Node& node, int input,
                                        const std::string& name) {
  const EncodedMatrixView view = constant.encodedView(name);
  const std::optional<WeightMatrix> matrix = weightMatrixOf(node, input, constant.shape);
  if (!matrix || matrix->rows != view.layout.rows || matrix->depth != view.layout.depth)
    throw Error("constant '" + name + "' is not encoded as the weight matrix of " + node.describe());
  std::vector<float> decoded(static_cast<size_t>(matrix->rows * matrix->depth));
  decodeMatrix(view, decoded.data());
  return fromWeightMatrix(*matrix, decoded.data());
}

}  // namespace petrel
