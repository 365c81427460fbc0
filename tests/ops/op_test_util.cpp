#include "ops/op_test_util.h"

#include <numeric>

#include "petrel/error.h"

namespace petrel::test {

void addActivationAttributes(std::map<std::string, AttributeValue>& attrs, const ActivationParams& activation) {
  if (activation.kind == Activation::kNone) return;
  attrs["activation"] = std::string(activationName(activation.kind));
  attrs["activation_alpha"] = activation.alpha;
  attrs["activation_beta"] = activation.beta;
}

void expectError(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    std::string wanted;
    for (const std::string& f : fragments) wanted += " '" + f + "'";
    ADD_FAILURE() << "expected a petrel::Error containing" << wanted;
  } catch (const Error& e) {
    for (const std::string& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << e.what() << "' lacks '" << f << "'";
  }
}

void expectNodeError(const std::function<void()>& fn, const std::string& op) { expectError(fn, {"test_" + op}); }

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t ravel(const std::vector<int64_t>& index, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

int64_t broadcastSourceIndex(const Shape& source, const Shape& out, int64_t flat) {
  int64_t index = 0, stride = 1;
  int64_t s = static_cast<int64_t>(source.size()) - 1;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d, --s) {
    const int64_t coord = flat % out[d];
    flat /= out[d];
    if (s >= 0) {
      if (source[s] != 1) index += coord * stride;
      stride *= source[s];
    }
  }
  return index;
}

std::vector<float> iotaFloats(int64_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

std::vector<int64_t> iotaInts(int64_t n, int64_t first) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<Isa> supportedIsas() {
  std::vector<Isa> isas = {Isa::kScalar};
  if (isaSupported(Isa::kAvx2)) isas.push_back(Isa::kAvx2);
  return isas;
}

}  // namespace petrel::test
