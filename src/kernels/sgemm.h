#pragma once
// SGEMM, fp32:  C[M][N] = act(alpha * A[M][K] * B[K][N]  (+ C)  + bias)
//
// How it is computed (GotoBLAS-style):
//  - Packing: A is cut into row panels of kSgemmMR rows and B into column
//    panels of kSgemmNR columns, both split along K into equal blocks of at
//    most kSgemmKC. Within a block, a packed A panel holds, for each k, its MR
//    values side by side (zero-padded past M); a packed B panel holds NR values
//    per k. So the micro-kernel reads both operands strictly sequentially.
//  - Micro-kernel: one MR x NR tile of C in registers over one K block (AVX2:
//    6x16 = 12 ymm accumulators, 2 B loads + 6 A broadcasts per 12 FMAs; a 6x8
//    twin for a last panel of at most 8 columns). It writes its tile through
//    the epilogue: alpha, optional accumulation into C, and on the last K
//    block the bias and the fused activation - no second pass over C. One
//    call sweeps every row panel of an A block against one B panel, so the
//    call and the epilogue set-up are paid once per panel column (at K = 16,
//    as in MobileNetV2's first expand, they were a fifth of the time). The
//    k step is inline assembly: it pins the accumulators to registers, which
//    GCC did not manage for every fused activation.
//  - Tiles: C is split into tiles (usually all of M by a few hundred columns);
//    one thread computes a whole tile over all of K. Per K block, the tile's
//    B block is packed into that thread's scratch (unless packed ahead; its
//    panels a cache line apart, so that the packer's writes to all panels do
//    not fall in one L1 set), then the tile's rows are walked in A blocks
//    that stay in L2 (packed too if A is a run-time matrix); each B panel
//    stays in L1 while the micro-kernel sweeps the A panels of the block.
//  - Constant operands (weights) are packed once at planning: SgemmPackedLhs
//    when the weights are A (convolution: out[Cout][pixels] = W[Cout][K] *
//    im2col[K][pixels]), SgemmPackedRhs when they are B (linear layers:
//    Y[tokens][out] = X[tokens][K] * W[K][out], W stored [K][out] or [out][K]).
//  - The convolution's B can be read straight from the image (SgemmRhs::im2col):
//    the im2col matrix is never materialised, only packed block by block
//    (sgemm_pack_im2col.h: run by run, vector copies for AVX2).
//  - Compressed weights (memory mode low) are a third kind of operand: an
//    EncodedMatrixView (weights/quantized_layouts.h) is decoded straight into
//    the packed panels of each block (weights/decode.h: decodePackLhs /
//    decodePackRhs) where a run-time matrix would be packed, so weights are
//    never expanded whole; scratch stays one block per thread.
//  - An im2col B too narrow to give every thread its own columns (N = 49 in
//    ResNet's last stage) is packed once per product by all threads together
//    and shared, instead of once per row tile - unless a batch has at least
//    as many products as threads, which then share out whole products. A
//    plain B is cheap enough to pack per row tile.
//  - Likewise a run-time A times packed weights (a linear layer: ViT's 197
//    tokens) is packed once, by all threads together, and shared by every
//    column tile, instead of once per tile and thread.
//
// Isa::kScalar and Isa::kAvx2 share the packing; only the micro-kernels differ.
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/aligned_buffer.h"
#include "kernels/conv_geometry.h"
#include "kernels/cpu.h"

namespace petrel {

class ThreadPool;
struct EncodedMatrixView;

constexpr int64_t kSgemmMR = 6;    // rows of the register tile
constexpr int64_t kSgemmNR = 16;   // columns of the register tile
constexpr int64_t kSgemmKC = 256;  // largest K block: a B panel (KC x NR floats) fills half of L1

// A row-major matrix, or the transpose of one: element (i, j) is
// data[i * ld + j], or data[j * ld + i] when `transposed`.
struct SgemmMatrix {
  const float* data = nullptr;
  int64_t ld = 0;
  bool transposed = false;
};

// A (M x K) packed once, e.g. convolution weights.
class SgemmPackedLhs {
 public:
  SgemmPackedLhs() = default;
  SgemmPackedLhs(const SgemmMatrix& a, int64_t m, int64_t k);
  // A = W, encoded weights [M][K], decoded straight into the panels (no fp32 copy of W).
  explicit SgemmPackedLhs(const EncodedMatrixView& w);
  int64_t rows() const { return m_; }
  int64_t depth() const { return k_; }
  size_t bytes() const { return data_.bytes(); }
  // The panels of the K block starting at k0, from row panel `panel` on.
  const float* panels(int64_t k0, int64_t panel) const;

