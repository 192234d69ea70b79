// Softmax / log-softmax of one contiguous float row in 16 lanes (AVX-512F), the tail masked:
// the same max shift and the same exp as fast_exp (fp32_act.h: clamp, round(x / ln 2), split
// ln 2, degree-6 polynomial, exponent bits), with fused multiply-adds, so within a few ulp of it.
#include <immintrin.h>

#include <cmath>

#include "exp_avx512.h"
#include "fp32_rows_impl.h"

namespace lowbit::kernels::avx512 {
namespace {

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

}  // namespace

void softmax_row(int64_t D, const float* x, float* y, bool log) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < D; i += 16)
    vmax = _mm512_mask_max_ps(vmax, tail_mask(D - i), vmax, _mm512_maskz_loadu_ps(tail_mask(D - i), x + i));
  const float mx = _mm512_reduce_max_ps(vmax);
  const __m512 vmx = _mm512_set1_ps(mx);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += 16) {
    const __mmask16 m = tail_mask(D - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmx));
    if (!log) _mm512_mask_storeu_ps(y + i, m, e);
    vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
  }
  const float sum = _mm512_reduce_add_ps(vsum);
  if (log) {
    const __m512 shift = _mm512_set1_ps(mx + std::log(sum));
    for (int64_t i = 0; i < D; i += 16) {
      const __mmask16 m = tail_mask(D - i);
      _mm512_mask_storeu_ps(y + i, m, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), shift));
    }
  } else {
    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int64_t i = 0; i < D; i += 16) {
      const __mmask16 m = tail_mask(D - i);
      _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), inv));
    }
  }
}

}  // namespace lowbit::kernels::avx512
