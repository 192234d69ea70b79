// Private to fqt: quantize_operand by rows, and the scaled integer GEMM of qgemm.h in the forms
// QConv2d needs beyond int_matmul: B packed once and reused for several products (row blocks of one A, or many A),
// its output scattered into place (col2im fused), and B given transposed (im2col's rows).
#pragma once

#include <cstdint>

#include "lowbit/fqt/qgemm.h"
#include "lowbit/kernels/igemm.h"

namespace lowbit::fqt {

// quantize_operand in two parts, for a caller that quantizes rows inside its own parallel loop
// (a conv's samples): operand_grid takes the range over all of x and returns the codes tensor
// (codes not yet written) with quantize_operand's scale and grid; quantize_operand_rows writes
// rows [r0, r1) of its codes. Every row written: quantize_operand's QTensor, bit for bit.
QTensor operand_grid(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned);
void quantize_operand_rows(const float* x, int64_t r0, int64_t r1, const OperandConfig& cfg, RandomKey key, QTensor& q);

struct PackedOperand {
  kernels::IgemmPackedB codes;  // B's (N, K) codes, packed for g's accumulator model
  float scale = 1.0f;
};
PackedOperand pack_operand(const QTensor& B, const GemmConfig& g);

// Rows [r0, r1) of int_matmul(A, B, g, extra, C, ldc), written to C's first r1 - r0 rows;
// B packed by pack_operand with the same g. Bit for bit the rows int_matmul writes.
void int_matmul_rows(const QTensor& A, int64_t r0, int64_t r1, const PackedOperand& B, const GemmConfig& g, float extra,
                     float* C, int64_t ldc);

// out += int_matmul(A, B, g, extra) scattered as kernels::igemm_scatter_add_packed specifies
// (row m's column n added to out[offset[m] + n] where bit n of mask[m] is set; the same fp32
// values int_matmul_rows writes, added in that header's order).
void int_matmul_scatter_add(const QTensor& A, const PackedOperand& B, const GemmConfig& g, float extra,
                            const int64_t* offset, const uint64_t* const* mask, float* out);

// C (M, N) = int_matmul(A, B, g, extra, C, ldc) for B (N, K) codes of scale b_scale given as
// their transpose Bt (K, N), row stride ldbt (an im2col's rows): bit for bit, no transpose.
void int_matmul_bt(const QTensor& A, const int8_t* Bt, int64_t N, int64_t ldbt, float b_scale, const GemmConfig& g,
                   float extra, float* C, int64_t ldc);

// int_matmul_bt with Bt given as shifted rows of one buffer (kernels::ShiftedRows: a same-size
// conv's im2col, never written): bit for bit int_matmul_bt on those rows.
void int_matmul_shifted(const QTensor& A, const kernels::ShiftedRows& Bt, int64_t N, float b_scale, const GemmConfig& g,
                        float extra, float* C, int64_t ldc);

}  // namespace lowbit::fqt
