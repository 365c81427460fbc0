#include "format/model_file.h"
#include "graph/graph.h"
#include "petrel/petrel.h"

namespace petrel {

const char* toString(PrecisionMode mode) {
  switch (mode) {
    case PrecisionMode::kNormal: return "normal";
    case PrecisionMode::kHigh: return "high";
    case PrecisionMode::kLow: return "low";
  }
  return "?";
}

const char* toString(MemoryMode mode) {
  switch (mode) {
    case MemoryMode::kNormal: return "normal";
    case MemoryMode::kHigh: return "high";
    case MemoryMode::kLow: return "low";
  }
  return "?";
}

PrecisionMode parsePrecisionMode(const std::string& text) {
  if (text == "normal") return PrecisionMode::kNormal;
  if (text == "high") return PrecisionMode::kHigh;
  if (text == "low") return PrecisionMode::kLow;
  throw Error("unknown precision mode '" + text + "' (expected normal, high or low)");
}

MemoryMode parseMemoryMode(const std::string& text) {
  if (text == "normal") return MemoryMode::kNormal;
  if (text == "high") return MemoryMode::kHigh;
  if (text == "low") return MemoryMode::kLow;
  throw Error("unknown memory mode '" + text + "' (expected normal, high or low)");
}

Tensor::Tensor(std::vector<int64_t> shape_, std::vector<float> data_) : shape(std::move(shape_)), data(std::move(data_)) {
  if (static_cast<int64_t>(data.size()) != shapeElements(shape))
    throw Error("tensor of shape " + shapeToString(shape) + " given " + std::to_string(data.size()) + " values");
}

Tensor::Tensor(std::vector<int64_t> shape_) : shape(std::move(shape_)) {
  const int64_t n = shapeElements(shape);
  if (n < 0) throw Error("tensor shape " + shapeToString(shape) + " has a negative dimension");
  data.assign(static_cast<size_t>(n), 0.0f);
}

int64_t Tensor::elements() const { return shapeElements(shape); }

Model::Model() = default;
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& path) {
  LoadedModel loaded = readModelFile(path);
  std::shared_ptr<Model> model(new Model());
  model->graph_ = std::make_unique<Graph>(std::move(loaded.graph));
  model->mapping_ = std::move(loaded.mapping);
  return model;
}

std::shared_ptr<const Model> Model::fromGraph(Graph graph) {
  graph.validate();
  std::shared_ptr<Model> model(new Model());
  model->graph_ = std::make_unique<Graph>(std::move(graph));
  return model;
}

std::vector<TensorInfo> Model::inputs() const {
  std::vector<TensorInfo> infos;
  for (int id : graph_->inputs) infos.push_back({graph_->values[id].name, graph_->values[id].shape});
  return infos;
}

std::vector<TensorInfo> Model::outputs() const {
  std::vector<TensorInfo> infos;
  for (int id : graph_->outputs) infos.push_back({graph_->values[id].name, graph_->values[id].shape});
  return infos;
}

size_t Model::weightBytes() const { return graph_->constantBytes(); }

}  // namespace petrel