 private:
  int64_t m_ = 0, k_ = 0;
  AlignedFloats data_;
};

// B (K x N) packed once, e.g. the weights of a linear layer.
class SgemmPackedRhs {
 public:
  SgemmPackedRhs() = default;
  SgemmPackedRhs(const SgemmMatrix& b, int64_t k, int64_t n);
  // B = W^T, encoded weights W [N][K], decoded straight into the panels.
  explicit SgemmPackedRhs(const EncodedMatrixView& w);
  int64_t depth() const { return k_; }
  int64_t columns() const { return n_; }
  size_t bytes() const { return data_.bytes(); }
  // The panels of the K block starting at k0, from column panel `panel` on.
  const float* panels(int64_t k0, int64_t panel) const;

 private:
  int64_t k_ = 0, n_ = 0;
  AlignedFloats data_;
};

// The left operand: packed ahead, encoded weights W [M][K] decoded per
// block, or a run-time matrix packed per block.
struct SgemmLhs {
  const SgemmPackedLhs* packed = nullptr;
  const EncodedMatrixView* encoded = nullptr;
  SgemmMatrix matrix;  // used when packed == encoded == nullptr
};

// The right operand: packed ahead, encoded weights W [N][K] (B = W^T)
// decoded per block, a run-time matrix, or the im2col matrix of an image
// ([channels][inH][inW] at `image`), all but the first packed per tile.
struct SgemmRhs {
  const SgemmPackedRhs* packed = nullptr;
  const EncodedMatrixView* encoded = nullptr;
  SgemmMatrix matrix;                       // used when packed == encoded == im2col == nullptr
  const Conv2dGeometry* im2col = nullptr;   // B = im2col(image) of this geometry
  const float* image = nullptr;
};

enum class SgemmBias : uint8_t {
  kNone,
  kPerRow,     // bias[i] added to row i (conv: per output channel)
  kPerColumn,  // bias[j] added to column j (linear: per output feature)
};

struct SgemmEpilogue {
  float alpha = 1.0f;
  bool accumulate = false;  // C += alpha*A*B (C holds values on entry) instead of C = alpha*A*B
  SgemmBias bias = SgemmBias::kNone;
  ActivationParams activation;  // applied last
};

// One product of a batch: operands, output, bias values (M or N floats).
struct SgemmProblem {
  SgemmLhs lhs;
  SgemmRhs rhs;
  float* c = nullptr;
  const float* bias = nullptr;
};

// A batch of products with the same M, N, K, ldc and operand kinds (packed
// or not): batched MatMul, grouped convolution, images of a batch.
class SgemmBatch {
 public:
  virtual ~SgemmBatch() = default;
  virtual int64_t count() const = 0;
  virtual SgemmProblem problem(int64_t index) const = 0;
};

// Scratch needed for `threads` threads; lhsPacked / rhsPacked say which
// operands are SgemmPacked* (they need no scratch); rhsEncoded that B is
// encoded weights (never shared whole, so its scratch stays one block).
size_t sgemmScratchBytes(int64_t m, int64_t n, int64_t k, bool lhsPacked, bool rhsPacked, int threads,
                         bool rhsEncoded = false);

// Computes one product. `scratch` (64-byte aligned, `scratchBytes` long) must
// come from sgemmScratchBytes for at least one thread; with a pool of more
// threads than the scratch was sized for, fewer threads work. pool may be nullptr.
// Does not allocate.
void sgemm(int64_t m, int64_t n, int64_t k, const SgemmProblem& problem, int64_t ldc,
           const SgemmEpilogue& epilogue, void* scratch, size_t scratchBytes, ThreadPool* pool,
           Isa isa = bestIsa());

// Computes every product of `batch`; threads share out the tiles of all of them.
void sgemmBatched(int64_t m, int64_t n, int64_t k, const SgemmBatch& batch, int64_t ldc,
                  const SgemmEpilogue& epilogue, void* scratch, size_t scratchBytes, ThreadPool* pool,
                  Isa isa = bestIsa());

}  // namespace petrel
