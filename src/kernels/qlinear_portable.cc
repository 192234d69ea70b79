// The qlinear.h kernels with one portable implementation (im2col, the uint8 shift,
// dequantize_acc): plain loops the compiler vectorizes; they are their own reference.
#include <cstdint>
#include <cstring>

#include "lowbit/kernels/qlinear.h"

namespace lowbit::kernels {

void dequantize_acc(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const int32_t* corr, const float* scale,
                    const float* bias, float* y, int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const float v = static_cast<float>(acc[m * lda + n] + corr[n]) * scale[n];
      y[m * ldy + n] = bias ? v + bias[n] : v;
    }
}

void shift_u8_to_s8(int64_t n, const uint8_t* x, int8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int8_t>(x[i] ^ 0x80u);
}

namespace {

// n bytes, n usually a multiple of 16 (channel counts): whole 16-byte moves the compiler inlines.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n % 16 != 0) return static_cast<void>(std::memcpy(dst, src, static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; i += 16) __builtin_memcpy(dst + i, src + i, 16);
}

// Rows [p0, p1) of the channels-last im2col, row p at a0 + (p - p0)·lda.
void im2col_rows(const ConvGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a0, int64_t lda, int64_t p0, int64_t p1) {
  const int64_t C = g.C;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t oh = p / g.OW(), ow = p % g.OW();
    uint8_t* row = a0 + (p - p0) * lda;
    const int64_t iw0 = ow * g.stride_w() - g.pad_l();
    const bool w_inside = iw0 >= 0 && iw0 + (g.S() - 1) * g.dil_w() < g.W();
    for (int64_t kh = 0; kh < g.R(); ++kh) {
      const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h();
      uint8_t* dst = row + kh * g.S() * C;
      if (ih < 0 || ih >= g.H()) {
        std::memset(dst, pad, static_cast<size_t>(g.S() * C));
        continue;
      }
      if (w_inside && g.dil_w() == 1) {  // KW adjacent pixels: one contiguous run
        copy_bytes(dst, x + (ih * g.W() + iw0) * C, g.S() * C);
        continue;
      }
      for (int64_t kw = 0; kw < g.S(); ++kw) {
        const int64_t iw = iw0 + kw * g.dil_w();
        if (iw < 0 || iw >= g.W()) std::memset(dst + kw * C, pad, static_cast<size_t>(C));
        else copy_bytes(dst + kw * C, x + (ih * g.W() + iw) * C, C);
      }
    }
  }
}

}  // namespace

void im2col_nhwc_u8(const ConvGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a, int64_t lda, int64_t p0, int64_t p1) {
  im2col_rows(g, x, pad, a + p0 * lda, lda, p0, p1);
}

void im2col_nhwc_u8_chunk(const ConvGeom& g, const uint8_t* x, uint8_t pad, uint8_t* a, int64_t lda, int64_t p0, int64_t p1) {
  im2col_rows(g, x, pad, a, lda, p0, p1);
}

void subtract_zero_points(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, int32_t az, const int32_t* colsum,
                          int32_t wz, int32_t* c, int64_t ldc) {
  // In int64, wrapped to int32 at the end (modular, as the int32 sums of the reference wrap).
  for (int64_t m = 0; m < M; ++m) {
    int64_t rowsum = 0;
    for (int64_t k = 0; k < K; ++k) rowsum += a[m * lda + k];
    const int64_t row_term = K * int64_t{az} * wz - int64_t{wz} * rowsum;
    for (int64_t n = 0; n < N; ++n)
      c[m * ldc + n] = static_cast<int32_t>(c[m * ldc + n] + row_term - int64_t{az} * colsum[n]);
  }
}

void subtract_zero_points(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, int32_t az, const int32_t* colsum,
                          const int32_t* wz, int32_t* c, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    int64_t rowsum = 0;
    for (int64_t k = 0; k < K; ++k) rowsum += a[m * lda + k];
    const int64_t row_term = K * int64_t{az} - rowsum;  // times wz[n]
    for (int64_t n = 0; n < N; ++n)
      c[m * ldc + n] = static_cast<int32_t>(c[m * ldc + n] + row_term * wz[n] - int64_t{az} * colsum[n]);
  }
}

int64_t depthwise_s16_size(int64_t taps, int64_t C) { return (taps + 1) / 2 * C * 2; }

void depthwise_pack_s16(int64_t taps, int64_t C, const int16_t* w, int16_t* out) {
  for (int64_t t = 0; t < (taps + 1) / 2 * 2; ++t)
    for (int64_t c = 0; c < C; ++c) out[((t / 2) * C + c) * 2 + t % 2] = t < taps ? w[t * C + c] : int16_t{0};
}

}  // namespace lowbit::kernels
