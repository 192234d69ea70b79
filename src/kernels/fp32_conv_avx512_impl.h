// Internal to the AVX-512 convolution files (*_avx512.cc, compiled with AVX-512 flags): the
// 16-lane exp of fast_exp (fp32_act.h) and the fused epilogue of one output vector (residual
// sum, then ReLU, Clip, HardSwish or SiLU), shared by the dense direct and the depthwise kernels.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "lowbit/kernels/fp32_conv_plan.h"

// GCC 12 reports _mm512_undefined_ps inside its own max/min intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lowbit::kernels::avx512 {

// fast_exp in 16 lanes: the same clamp, round(x / ln 2), split ln 2, degree-6 polynomial and
// exponent bits, with fused multiply-adds, so within a few ulp of it.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  const __m512 magic = _mm512_set1_ps(12582912.0f);  // 1.5 * 2^23: round to integer
  const __m512 shifted = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic);
  const __m512 n = _mm512_sub_ps(shifted, magic);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e =
      _mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000 - 127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Epilogue of one output vector: residual (masked load), then the activation, masked store.
struct Epilogue {
  bool sum;
  ConvEpilogue::Act act;
  __m512 lo, hi;
  explicit Epilogue(const ConvEpilogue& ep)
      : sum(ep.sum), act(ep.act), lo(_mm512_set1_ps(ep.lo)), hi(_mm512_set1_ps(ep.hi)) {}
  void store(float* y, __mmask16 m, __m512 v) const {
    if (sum) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
    switch (act) {
      case ConvEpilogue::Act::none: break;
      case ConvEpilogue::Act::relu: v = _mm512_max_ps(v, _mm512_setzero_ps()); break;
      case ConvEpilogue::Act::clip: v = _mm512_min_ps(_mm512_max_ps(v, lo), hi); break;
      case ConvEpilogue::Act::hardswish: {  // v · min(max(v / 6 + 1/2, 0), 1)
        const __m512 g = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6), _mm512_set1_ps(0.5f));
        v = _mm512_mul_ps(v, _mm512_min_ps(_mm512_max_ps(g, _mm512_setzero_ps()), _mm512_set1_ps(1.0f)));
        break;
      }
      case ConvEpilogue::Act::silu:  // v / (1 + exp(-v))
        v = _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
        break;
    }
    _mm512_mask_storeu_ps(y, m, v);
  }
};

}  // namespace lowbit::kernels::avx512
