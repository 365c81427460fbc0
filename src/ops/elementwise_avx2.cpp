// AVX2 twins of the binary row kernels in elementwise.cpp (Add, Sub, Mul, Div;
// Pow stays scalar). Called only when bestIsa() is Isa::kAvx2. IEEE add, sub,
// mul and div round the same in every lane, so these match the scalar
// kernels bit for bit.
#include <immintrin.h>

#include <cstdint>
#include "ops/row_kernels.h"

namespace petrel {


namespace {

template <char op>
inline __m256 apply(__m256 a, __m256 b) {
  if constexpr (op == '+') return _mm256_add_ps(a, b);
  if constexpr (op == '-') return _mm256_sub_ps(a, b);
  if constexpr (op == '*') return _mm256_mul_ps(a, b);
  if constexpr (op == '/') return _mm256_div_ps(a, b);
}

template <char op>
inline float apply(float a, float b) {
  if constexpr (op == '+') return a + b;
  if constexpr (op == '-') return a - b;
  if constexpr (op == '*') return a * b;
  if constexpr (op == '/') return a / b;
}

template <char op>
void rowVectorVector(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 r0 = apply<op>(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 r1 = apply<op>(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(out + i, r0);
    _mm256_storeu_ps(out + i + 8, r1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, apply<op>(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = apply<op>(a[i], b[i]);
}

template <char op>
void rowVectorScalar(const float* a, const float* b, float* out, int64_t n) {
  const float s = *b;  // read once: `out` may alias the inputs
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 r0 = apply<op>(_mm256_loadu_ps(a + i), vs);
    const __m256 r1 = apply<op>(_mm256_loadu_ps(a + i + 8), vs);
    _mm256_storeu_ps(out + i, r0);
    _mm256_storeu_ps(out + i + 8, r1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, apply<op>(_mm256_loadu_ps(a + i), vs));
  for (; i < n; ++i) out[i] = apply<op>(a[i], s);
}

template <char op>
void rowScalarVector(const float* a, const float* b, float* out, int64_t n) {
  const float s = *a;
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 r0 = apply<op>(vs, _mm256_loadu_ps(b + i));
    const __m256 r1 = apply<op>(vs, _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(out + i, r0);
    _mm256_storeu_ps(out + i + 8, r1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, apply<op>(vs, _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = apply<op>(s, b[i]);
}

template <char op>
BinaryRowKernel kernelFor(bool vectorA, bool vectorB) {
  if (vectorA && vectorB) return rowVectorVector<op>;
  if (vectorA) return rowVectorScalar<op>;
  if (vectorB) return rowScalarVector<op>;
  return nullptr;  // a single repeated value: nothing to vectorise
}

}  // namespace

// `op` is the operator's symbol: '+', '-', '*' or '/'. nullptr when there is
// no AVX2 twin (the caller keeps the scalar kernel).
BinaryRowKernel binaryRowKernelAvx2(char op, bool vectorA, bool vectorB) {
  switch (op) {
    case '+': return kernelFor<'+'>(vectorA, vectorB);
    case '-': return kernelFor<'-'>(vectorA, vectorB);
    case '*': return kernelFor<'*'>(vectorA, vectorB);
    case '/': return kernelFor<'/'>(vectorA, vectorB);
    default: return nullptr;
  }
}

}  // namespace petrel
