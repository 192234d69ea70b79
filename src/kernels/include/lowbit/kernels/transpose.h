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

}  // namespace lowbit::kernels
