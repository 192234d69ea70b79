// Kernels around the integer GEMM that quantized inference needs (QLinearConv / QDQ Conv, Gemm,
// Add): requantization of int32 accumulators to uint8/int8 with per-column scales, zero points
// and a fused clamp (Relu/Clip), the uint8→int8 shift that feeds the s8×s8 igemm, im2col over
// channels-last int8 images, and the quantized elementwise Add. qlinear_ref.h is the spec.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// y[m, n] = clamp(rne(float(acc[m, n] + corr[n]) * scale[n]) + zp, lo, hi), where rne rounds
// half to even (the default rounding mode, as ONNX's QuantizeLinear and ONNX Runtime's MLAS
// requantization do). The product is clamped to ±1e9 before rounding so every path converts
// the same finite value. lo/hi are codes of the output type (Relu: lo = zp).
struct Requant {
  const int32_t* corr = nullptr;  // [N]: bias and zero-point correction, int32
  const float* scale = nullptr;   // [N]: x_scale · w_scale[n] / y_scale
  int32_t zp = 0, lo = 0, hi = 255;
};
// acc is M×N (row stride lda); y is M×N (row stride ldy).
void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy);
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy);

// y[i] = x[i] − 128 as int8 (x ^ 0x80): uint8 activations become the signed operand of the
// igemm; the GEMM caller adds 128·Σ_k w[n, k] back through Requant::corr.
void shift_u8_to_s8(int64_t n, const uint8_t* x, int8_t* y);

// 2-D convolution geometry (one image, one group). Input is channels-last [H][W][C].
struct Conv2dGeom {
  int64_t C = 0, H = 0, W = 0, KH = 1, KW = 1, OH = 0, OW = 0;
  int64_t stride_h = 1, stride_w = 1, pad_t = 0, pad_l = 0, dil_h = 1, dil_w = 1;
  int64_t k() const { return KH * KW * C; }
};
// a[(oh·OW + ow), (kh·KW + kw)·C + c] = x[ih, iw, c] or `pad` outside the image; a has row
// stride g.k(). Rows [p0, p1) only (callers split rows over threads).
void im2col_nhwc_s8(const Conv2dGeom& g, const int8_t* x, int8_t pad, int8_t* a, int64_t p0, int64_t p1);

// Quantized Add: y = clamp(rne(float(a − za)·ra + float(b − zb)·rb) + zy, lo, hi) with
// ra = a_scale / y_scale, rb = b_scale / y_scale, each product rounded in fp32 (no FMA).
struct QAddParams {
  int32_t za = 0, zb = 0, zy = 0, lo = 0, hi = 255;
  float ra = 1, rb = 1;
};
void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y);

}  // namespace lowbit::kernels
