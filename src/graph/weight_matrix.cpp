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

namespace {

// `groups` consecutive blocks of `rows` x `cols` floats, each transposed to
// `cols` x `rows` in place of the block.
std::vector<float> transposeBlocks(const float* in, int64_t groups, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(groups * rows * cols));
  for (int64_t g = 0; g < groups; ++g) {
    const float* src = in + g * rows * cols;
    float* dst = out.data() + g * rows * cols;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
  return out;
}

}  // namespace

std::vector<float> toWeightMatrix(const WeightMatrix& matrix, const float* logical) {
  if (matrix.asStored()) return std::vector<float>(logical, logical + matrix.rows * matrix.depth);
  // Each group's block is [depth][rows / groups] in the logical tensor.
  return transposeBlocks(logical, matrix.groups, matrix.depth, matrix.rows / matrix.groups);
}

std::vector<float> fromWeightMatrix(const WeightMatrix& matrix, const float* rowsByDepth) {
  if (matrix.asStored()) return std::vector<float>(rowsByDepth, rowsByDepth + matrix.rows * matrix.depth);
  return transposeBlocks(rowsByDepth, matrix.groups, matrix.rows / matrix.groups, matrix.depth);
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
