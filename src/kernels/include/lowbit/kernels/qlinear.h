// Kernels around the integer GEMM that quantized inference needs (QLinearConv / QDQ Conv, Gemm,
// Add): requantization of int32 accumulators to uint8/int8 with per-column scales, zero points
// and a fused clamp (Relu/Clip), the uint8→int8 shift that feeds the s8×s8 igemm, im2col over
// channels-last int8 images, and the quantized elementwise Add. qlinear_ref.h is the spec.
#pragma once

#include <cstdint>
#include <memory>

#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels {

// u8×s8 GEMM of quantized inference: C[m, n] = Σ_k a[m, k]·w[n, k], exact in int32, a the
// uint8 activation codes (M×K, row stride lda), w int8 weights (N×K) packed once. AVX-512 VNNI
// broadcasts a as the unsigned operand of vpdpbusd and reads w as the signed one: no shift of
// the codes and no row-sum correction. Other paths shift a to int8 (a − 128), run igemm_s32 and
// add 128·Σ_k w[n, k] back; every path equals the reference bit for bit.
// Preconditions: 1 <= K <= 65536; rows of a readable up to a multiple of 4 bytes past K (the
// bytes there are ignored: the panels hold zeros beyond K).
struct QgemmPackedW {
  int64_t n = 0, k = 0;
  int bits = 8;                           // 4: W4A8 (qgemm_pack_w4)
  std::shared_ptr<const int8_t> plain;    // N×K codes (bits 8), or N rows of ⌈K/2⌉ bytes of nibbles (bits 4)
  std::shared_ptr<const int32_t> colsum;  // Σ_k w[n, k]
  std::shared_ptr<const void> panels;     // VNNI panels of `bits`-bit weights; null when packed on another path
  std::shared_ptr<const void> panels8;    // bits 4, if asked for: VNNI int8 panels of the same codes (products of many rows)
  std::shared_ptr<const void> panels16;   // bits 8, N <= 16, K % 16 == 0: VNNI panels with K in the lanes
};
QgemmPackedW qgemm_pack_w(int64_t N, int64_t K, const int8_t* w);
// W4A8: w holds int8 codes that all lie in [-8, 7] (the caller checks: qgemm_fits_int4); they
// are stored two per byte (element k of a row is nibble k % 2 of byte k / 2, the DType::i4
// layout), so a product reads half the weight bytes of qgemm_pack_w's. Every product below
// accepts either packing and gives the same int32 sums. int8_panels: also keep int8 VNNI panels
// of the codes, which products of qgemm_w4_unpack_rows() rows or more run on (the int8 kernel:
// never slower than W8A8 there; the packed weights then take as much memory as qgemm_pack_w's).
// Without them such products widen the nibbles once per column group and task instead.
QgemmPackedW qgemm_pack_w4(int64_t N, int64_t K, const int8_t* w, bool int8_panels = false);
bool qgemm_fits_int4(int64_t n, const int8_t* w);
// Which kernel a product of M rows with these weights runs on the active path (for benchmark
// rows: no silent fallback), e.g. "avx512vnni u8s4", "avx512vnni u8s4 (widened per column
// group)" or "avx512vnni u8s8 (int4 codes, int8 panels)" (int4 weights, many rows),
// "avx512vnni u8s8", "ref u8s4".
const char* qgemm_kernel_name(int64_t M, const QgemmPackedW& w);
// Products with int4 weights of at least this many rows run on the int8 panels (when packed
// with them) or widen the nibbles once per column group, instead of in registers per row block
// (memory-bound, few rows); same sums.
void set_qgemm_w4_unpack_rows(int64_t rows);
int64_t qgemm_w4_unpack_rows();
void qgemm_u8s8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, int32_t* c, int64_t ldc);

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

// The integer conv kernels below take one image of a rank-2 ConvGeom (conv_geom.h) with one
// group (C input channels; N, K, groups are the caller's), input channels-last [H][W][C].
// a[(oh·OW + ow), (r·S + q)·C + c] = x[ih, iw, c] or `pad` outside the image (uint8 codes;
// pad is the input's zero point); a has row stride lda >= g.patch(). Rows [p0, p1) only (callers
// split rows over threads).
void im2col_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a, int64_t lda, int64_t p0, int64_t p1);
// The same rows written from the start of a: row p at a + (p - p0)·lda (a buffer for one chunk).
void im2col_nhwc_u8_chunk(const ConvGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a, int64_t lda, int64_t p0,
                          int64_t p1);

// The zero-point terms of an integer product whose zero points are known only at run time
// (ConvInteger after DynamicQuantizeLinear): given c[m, n] = Σ_k a[m, k]·w[n, k] over K columns
// (qgemm_u8s8) and colsum[n] = Σ_k w[n, k], adds K·az·wz − wz·Σ_k a[m, k] − az·colsum[n], so
// c[m, n] = Σ_k (a[m, k] − az)·(w[n, k] − wz), wrapped to int32 as int32 sums wrap. One portable
// implementation; tests/kernels checks it against that sum.
void subtract_zero_points(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, int32_t az, const int32_t* colsum,
                          int32_t wz, int32_t* c, int64_t ldc);

