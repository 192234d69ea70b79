// Fused scaled dot-product attention of one head (a transformer encoder's self-attention core):
// scores, softmax and the probability-weighted sum of values in one pass per block of query
// rows, so the T x T score matrix never exists; only a few T-float rows of scratch do.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// Floats of scratch attention_head needs for T tokens of head width dh.
int64_t attention_scratch_floats(int64_t T, int64_t dh);

// One head over T tokens of width dh. Token t of q, k, v starts at q + t * ld (k + t * ld,
// v + t * ld; the packed q|k|v rows of a QKV projection share one stride), of y at y + t * ldy:
//   y[t] = sum_j softmax_j(scale * (q[t] . k[j])) v[j]
// The product q . k is summed in float and then multiplied by scale (the order of the
// MatMul -> Mul -> Softmax -> MatMul it replaces); the softmax is softmax_rows' (fast_exp, float
// sum). y must not overlap q, k or v. scratch: attention_scratch_floats(T, dh) floats.
void attention_head(int64_t T, int64_t dh, float scale, const float* q, const float* k, const float* v, int64_t ld,
                    float* y, int64_t ldy, float* scratch);

namespace ref {
// The specification: each score, the softmax and the weighted sum in double with libm's exp,
// rounded once to T (float or double). Needs no scratch (scores are recomputed per pass).
template <typename T>
void attention_head(int64_t Tn, int64_t dh, double scale, const T* q, const T* k, const T* v, int64_t ld, T* y,
                    int64_t ldy);
}  // namespace ref

}  // namespace lowbit::kernels
