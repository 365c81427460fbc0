#pragma once
// Decoders: EncodedMatrixView -> fp32, whole or one GEMM tile at a time.
//
// Every element decodes to exactly  float(q - zero) * scale  (one rounding,
// no FMA; fp16 exactly), on every Isa, so the decoders agree bit for bit.
//
// The tile decoders write the SGEMM's packed panel layouts (sgemm.h,
// sgemm_internal.h) straight from the encoded weights W [rows][K]:
//  - decodePackLhs: W is the left operand A (convolution, C = W * im2col).
//    Output = sgemmPackLhs({deq(W), K, false}, r0, count, k0, kc, out):
//    ceil(count / kSgemmMR) panels of kc x MR floats, panel p holds rows
//    r0 + p*MR + i at out[p*MR*kc + k*MR + i]; rows past count are 0.
//  - decodePackRhs: W [N][K] is the right operand B = W^T (linear layer).
//    Output = sgemmPackRhs({deq(W), K, true}, k0, kc, r0, count, out):
//    ceil(count / kSgemmNR) panels of kc x NR floats, column j of B (row
//    r0 + q*NR + j of W) at out[q*NR*kc + k*NR + j]; columns past count are 0.
// Both need r0 + count <= rows and k0 + kc <= K; they never allocate.
#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/sgemm.h"
#include "weights/quantized_layouts.h"

namespace petrel {

// All of W as rows x K floats, row-major (the reference; memory-mode normal).
void decodeMatrix(const EncodedMatrixView& w, float* out, Isa isa = bestIsa());

// Row `row`, values [k0, k0 + n) -> out[0, n).
void decodeRowSegment(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out,
                      Isa isa = bestIsa());

void decodePackLhs(const EncodedMatrixView& w, int64_t r0, int64_t count, int64_t k0, int64_t kc, float* out,
                   Isa isa = bestIsa());
void decodePackRhs(const EncodedMatrixView& w, int64_t r0, int64_t count, int64_t k0, int64_t kc, float* out,
                   Isa isa = bestIsa());

// Inside the tile decoders: `width` (<= kInterleaveMaxRows) row pieces of n
// (<= kInterleaveChunk) floats, piece i at pieces[i * kInterleaveChunk], are
// interleaved: out[k * width + i] = piece i [k].
constexpr int64_t kInterleaveChunk = 128;
constexpr int64_t kInterleaveMaxRows = 16;
static_assert(kSgemmMR <= kInterleaveMaxRows && kSgemmNR <= kInterleaveMaxRows);
void interleaveRowsScalar(const float* pieces, int64_t width, int64_t n, float* out);
void interleaveRowsAvx2(const float* pieces, int64_t width, int64_t n, float* out);

// The portable version (the reference for the SIMD one).
void decodeRowSegmentScalar(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out);
// The AVX2 (+F16C for fp16) row decoder, decode_avx2.cpp; call only when
// fp16SimdUsable(Isa::kAvx2) (it implies AVX2).
void decodeRowSegmentAvx2(const EncodedMatrixView& w, int64_t row, int64_t k0, int64_t n, float* out);

}  // namespace petrel
