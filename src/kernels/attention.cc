// Attention of one head (attention.h): the scratch size, the dispatched entry point and the
// portable path (float loops over a packed K^T, softmax_rows' row kernel).
#include <algorithm>
#include <cstring>

#include "attention_impl.h"
#include "lowbit/kernels/transpose.h"
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

namespace {

// 8 floats in GCC's generic vectors (one AVX2 register at x86-64-v3): the sums below stay in
// registers. Written as plain arrays, GCC kept them on the stack and each step waited for the
// previous step's store (7x the AVX-512 path's time; now 3x).
typedef float F8 __attribute__((vector_size(32)));
inline F8 load8(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, F8 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace

void portable::attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v,
                              int64_t ld, float* y, int64_t ldy, float* scratch) {
  const int64_t Tp = attention_padded(T);
  float* kt = scratch;  // [dh][Tp], columns T .. Tp-1 zero
  float* s = kt + dh * Tp;
  float* p = s + Tp;
  transpose_f32(T, dh, k, ld, kt, Tp);  // kernels/transpose.h
  for (int64_t d = 0; d < dh; ++d)
    for (int64_t j = T; j < Tp; ++j) kt[d * Tp + j] = 0.0f;
  for (int64_t i = 0; i < T; ++i) {
    const float* qi = q + i * ld;
    for (int64_t j = 0; j < Tp; j += 16) {
      F8 a0 = {}, a1 = {};
      for (int64_t d = 0; d < dh; ++d) {
        const float qd = qi[d];
        a0 += qd * load8(kt + d * Tp + j);
        a1 += qd * load8(kt + d * Tp + j + 8);
      }
      store8(s + j, a0 * scale);
      store8(s + j + 8, a1 * scale);
    }
    portable::softmax_row(T, s, p, false);
    float* yi = y + i * ldy;
    for (int64_t c = 0; c < dh; c += 16) {
      if (dh - c < 16) {  // the tail of the head width
        for (int64_t cc = c; cc < dh; ++cc) {
          float a = 0;
          for (int64_t j = 0; j < T; ++j) a += p[j] * v[j * ld + cc];
          yi[cc] = a;
        }
        break;
      }
      F8 a0 = {}, a1 = {};
      for (int64_t j = 0; j < T; ++j) {
        a0 += p[j] * load8(v + j * ld + c);
        a1 += p[j] * load8(v + j * ld + c + 8);
      }
      store8(yi + c, a0);
      store8(yi + c + 8, a1);
    }
  }
}

}  // namespace lowbit::kernels
