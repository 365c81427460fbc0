#pragma once
// Inside the SGEMM: packing routines and micro-kernels (see sgemm.h for the
// packed layout). Exposed for the kernel tests.
#include <cstdint>

#include "kernels/sgemm.h"

namespace petrel {

// How a micro-kernel writes its tiles of C: c = alpha * acc (+ c if loadC);
// then on the last K block (finish): + bias, activation.
// One call computes `rows` rows of C against one B panel: ceil(rows / MR) row
// panels, whose packed A panels lie back to back (MR * kc floats each); only
// those rows are read and written (the last row panel may be short; its
// packed A panel is zero-padded past it). Per-row bias values start at row 0.
struct SgemmTileStore {
  int64_t rows = kSgemmMR;
  float alpha = 1.0f;
  bool loadC = false;
  bool finish = true;
  SgemmBias bias = SgemmBias::kNone;
  const float* biasValues = nullptr;  // MR values (per row) or NR values (per column) for this tile
  ActivationParams activation;
  // The packed B panel (kc x NR) the next call will read, or nullptr: the
  // kernel spreads prefetches of it into L2 over its row panels.
  const float* nextRhsPanel = nullptr;
};

// c[rows][NR] (row stride ldc) <- packed A panels (kc x MR each) times packed B panel (kc x NR).
using SgemmMicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                  const SgemmTileStore& store);
void sgemmKernel6x16Scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                           const SgemmTileStore& store);
void sgemmKernel6x16Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                         const SgemmTileStore& store);
// The same on the first NR/2 columns of a B panel (c[rows][NR/2]): for a last
// panel of at most 8 columns, half the work of a padded 6x16.
void sgemmKernel6x8Scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                          const SgemmTileStore& store);
void sgemmKernel6x8Avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                        const SgemmTileStore& store);
// The same as sgemmKernel6x16Avx2 with B read in place from a row-major
// matrix: row k at b + k * ldb. For a few rows of C the packing of B would
// cost about as much as the products.
using SgemmStridedKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                    const SgemmTileStore& store);
void sgemmKernel6x16StridedAvx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                const SgemmTileStore& store);
// The same as sgemmKernel6x16Avx2 with B's row k read in place at
// bRows[k] + bOffset (16 floats) instead of from a packed panel: for
// convolutions whose im2col rows are contiguous in a prepared copy of the
// image (kernels/conv_direct.h).
void sgemmKernel6x16RowsAvx2(int64_t kc, const float* a, const float* const* bRows, int64_t bOffset, float* c,
                             int64_t ldc, const SgemmTileStore& store);
// The first `cols` (1 to kSgemmFewColumns) columns of B, written straight
// to C: for a last panel of a few columns (N = 49, 3025, 12321 in ResNet,
// SqueezeNet) or a product of a few columns (a squeeze-excitation block's
// 1x1 convolutions on one pixel), one FMA per column and k instead of six. A
// row panel's A values for one k are a vector; each column broadcasts B. B's
// row k is at b + k * ldb: kSgemmNR in a packed panel, or a plain B read in
// place.
constexpr int64_t kSgemmFewColumns = 4;
using SgemmColumnsKernel = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                    const SgemmTileStore& store, int64_t cols);
void sgemmKernelColumnsScalar(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                              const SgemmTileStore& store, int64_t cols);
void sgemmKernelColumnsAvx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                            const SgemmTileStore& store, int64_t cols);

// The K block used for depth k: equal blocks of at most kSgemmKC
// (576 = 3 x 192, not 256 + 256 + 64). Packed layouts and the driver agree on it.
int64_t sgemmDepthBlock(int64_t k);

// Packs rows [i0, i0+rows) x K range [k0, k0+kc) of A into ceil(rows/MR) panels.
using SgemmLhsPacker = void (*)(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out);
void sgemmPackLhs(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out);
// The same bytes; a row-major A's whole panels 8 k at a time through an
// in-register transpose (ViT packs every activation matrix it multiplies).
void sgemmPackLhsAvx2(const SgemmMatrix& a, int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* out);
// Packs K range [k0, k0+kc) x columns [j0, j0+cols) of B into ceil(cols/NR)
// panels, `panelStride` floats apart (0: kc * NR, back to back). The per-tile
// B block is padded (sgemmRhsPanelStride): panels a multiple of 4 KB apart
// would all map to the same L1 set while the packer writes one row to each.
using SgemmRhsPacker = void (*)(const SgemmMatrix& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
                                int64_t panelStride);
void sgemmPackRhs(const SgemmMatrix& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
                  int64_t panelStride = 0);
// The same bytes; a transposed B's whole panels 8 columns by 8 k at a time
// through an in-register transpose (attention's q k^T packs every head's keys).
void sgemmPackRhsAvx2(const SgemmMatrix& b, int64_t k0, int64_t kc, int64_t j0, int64_t cols, float* out,
                      int64_t panelStride = 0);
int64_t sgemmRhsPanelStride(int64_t kc);

// The same for B = im2col(image) of geometry g (the same bytes as
// sgemmPackRhs on the materialised matrix). The AVX2 twin writes the same bytes.
using SgemmIm2colPacker = void (*)(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc,
                                   int64_t j0, int64_t cols, float* out, int64_t panelStride);
void sgemmPackRhsIm2col(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0,
                        int64_t cols, float* out, int64_t panelStride = 0);
void sgemmPackRhsIm2colAvx2(const Conv2dGeometry& g, const float* image, int64_t k0, int64_t kc, int64_t j0,
                            int64_t cols, float* out, int64_t panelStride = 0);

// What differs between instruction sets.
struct SgemmMicroKernels {
  SgemmMicroKernel full;    // rows x NR
  SgemmMicroKernel narrow;  // rows x NR/2
  SgemmColumnsKernel columns;  // rows x (1 to kSgemmFewColumns)
  SgemmStridedKernel strided;  // rows x NR, B in place; nullptr: pack B
  SgemmIm2colPacker packIm2col;
  SgemmLhsPacker packLhs;  // run-time A
  SgemmRhsPacker packRhs;  // run-time plain B
};
SgemmMicroKernels sgemmMicroKernels(Isa isa);

}  // namespace petrel
