// Scalar reference of qlinear.h: one element at a time. The specification of every fast path.
#pragma once

#include "lowbit/kernels/qgemm_grouped.h"
#include "lowbit/kernels/qlinear.h"

namespace lowbit::kernels::ref {

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy);
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy);
// C (M×N) = A (u8, M×K) · Wᵀ (W int8, N×K), one element at a time.
void qgemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const int8_t* w, int64_t ldw, int32_t* c,
                int64_t ldc);
// The same with int4 weights: w[n, k] is nibble k % 2 of byte n·ldw_bytes + k / 2, sign-extended.
void qgemm_u8s4(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const uint8_t* w, int64_t ldw_bytes,
                int32_t* c, int64_t ldc);
void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1);
void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1);
void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y);
// qgemm_grouped.h with plain int8 weights w (N×K, codes in [-8, 7], row stride ldw) in groups of
// `group` k: one output at a time, its groups in ascending order, each group's int32 sum k by k.
void qgemm_u8s4_grouped_f32(int64_t M, int64_t N, int64_t K, int64_t group, const uint8_t* a, int64_t lda, const int8_t* w,
                            int64_t ldw, const GroupedEpilogue& ep, float* y, int64_t ldy);

}  // namespace lowbit::kernels::ref
