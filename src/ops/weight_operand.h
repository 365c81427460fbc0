#pragma once
// The weight matrix of a GEMM-based executor, prepared in the form its
// executor kind asks for (ops/select.h):
//
//   packed (memory normal/high)  fp32 weights packed once at planning; a
//                                compressed constant is decoded once first.
//                                The constant's file pages can then be dropped.
//   stored (memory low)          the constant as stored, read at run time:
//                                compressed weights are decoded block by block
//                                into the GEMM's panels (weights/decode.h),
//                                fp32 weights are packed block by block.
//
// The weight matrix W is [rows][depth] per group (graph/weight_matrix.h):
// the GEMM's A for convolutions (C = W * im2col), its B = W^T for linear
// layers (Y = X * W^T). Group g of an encoded or decoded matrix is rows
// [g*rows, (g+1)*rows); of a stored fp32 tensor, `fp32Group0` describes W_0
// and group g starts g*rows*depth floats later.
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/sgemm.h"
#include "ops/op.h"

namespace petrel {

enum class GemmSide : uint8_t { kLhs, kRhs };

struct WeightOperandSpec {
  size_t input = 1;  // the node input holding the weights
  GemmSide side = GemmSide::kLhs;
  bool keepStored = false;  // the executor kind reads weights in their stored form
  int64_t groups = 1;
  int64_t rows = 0, depth = 0;  // of one group
  // How a stored fp32 tensor reads as W_0: element (r, k) of W_0.
  SgemmMatrix fp32Group0;
};

class WeightOperand {
 public:
  // Prepares input spec.input of ctx (which must be static). The fp32Group0
  // data pointer is ignored: the constant's own data is used.
  static WeightOperand prepare(PlanContext& ctx, WeightOperandSpec spec);

  // Puts group g's weights into p.lhs or p.rhs.
  void setOperand(SgemmProblem& p, int64_t group) const;
  bool isPacked() const { return !packedLhs_.empty() || !packedRhs_.empty(); }
  bool isEncoded() const { return !encoded_.empty(); }
  // Bytes of fp32 weights packed at planning (0 when weights stay stored).
  size_t preparedBytes() const;

 private:
  WeightOperandSpec spec_;
  std::vector<SgemmPackedLhs> packedLhs_;
  std::vector<SgemmPackedRhs> packedRhs_;
  std::vector<EncodedMatrixView> encoded_;  // per group, into the model
  const float* fp32_ = nullptr;             // stored fp32 weights, in the model
};

}  // namespace petrel
