// Plain loops that specify qmatmul.h (the product of two quantized activations): the integer
// product is ref::matmul_integer with scalar zero points, the requantization ref::requantize_*'s
// rounding with a zero correction.
#pragma once

#include <cstdint>

#include "lowbit/kernels/qmatmul.h"

namespace lowbit::kernels::ref {

void qmatmul_s32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, int32_t* c, int64_t ldc);
void qmatmul_requant_u8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        uint8_t* y, int64_t ldy);
void qmatmul_requant_s8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        int8_t* y, int64_t ldy);
void qmatmul_f32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, float scale, float* y, int64_t ldy);

}  // namespace lowbit::kernels::ref
