// Private per-ISA entry points of the qlinear.h kernels, chosen by qlinear_dispatch.cc.
#pragma once

#include "lowbit/kernels/qlinear.h"

namespace lowbit::kernels::avx512 {
void requantize_u8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, uint8_t* y, int64_t ldy);
void requantize_s8(int64_t M, int64_t N, const int32_t* acc, int64_t lda, const Requant& p, int8_t* y, int64_t ldy);
}  // namespace lowbit::kernels::avx512
