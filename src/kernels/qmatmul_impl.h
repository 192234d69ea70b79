// Private per-ISA entry points of qmatmul.h (products of two quantized activations), chosen by
// dispatch_qmatmul.cc.
#pragma once

#include <cstdint>

namespace lowbit::kernels::avx512vnni {
// The VNNI panels of qgemm_pack (qlinear_impl.h) for w = B'ᵀ, built straight from B (K×N,
// row stride ldb) without the transpose: B' = B, or B − 128 (x ^ 0x80) when flip (uint8 codes).
// colsum[n] = Σ_k B'[k, n]. Same bytes as qgemm_pack(N, K, B'ᵀ, panels).
void qmatmul_pack_b(int64_t N, int64_t K, const int8_t* b, int64_t ldb, bool flip, void* panels, int32_t* colsum);
}  // namespace lowbit::kernels::avx512vnni
