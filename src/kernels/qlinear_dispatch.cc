// Path choice for the qlinear.h kernels (LOWBIT_ISA as for the igemm), and the data-movement
// kernels that have one portable implementation (im2col, the uint8 shift, the quantized Add:
// plain loops the compiler vectorizes; they are their own reference).
#include <cstring>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "qlinear_impl.h"

namespace lowbit::kernels {

void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_u8(M, N, acc, lda, p, y, ldy);
  ref::requantize_u8(M, N, acc, lda, p, y, ldy);
}

void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy) {
  if (active_isa() >= Isa::avx512) return avx512::requantize_s8(M, N, acc, lda, p, y, ldy);
  ref::requantize_s8(M, N, acc, lda, p, y, ldy);
}

void qadd_u8(int64_t n, const uint8_t* a, const uint8_t* b, const QAddParams& p, uint8_t* y) {
  ref::qadd_u8(n, a, b, p, y);
}

void shift_u8_to_s8(int64_t n, const uint8_t* x, int8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int8_t>(x[i] ^ 0x80u);
}

namespace {

// n bytes, n usually a multiple of 16 (channel counts): whole 16-byte moves the compiler inlines.
inline void copy_bytes(int8_t* dst, const int8_t* src, int64_t n) {
  if (n % 16 != 0) return static_cast<void>(std::memcpy(dst, src, static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; i += 16) __builtin_memcpy(dst + i, src + i, 16);
}

}  // namespace

void im2col_nhwc_s8(const Conv2dGeom& g, const int8_t* x, int8_t pad, int8_t* a, int64_t p0, int64_t p1) {
  const int64_t K = g.k(), C = g.C;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t oh = p / g.OW, ow = p % g.OW;
    int8_t* row = a + p * K;
    const int64_t iw0 = ow * g.stride_w - g.pad_l;
    const bool w_inside = iw0 >= 0 && iw0 + (g.KW - 1) * g.dil_w < g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * g.stride_h - g.pad_t + kh * g.dil_h;
      int8_t* dst = row + kh * g.KW * C;
      if (ih < 0 || ih >= g.H) {
        std::memset(dst, static_cast<unsigned char>(pad), static_cast<size_t>(g.KW * C));
        continue;
      }
      if (w_inside && g.dil_w == 1) {  // KW adjacent pixels: one contiguous run
        copy_bytes(dst, x + (ih * g.W + iw0) * C, g.KW * C);
        continue;
      }
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = iw0 + kw * g.dil_w;
        if (iw < 0 || iw >= g.W) std::memset(dst + kw * C, static_cast<unsigned char>(pad), static_cast<size_t>(C));
        else copy_bytes(dst + kw * C, x + (ih * g.W + iw) * C, C);
      }
    }
  }
}

}  // namespace lowbit::kernels
