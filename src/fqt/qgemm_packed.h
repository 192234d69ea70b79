// Private to fqt: the scaled integer GEMM of qgemm.h with its B operand packed once and reused
// for several products (row blocks of one A, or many A), so that a caller can cut a product into
// pieces that stay in cache without packing B again for each.
#pragma once

#include <cstdint>

#include "lowbit/fqt/qgemm.h"
#include "lowbit/kernels/igemm.h"

namespace lowbit::fqt {

struct PackedOperand {
  kernels::IgemmPackedB codes;  // B's (N, K) codes, packed for g's accumulator model
  float scale = 1.0f;
};
PackedOperand pack_operand(const QTensor& B, const GemmConfig& g);

// Rows [r0, r1) of int_matmul(A, B, g, extra, C, ldc), written to C's first r1 - r0 rows;
// B packed by pack_operand with the same g. Bit for bit the rows int_matmul writes.
void int_matmul_rows(const QTensor& A, int64_t r0, int64_t r1, const PackedOperand& B, const GemmConfig& g, float extra,
                     float* C, int64_t ldc);

}  // namespace lowbit::fqt
