// Attention of one head in 16 lanes (AVX-512F): K^T packed once per head, then query rows in
// blocks of kAttentionRows: their scores share each K^T load, each row's exponentials are
// softmax_row's (exp16: the same max shift, masked tail), and the weighted sums of V share each
// V load. Sums run in float in a fixed order (d for scores, j for outputs), so results do not
// depend on the blocking.
#include <immintrin.h>

#include <cmath>

#include "attention_impl.h"
#include "exp_avx512.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels::avx512 {
namespace {

inline __mmask16 lanes(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }

// Rows i0 .. i0+R-1: s[r] = scale * (q[i0+r] . K^T) with its running max, e[r] = exp(s[r] - max)
// with its sum, then y[i0+r] = (e[r] . V) / sum: softmax's normalization applied once to the dh
// outputs instead of to the T probabilities, and its max taken while the scores are made.
template <int R>
void row_block(int64_t T, int64_t Tp, int64_t dh, float scale, const float* q, const float* kt, const float* v,
               int64_t ld, float* y, int64_t ldy, float* s, float* e) {
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax[R];
  for (int r = 0; r < R; ++r) vmax[r] = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < Tp; j += 16) {
    const __mmask16 m = lanes(T - j);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t d = 0; d < dh; ++d) {
      const __m512 kv = _mm512_loadu_ps(kt + d * Tp + j);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * ld + d]), kv, acc[r]);
    }
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_mul_ps(acc[r], vscale);
      vmax[r] = _mm512_mask_max_ps(vmax[r], m, vmax[r], acc[r]);
      _mm512_storeu_ps(s + r * Tp + j, acc[r]);
    }
  }
  float inv[R];
  for (int r = 0; r < R; ++r) {
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[r]));
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < Tp; j += 16) {
      const __m512 x = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + r * Tp + j), mx));
      _mm512_storeu_ps(e + r * Tp + j, x);
      vsum = _mm512_mask_add_ps(vsum, lanes(T - j), vsum, x);
    }
    inv[r] = 1.0f / _mm512_reduce_add_ps(vsum);
  }
  for (int64_t c = 0; c < dh; c += 16) {
    const __mmask16 m = lanes(dh - c);
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t j = 0; j < T; ++j) {
      const __m512 vv = _mm512_maskz_loadu_ps(m, v + j * ld + c);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(e[r * Tp + j]), vv, acc[r]);
    }
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(y + r * ldy + c, m, _mm512_mul_ps(acc[r], _mm512_set1_ps(inv[r])));
  }
}

}  // namespace

void attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                    float* y, int64_t ldy, float* scratch) {
  const int64_t Tp = attention_padded(T);
  float* kt = scratch;  // [dh][Tp], columns T .. Tp-1 zero (their scores are never read)
  float* s = kt + dh * Tp;
  float* p = s + kAttentionRows * Tp;
  transpose_f32(T, dh, k, ld, kt, Tp);  // kernels/transpose.h
  for (int64_t d = 0; d < dh; ++d)
    for (int64_t j = T; j < Tp; ++j) kt[d * Tp + j] = 0.0f;
  int64_t i = 0;
  for (; i + kAttentionRows <= T; i += kAttentionRows)
    row_block<kAttentionRows>(T, Tp, dh, scale, q + i * ld, kt, v, ld, y + i * ldy, ldy, s, p);
  for (; i < T; ++i) row_block<1>(T, Tp, dh, scale, q + i * ld, kt, v, ld, y + i * ldy, ldy, s, p);
}

}  // namespace lowbit::kernels::avx512