// The same with a zero point per column of w (ConvInteger's per-output-channel w_zero_point):
// adds K·az·wz[n] − wz[n]·Σ_k a[m, k] − az·colsum[n].
void subtract_zero_points(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, int32_t az, const int32_t* colsum,
                          const int32_t* wz, int32_t* c, int64_t ldc);

// y[m, n] = float(acc[m, n] + corr[n])·scale[n] + bias[n] (bias may be null): the float result
// of a quantized layer without a trailing QuantizeLinear. One portable implementation.
void dequantize_acc(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const int32_t* corr, const float* scale,
                    const float* bias, float* y, int64_t ldy);

// Quantized Add: y = clamp(rne(fma(float(b − zb), rb, float(a − za)·ra)) + zy, lo, hi) with
// ra = a_scale / y_scale, rb = b_scale / y_scale: the first product rounded in fp32, the second
// fused into the sum (one fixed rounding sequence, whatever the compiler contracts).
struct QAddParams {
  int32_t za = 0, zb = 0, zy = 0, lo = 0, hi = 255;
  float ra = 1, rb = 1;
};
void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y);

// Depthwise convolution (one filter per channel) on channels-last uint8 codes, requantized:
//   y[oh, ow, c] = requant_c(Σ_{kh, kw} x[ih, iw, c] · w[kh·KW + kw, c])
// with taps outside the image reading `pad` (the zero point; Requant::corr holds −z·Σ w and
// the bias, as for the GEMM). x is [H][W][C], w tap-major [KH·KW][C] int8, y [OH][OW][C]. Output
// rows [oh0, oh1) only (callers split rows over threads).
void depthwise_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int8_t* w, const Requant& p, uint8_t* y,
                       int64_t oh0, int64_t oh1);

// Depthwise convolution's int32 sums (ConvInteger with one filter per channel), channels-last:
//   y[oh, ow, c] = corr[c] + Σ_t x[ih, iw, c] · w[t, c]   (t = kh·KW + kw; taps outside read `pad`)
// With pad = x's zero point z, w = the weights minus their zero point and corr[c] = −z·Σ_t w[t, c],
// this is Σ_t (x − z)·(w − wz), padding contributing zero. w is int16 in [−255, 255] packed by
// depthwise_pack_s16: pairs of taps, [⌈T/2⌉][C][2]. x is [H][W][C], y [OH][OW][C]; sums wrap as
// int32. Output rows [oh0, oh1) only.
int64_t depthwise_s16_size(int64_t taps, int64_t C);
// w tap-major [T][C] (int16, |w| <= 255) → the pairs layout: out[(j·C + c)·2 + i] = w[2j + i, c],
// zero for the missing tap of an odd T.
void depthwise_pack_s16(int64_t taps, int64_t C, const int16_t* w, int16_t* out);
void depthwise_nhwc_s32(const ConvGeom& g, const uint8_t* x, uint8_t pad, const int16_t* w, const int32_t* corr, int32_t* y,
                        int64_t oh0, int64_t oh1);

// qgemm_u8s8 followed by requantize_u8 / requantize_s8 (p over the N columns), the int32
// block never leaving registers on the VNNI path. Same bytes as the two calls.
void qgemm_u8s8_requant_u8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, uint8_t* y,
                           int64_t ldy);
void qgemm_u8s8_requant_s8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p, int8_t* y,
                           int64_t ldy);

// A quantized Add of a residual fused after the requantized product (a conv followed by the
// residual Add of a ResNet block): y = qadd_u8(requant(product), r) — the product's codes are
// QAdd's first operand, or its second with residual_first — for M×N residual codes r (row
// stride ldr). Row blocks whose output and residual stay in L2 run product then Add, so the
// product's codes never travel to memory; same bytes as qgemm_u8s8_requant_u8 then qadd_u8.
// r must not overlap y.
struct QAddResidual {
  const uint8_t* r = nullptr;
  int64_t ldr = 0;
  QAddParams p;
  bool residual_first = false;
};
void qgemm_u8s8_requant_add_u8(int64_t M, const uint8_t* a, int64_t lda, const QgemmPackedW& w, const Requant& p,
                               const QAddResidual& add, uint8_t* y, int64_t ldy);

// Implicit GEMM of a stride-1 convolution over a padded channels-last image: row m of A is
// the concatenation over taps t of the C bytes at a + m·lda + off[t], i.e.
//   y[m, n] = requant(Σ_t Σ_{c<C} a[m·lda + off[t] + c] · w[n, t·C + c]),  w packed with K = taps·C.
// Requires C % 4 == 0; every byte addressed must be readable. Same bytes as building the rows
// (im2col) and calling qgemm_u8s8_requant_u8.
// With images.count > 1 the same product runs on that many images, image i reading A at
// a + i·images.a_stride and writing y + i·images.y_stride: one call, so each column group's
// weights are read once for all images (batch-8 ResNet layers whose weights exceed L2).
struct TapsImages {
  int64_t count = 1, a_stride = 0, y_stride = 0;
};
void qgemm_taps_requant_u8(int64_t M, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                           const QgemmPackedW& w, const Requant& p, uint8_t* y, int64_t ldy, const TapsImages& images = {});

}  // namespace lowbit::kernels
