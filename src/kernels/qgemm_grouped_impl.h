// Private per-ISA entry point of qgemm_grouped.h, chosen by dispatch_qgemm_grouped.cc.
#pragma once

#include "lowbit/kernels/qgemm_grouped.h"

namespace lowbit::kernels::avx512vnni {
// Panels: qgemm_w4_pack's layout (qlinear_impl.h); group a multiple of 8.
void qgemm_u8s4_grouped(int64_t M, int64_t N, int64_t K, int64_t group, const uint8_t* a, int64_t lda, const void* panels,
                        const GroupedEpilogue& ep, float* y, int64_t ldy);
}  // namespace lowbit::kernels::avx512vnni
