// Matrix transposes of raw row-major buffers (the data movement between the layouts that the
// integer GEMMs, Hadamard transforms and quantizers of quantized training each need).
// Pure data movement: every path produces the same bytes as the plain double loop.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// y (cols × rows, row stride ldy) = xᵀ for x (rows × cols, row stride ldx); y must not overlap
// x. Single-threaded: callers transpose one sample or one tile per task.
void transpose_i8(int64_t rows, int64_t cols, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy);
void transpose_f32(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* y, int64_t ldy);

// out[l] = x[l + delta] where bit l % 64 of mask[l / 64] is set, else 0, for l in [0, n): one
// im2col row of a stride-1 conv whose output is as large as its input (delta: the tap's shift;
// mask: the positions that read the image). Only x elements of set bits are read.
void shifted_copy_i8(int64_t n, const int8_t* x, int64_t delta, const uint64_t* mask, int8_t* out);

// Rows that are shifted views of one buffer (an im2col's rows, never written out): element
// (k, n) is x[offset[k] + n] where bit n % 64 of mask[k][n / 64] is set, else 0 (row k is
// shifted_copy_i8(n, x + offset[k], 0, mask[k])); only those elements are read. mask[k]
// holds ⌈cols/64⌉ words. Taken by igemm_f32_shifted and fwht_shifted_i8_i32_max_abs.
struct ShiftedRows {
  const int8_t* x = nullptr;
  const int64_t* offset = nullptr;        // [rows]
  const uint64_t* const* mask = nullptr;  // [rows]
};

}  // namespace lowbit::kernels
