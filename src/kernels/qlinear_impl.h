// Private per-ISA entry points of the qlinear.h kernels, chosen by dispatch.cc.
#pragma once

#include "lowbit/kernels/qlinear.h"

namespace lowbit::kernels::avx512 {
void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy);
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy);
void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y);
void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1);
// depthwise_s32_avx512.cc: two taps per `vpmaddwd`.
void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1);
}  // namespace lowbit::kernels::avx512

namespace lowbit::kernels::avx512vnni {
// Whether a requantized product of K-term sums can skip the ±1e9 clamp (qgemm_avx512vnni.cc).
bool requant_clamp_free(const Requant* rq, int64_t N, int64_t K);
// Panels of 16 columns × groups of four k (64 bytes per group), int8 as is, zero-padded.
int64_t qgemm_panel_bytes(int64_t N, int64_t K);
void qgemm_pack(int64_t N, int64_t K, const int8_t* w, void* panels);
void qgemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c, int64_t ldc);
// With the requantization of qlinear.h fused into the store; out_signed picks int8 codes.
void qgemm_u8s8_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                        void* y, int64_t ldy, bool out_signed);
// Implicit GEMM (qgemm_taps_requant_* of qlinear.h); C % 4 == 0, w packed with K = taps·C.
// images > 1: the same product on that many images (A at a + i·a_image, y at y + i·y_image
// elements), column-group-major so the weights of a group stay in cache across images.
void qgemm_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                        const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed, int64_t images = 1,
                        int64_t a_image = 0, int64_t y_image = 0);
// N <= 16 columns, K % 16 == 0 (qgemm_n16_avx512vnni.cc): K in the register lanes, four
// multiply-adds per activation load; panels of 16 k × 16 columns (256 bytes), zero-padded.
int64_t qgemm_n16_panel_bytes(int64_t K);
void qgemm_n16_pack(int64_t N, int64_t K, const int8_t* w, void* panels);
void qgemm_n16_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c,
                    int64_t ldc);
void qgemm_n16_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                       void* y, int64_t ldy, bool out_signed);
// Implicit GEMM: C % 16 == 0, w packed with K = taps·C.
void qgemm_n16_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                            const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed);
// Depthwise 3×3, stride 1 or 2 (both axes), dilation 1 (depthwise_avx512vnni.cc): two taps per `vpdpwssd`.
void depthwise3x3_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                          int64_t oh0, int64_t oh1);
// W4A8: the same products with int4 weights (codes in [-8, 7]) two per byte, 64-byte blocks of
// 16 columns × two groups of four k (low nibbles the first group), the four panels of each
// 64-column group interleaved. unpack = false: nibbles widened in registers on every row block
// (few rows: memory-bound); true: each column group widened once into int8 panels per task and
// the int8 micro-kernel run over its rows (many rows: compute-bound). The taps variant needs
// C % 8 == 0 without unpack, C % 4 == 0 with it.
int64_t qgemm_w4_panel_bytes(int64_t N, int64_t K);
void qgemm_w4_pack(int64_t N, int64_t K, const int8_t* w, void* panels);
void qgemm_u8s4(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c, int64_t ldc,
                bool unpack);
void qgemm_u8s4_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                        void* y, int64_t ldy, bool out_signed, bool unpack);
void qgemm_u8s4_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a,
                             int64_t lda, const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed,
                             bool unpack);
}  // namespace lowbit::kernels::avx512vnni
