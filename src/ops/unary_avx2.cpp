// AVX2 twins of the plain maps in unary.cpp: Exp, Erf, Sqrt, Neg. Called only
// when bestIsa() is Isa::kAvx2. Exp and Erf are polynomial approximations
// (exp ~2 ulp; erf within 1.5e-7 absolute, Abramowitz-Stegun 7.1.26); Sqrt and
// Neg are exact.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/avx2_math.h"
#include "ops/row_kernels.h"

namespace petrel {


namespace {

// avx2::exp saturates outside [-87, 88]; the Exp operator keeps IEEE limits.
inline __m256 expOp(__m256 x) {
  __m256 y = avx2::exp(x);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, _mm256_set1_ps(88.7228394f), _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-87.3365479f), _CMP_LT_OQ));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

// erf(x) = sign(x) (1 - q(t) e^{-x^2}), t = 1 / (1 + p|x|).
inline __m256 erfOp(__m256 x) {
  const __m256 signMask = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(signMask, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(ax, _mm256_set1_ps(0.3275911f), one));
  __m256 q = _mm256_set1_ps(1.061405429f);
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
  q = _mm256_mul_ps(q, t);
  const __m256 e = avx2::exp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
  const __m256 magnitude = _mm256_fnmadd_ps(q, e, one);
  return _mm256_or_ps(magnitude, _mm256_and_ps(signMask, x));
}

inline __m256 sqrtOp(__m256 x) { return _mm256_sqrt_ps(x); }
inline __m256 negOp(__m256 x) { return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f)); }

template <__m256 (*f)(__m256)>
void mapRow(const float* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)));
  if (i < n) {
    // The tail goes through the same vector code so every element sees one formula.
    alignas(32) float tail[8] = {};
    std::memcpy(tail, in + i, (n - i) * sizeof(float));
    _mm256_store_ps(tail, f(_mm256_load_ps(tail)));
    std::memcpy(out + i, tail, (n - i) * sizeof(float));
  }
}

}  // namespace

// nullptr when `name` has no AVX2 twin.
MapRow unaryMapAvx2(const char* name) {
  if (!std::strcmp(name, "exp")) return mapRow<expOp>;
  if (!std::strcmp(name, "erf")) return mapRow<erfOp>;
  if (!std::strcmp(name, "sqrt")) return mapRow<sqrtOp>;
  if (!std::strcmp(name, "neg")) return mapRow<negOp>;
  return nullptr;
}

}  // namespace petrel
