#pragma once
// AVX2/FMA vector math for the fused activations. Include only from *_avx2.cpp
// files (compiled with -mavx2 -mfma). Accuracy: exp ~2 ulp (Cephes polynomial),
// tanh ~2e-7 relative, erf (for GELU) under 4e-7 absolute (a fitted rational function).
#include <immintrin.h>

#include <type_traits>

#include "kernels/activation.h"

namespace petrel::avx2 {

// e^x, clamped to the float range so 2^n never overflows or goes subnormal.
static inline __m256 exp(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  // x = n*ln2 + r, |r| <= ln2/2; ln2 split in two for an exact reduction.
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // Scale by 2^n through the exponent bits.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 sigmoid(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// Odd polynomial near 0 (no cancellation), 1 - 2/(e^2|x| + 1) elsewhere.
static inline __m256 tanh(__m256 x) {
  const __m256 signMask = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(signMask, x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), x, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp(_mm256_add_ps(ax, ax));
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, _mm256_and_ps(signMask, x));  // copy the sign of x
  return _mm256_blendv_ps(small, large, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_GT_OQ));
}

// 0.5 x (1 + erf(x / sqrt 2)), erf(z) = z P(z^2) / Q(z^2) on z clamped to
// [-4, 4] (erf(4) is 1 in float). P and Q come from scripts/fit_erf.py (least
// squares on the absolute error, iterated to near-minimax): 3e-9 in exact
// arithmetic, under 4e-7 absolute evaluated in float. No exp and one
// division: about half the work of erfc = poly(t) e^{-z^2}, which matters as
// GELU runs in the store of ViT's widest products.
static inline __m256 gelu(__m256 x) {
  const __m256 limit = _mm256_set1_ps(4.0f);
  __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  z = _mm256_min_ps(_mm256_max_ps(z, _mm256_sub_ps(_mm256_setzero_ps(), limit)), limit);
  const __m256 u = _mm256_mul_ps(z, z);
  __m256 p = _mm256_set1_ps(-1.369502378e-08f);
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(4.787317721e-06f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(3.828986373e-04f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(3.837558208e-03f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(5.432957783e-02f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(1.846421808e-01f));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(1.128379226e+00f));
  __m256 q = _mm256_set1_ps(6.407477485e-05f);
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(1.309462823e-03f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(1.545025501e-02f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(1.138034686e-01f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(4.969684184e-01f));
  q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(1.0f));
  const __m256 erf = _mm256_div_ps(_mm256_mul_ps(z, p), q);
  const __m256 half = _mm256_mul_ps(_mm256_set1_ps(0.5f), x);
  return _mm256_fmadd_ps(half, erf, half);
}

static inline __m256 clamp01(__m256 x) {
  return _mm256_min_ps(_mm256_max_ps(x, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
}

// The activations that need exp, tanh or erf: out of line, so the cheap ones
// below inline into every kernel's store without bloating it.
[[gnu::noinline]] static __m256 activateTranscendental(const ActivationParams& p, __m256 x) {
  switch (p.kind) {
    case Activation::kSigmoid: return sigmoid(x);
    case Activation::kSilu: return _mm256_mul_ps(x, sigmoid(x));
    case Activation::kTanh: return tanh(x);
    case Activation::kGelu: return gelu(x);
    default: return x;
  }
}

// The vector twin of the scalar applyActivation in kernels/activation.h.
// Always inlined: ReLU6 (Clip) and HardSwish run in every MobileNet store.
[[gnu::always_inline]] static inline __m256 activate(const ActivationParams& p, __m256 x) {
  switch (p.kind) {
    case Activation::kNone: return x;
    case Activation::kRelu: return _mm256_max_ps(x, _mm256_setzero_ps());
    case Activation::kClip:
      return _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(p.alpha)), _mm256_set1_ps(p.beta));
    case Activation::kHardSigmoid:
      return clamp01(_mm256_fmadd_ps(x, _mm256_set1_ps(p.alpha), _mm256_set1_ps(p.beta)));
    case Activation::kHardSwish:
      return _mm256_mul_ps(x, clamp01(_mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f))));
    default: return activateTranscendental(p, x);
  }
}

// A fused activation chosen once per tile or plane, so that a kernel's inner
// store has nothing to look up per vector: the common kinds inline (GELU too:
// through a call, the 12 vectors of a 6x16 tile are computed one after the
// other instead of overlapping), any other through activate().
enum class Fused { kNone, kRelu, kClip, kHardSwish, kGelu, kAny };

template <Fused F>
[[gnu::always_inline]] static inline __m256 activateAs(const ActivationParams& p, __m256 x) {
  if constexpr (F == Fused::kNone) return x;
  if constexpr (F == Fused::kRelu) return _mm256_max_ps(x, _mm256_setzero_ps());
  if constexpr (F == Fused::kClip)
    return _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(p.alpha)), _mm256_set1_ps(p.beta));
  if constexpr (F == Fused::kHardSwish)
    return _mm256_mul_ps(x, clamp01(_mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f))));
  if constexpr (F == Fused::kGelu) return gelu(x);
  return activate(p, x);
}

// Calls body(std::integral_constant<Fused, F>{}) with the F that serves `kind`.
template <class Body>
[[gnu::always_inline]] static inline void withFused(Activation kind, Body&& body) {
  switch (kind) {
    case Activation::kNone: body(std::integral_constant<Fused, Fused::kNone>{}); break;
    case Activation::kRelu: body(std::integral_constant<Fused, Fused::kRelu>{}); break;
    case Activation::kClip: body(std::integral_constant<Fused, Fused::kClip>{}); break;
    case Activation::kHardSwish: body(std::integral_constant<Fused, Fused::kHardSwish>{}); break;
    case Activation::kGelu: body(std::integral_constant<Fused, Fused::kGelu>{}); break;
    default: body(std::integral_constant<Fused, Fused::kAny>{}); break;
  }
}

}  // namespace petrel::avx2
