#include "graph/encode_weights.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "graph/weight_matrix.h"
#include "petrel/error.h"

namespace petrel {

double EncodeWeightsReport::meanRelativeL2() const {
  if (tensors.empty()) return 0.0;
  double sum = 0.0;
  for (const EncodedTensorReport& t : tensors) sum += t.error.relativeL2;
  return sum / static_cast<double>(tensors.size());
}

const EncodedTensorReport* EncodeWeightsReport::worst() const {
  const EncodedTensorReport* worst = nullptr;
  for (const EncodedTensorReport& t : tensors)
    if (!worst || t.error.relativeL2 > worst->error.relativeL2) worst = &t;
  return worst;
}

std::string describeWeightEncoding(const WeightEncoding& encoding) {
  const std::string symmetry = encoding.symmetric ? "symmetric" : "asymmetric";
  switch (encoding.storage) {
    case WeightStorage::kInt8: return "int8 (" + symmetry + ")";
    case WeightStorage::kInt4: {
      const std::string block =
          encoding.blockSize == 0 ? std::string("per channel") : "block " + std::to_string(encoding.blockSize);
      return "int4 (" + block + ", " + symmetry + ")";
    }
    default: return weightStorageName(encoding.storage);
  }
}

EncodeWeightsReport encodeWeightMatrices(Graph& graph, const WeightEncoding& encoding,
                                         const EncodeWeightsOptions& options) {
  EncodeWeightsReport report;
  if (encoding.storage == WeightStorage::kFloat32) return report;

  // How often each value is read: node inputs (every slot) and graph outputs.
  std::vector<int> uses(graph.values.size(), 0);
  for (const Node& node : graph.nodes)
    for (int id : node.inputs)
      if (id >= 0 && id < static_cast<int>(uses.size())) ++uses[id];
  for (int id : graph.outputs)
    if (id >= 0 && id < static_cast<int>(uses.size())) ++uses[id];

  // Encode everything first, replace afterwards: an encoder error leaves the graph as it was.
  std::vector<std::pair<int, std::shared_ptr<ConstantData>>> replacements;
  for (const Node& node : graph.nodes) {
    if (static_cast<int>(node.inputs.size()) <= kWeightInput) continue;
    const int id = node.inputs[kWeightInput];
    if (id < 0 || id >= static_cast<int>(graph.values.size())) continue;
    const Value& value = graph.values[id];
    if (!value.constant || value.constant->storage != Storage::kFloat32 || value.dtype != DType::kFloat32) continue;
    const ConstantData& constant = *value.constant;
    const std::optional<WeightMatrix> matrix = weightMatrixOf(node, kWeightInput, constant.shape);
    if (!matrix) continue;
    if (uses[id] != 1) {
      ++report.keptShared;
      continue;
    }
    if (constant.elements() < options.minElements) {
      ++report.keptSmall;
      continue;
    }

    const std::vector<float> weights = toWeightMatrix(*matrix, constant.floats());
    const EncodedMatrix encoded = encodeWeights(weights.data(), matrix->rows, matrix->depth, encoding, value.name);
    EncodedTensorReport entry;
    entry.name = value.name;
    entry.node = node.name;
    entry.op = node.op;
    entry.rows = matrix->rows;
    entry.depth = matrix->depth;
    entry.bytesBefore = constant.byteSize;
    entry.bytesAfter = encoded.bytes();
    entry.error = measureEncodingError(weights.data(), encoded.view());
    report.bytesBefore += entry.bytesBefore;
    report.bytesAfter += entry.bytesAfter;
    report.tensors.push_back(std::move(entry));
    replacements.emplace_back(id, ConstantData::fromEncoded(constant.shape, encoded.layout, encoded.blob()));
  }
  for (auto& [id, constant] : replacements) graph.values[id].constant = std::move(constant);
  return report;
}

}  // namespace petrel
