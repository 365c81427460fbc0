#include "ops/weight_operand.h"

namespace petrel {

namespace {

// The transpose of a matrix view: W = [rows][depth] read as B = W^T.
SgemmMatrix transposedView(const SgemmMatrix& m) { return {m.data, m.ld, !m.transposed}; }

}  // namespace

WeightOperand WeightOperand::prepare(PlanContext& ctx, WeightOperandSpec spec) {
  WeightOperand w;
  w.spec_ = spec;
  const bool lhs = spec.side == GemmSide::kLhs;
  const int64_t groupFloats = spec.rows * spec.depth;
  if (ctx.weightStorage(spec.input) != Storage::kFloat32) {
    const EncodedMatrixView whole = ctx.encodedWeights(spec.input);
    for (int64_t g = 0; g < spec.groups; ++g) {
      const EncodedMatrixView group = whole.rowRange(g * spec.rows, spec.rows);
      if (spec.keepStored) w.encoded_.push_back(group);
      else if (lhs) w.packedLhs_.emplace_back(group);  // decoded straight into the packed panels
      else w.packedRhs_.emplace_back(group);
    }
    if (!spec.keepStored) ctx.markInputCopied(spec.input);
    return w;
  }
  const float* data = ctx.staticFloats(spec.input);
  if (!data) ctx.fail("weights (input " + std::to_string(spec.input) + ") must be known at planning");
  if (spec.keepStored) {
    w.fp32_ = data;  // read in place at run time: the session keeps the constant mapped
    return w;
  }
  ctx.markInputCopied(spec.input);
  for (int64_t g = 0; g < spec.groups; ++g) {
    const SgemmMatrix wg{data + g * groupFloats, spec.fp32Group0.ld, spec.fp32Group0.transposed};
    if (lhs) w.packedLhs_.emplace_back(wg, spec.rows, spec.depth);
    else w.packedRhs_.emplace_back(transposedView(wg), spec.depth, spec.rows);
  }
  return w;
}

void WeightOperand::setOperand(SgemmProblem& p, int64_t group) const {
  const bool lhs = spec_.side == GemmSide::kLhs;
  if (!packedLhs_.empty()) {
    p.lhs.packed = &packedLhs_[group];
  } else if (!packedRhs_.empty()) {
    p.rhs.packed = &packedRhs_[group];
  } else if (!encoded_.empty()) {
    (lhs ? p.lhs.encoded : p.rhs.encoded) = &encoded_[group];
  } else {
    const SgemmMatrix wg{fp32_ + group * spec_.rows * spec_.depth, spec_.fp32Group0.ld,
                         spec_.fp32Group0.transposed};
    if (lhs) p.lhs.matrix = wg;
    else p.rhs.matrix = transposedView(wg);
  }
}

size_t WeightOperand::preparedBytes() const {
  size_t bytes = 0;
  for (const SgemmPackedLhs& p : packedLhs_) bytes += p.bytes();
  for (const SgemmPackedRhs& p : packedRhs_) bytes += p.bytes();
  return bytes;
}

}  // namespace petrel
