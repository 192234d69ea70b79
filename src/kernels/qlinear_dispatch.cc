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

void im2col_nhwc_s8(const Conv2dGeom& g, const int8_t* x, int8_t pad, int8_t* a, int64_t p0, int64_t p1) {
  const int64_t K = g.k(), C = g.C;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t oh = p / g.OW, ow = p % g.OW;
    int8_t* row = a + p * K;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * g.stride_h - g.pad_t + kh * g.dil_h;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = ow * g.stride_w - g.pad_l + kw * g.dil_w;
        int8_t* dst = row + (kh * g.KW + kw) * C;
        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) std::memset(dst, static_cast<unsigned char>(pad), static_cast<size_t>(C));
        else std::memcpy(dst, x + (ih * g.W + iw) * C, static_cast<size_t>(C));
      }
    }
  }
}

}  // namespace lowbit::kernels
