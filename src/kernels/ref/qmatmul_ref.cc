// Plain-loop product of two quantized activations (the spec of qmatmul.h): exact int32 sums
// wrapping modulo 2^32, then the requantization of qlinear_ref.cc with a zero correction.
#include "lowbit/kernels/qmatmul_ref.h"

#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels::ref {
namespace {

int32_t code(const QOperand& x, int64_t r, int64_t c) {
  const int64_t i = r * x.ld + c;
  return x.is_signed ? int32_t{static_cast<const int8_t*>(x.codes)[i]} : int32_t{static_cast<const uint8_t*>(x.codes)[i]};
}

int32_t product(int64_t m, int64_t n, int64_t K, const QOperand& a, const QOperand& b) {
  uint32_t s = 0;  // unsigned: the int32 sum wraps (defined) instead of overflowing
  for (int64_t k = 0; k < K; ++k) s += static_cast<uint32_t>((code(a, m, k) - a.zp) * (code(b, k, n) - b.zp));
  return static_cast<int32_t>(s);
}

template <typename T>
void requant(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p, T* y, int64_t ldy) {
  const int32_t zero = 0;
  const Requant r{&zero, &p.scale, p.zp, p.lo, p.hi};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const int32_t acc = product(m, n, K, a, b);
      if constexpr (sizeof(T) == 1 && static_cast<T>(-1) < 0) ref::requantize_s8(1, 1, &acc, 1, r, y + m * ldy + n, 1);
      else ref::requantize_u8(1, 1, &acc, 1, r, y + m * ldy + n, 1);
    }
}

}  // namespace

void qmatmul_s32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, int32_t* c, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) c[m * ldc + n] = product(m, n, K, a, b);
}

void qmatmul_requant_u8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        uint8_t* y, int64_t ldy) {
  requant(M, N, K, a, b, p, y, ldy);
}
void qmatmul_requant_s8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        int8_t* y, int64_t ldy) {
  requant(M, N, K, a, b, p, y, ldy);
}

void qmatmul_f32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, float scale, float* y, int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) y[m * ldy + n] = static_cast<float>(product(m, n, K, a, b)) * scale;
}

}  // namespace lowbit::kernels::ref
