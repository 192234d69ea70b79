// Plain-loop integer matmul of ONNX MatMulInteger / QLinearMatMul with zero points: the ONNX
// engine's implementation for those ops until they are lowered to the packed igemm (qlinear.h),
// and their specification. Exact: int32 accumulation, wrapping modulo 2^32 as ONNX Runtime's does.
#pragma once

#include <cstdint>

namespace lowbit::kernels::ref {

// acc (M×N) = Σ_k (a[m, k] − a_zp[m]) · (b[k, n] − b_zp[n]), a (M×K) and b (K×N) row-major.
// a_zp holds M values (a_zp_per_row) or one; b_zp N values (b_zp_per_col) or one; either may be
// null (zero). uint8 or int8 operands.
struct IntMatmulZeroPoints {
  const int32_t* a_zp = nullptr;
  bool a_zp_per_row = false;
  const int32_t* b_zp = nullptr;
  bool b_zp_per_col = false;
};
void matmul_integer(int64_t M, int64_t N, int64_t K, const uint8_t* a, const uint8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc);
void matmul_integer(int64_t M, int64_t N, int64_t K, const uint8_t* a, const int8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc);
void matmul_integer(int64_t M, int64_t N, int64_t K, const int8_t* a, const uint8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc);
void matmul_integer(int64_t M, int64_t N, int64_t K, const int8_t* a, const int8_t* b, const IntMatmulZeroPoints& z,
                    int32_t* acc);

}  // namespace lowbit::kernels::ref
