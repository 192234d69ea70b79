// The integer matmul loops of int_matmul_ref.h (moved from the ONNX engine's quant.cc, where
// they read every element through Array::get_i64).
#include "lowbit/kernels/int_matmul_ref.h"

namespace lowbit::kernels::ref {
namespace {

template <typename TA, typename TB>
void matmul_integer_impl(int64_t M, int64_t N, int64_t K, const TA* a, const TB* b, const IntMatmulZeroPoints& z,
                         int32_t* acc) {
  for (int64_t m = 0; m < M; ++m) {
    const int32_t za = z.a_zp ? z.a_zp[z.a_zp_per_row ? m : 0] : 0;
    for (int64_t n = 0; n < N; ++n) {
      const int32_t zb = z.b_zp ? z.b_zp[z.b_zp_per_col ? n : 0] : 0;
      uint32_t s = 0;  // unsigned: the int32 sum wraps (defined) instead of overflowing
      for (int64_t k = 0; k < K; ++k)
        s += static_cast<uint32_t>((int32_t(a[m * K + k]) - za) * (int32_t(b[k * N + n]) - zb));
      acc[m * N + n] = static_cast<int32_t>(s);
    }
  }
}

}  // namespace

void matmul_integer(int64_t M, int64_t N, int64_t K, const uint8_t* a, const uint8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc) {
  matmul_integer_impl(M, N, K, a, b, z, acc);
}
void matmul_integer(int64_t M, int64_t N, int64_t K, const uint8_t* a, const int8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc) {
  matmul_integer_impl(M, N, K, a, b, z, acc);
}
void matmul_integer(int64_t M, int64_t N, int64_t K, const int8_t* a, const uint8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc) {
  matmul_integer_impl(M, N, K, a, b, z, acc);
}
void matmul_integer(int64_t M, int64_t N, int64_t K, const int8_t* a, const int8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc) {
  matmul_integer_impl(M, N, K, a, b, z, acc);
}

}  // namespace lowbit::kernels::ref
