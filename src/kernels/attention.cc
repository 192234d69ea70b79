// Attention of one head (attention.h): the scratch size, the dispatched entry point and the
// portable path (float loops over a packed K^T, softmax_rows' row kernel).
#include <algorithm>

#include "attention_impl.h"
#include "fp32_rows_impl.h"
#include "lowbit/kernels/attention.h"

namespace lowbit::kernels {

int64_t attention_scratch_floats(int64_t T, int64_t dh) {
  const int64_t Tp = attention_padded(T);
  return dh * Tp + 2 * kAttentionRows * Tp;
}

void attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                    float* y, int64_t ldy, float* scratch) {
  if (T <= 0 || dh <= 0) return;
  detail::attention_head_kernel()(T, dh, scale, q, k, v, ld, y, ldy, scratch);
}

void portable::attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v,
                              int64_t ld, float* y, int64_t ldy, float* scratch) {
  const int64_t Tp = attention_padded(T);
  float* kt = scratch;  // [dh][Tp]
  float* s = kt + dh * Tp;
  float* p = s + Tp;
  for (int64_t d = 0; d < dh; ++d)
    for (int64_t j = 0; j < T; ++j) kt[d * Tp + j] = k[j * ld + d];
  for (int64_t i = 0; i < T; ++i) {
    std::fill(s, s + T, 0.0f);
    for (int64_t d = 0; d < dh; ++d) {
      const float qd = q[i * ld + d];
      const float* kr = kt + d * Tp;
#pragma omp simd
      for (int64_t j = 0; j < T; ++j) s[j] += qd * kr[j];
    }
#pragma omp simd
    for (int64_t j = 0; j < T; ++j) s[j] *= scale;
    portable::softmax_row(T, s, p, false);
    float* yi = y + i * ldy;
    std::fill(yi, yi + dh, 0.0f);
    for (int64_t j = 0; j < T; ++j) {
      const float pj = p[j];
      const float* vj = v + j * ld;
#pragma omp simd
      for (int64_t c = 0; c < dh; ++c) yi[c] += pj * vj[c];
    }
  }
}

}  // namespace lowbit::kernels
