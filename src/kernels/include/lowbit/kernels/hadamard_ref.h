// Dense references for hadamard.h: an explicit ±1 matrix product, entry
// H_h[i][j] = (-1)^popcount(i & j) (the Sylvester construction), O(n·h). fp32 sums in double.
#pragma once

#include "lowbit/kernels/hadamard.h"

namespace lowbit::kernels::ref {

// Entry (i, j) of H_h for i, j < h: +1 or -1.
constexpr int hadamard_entry(int64_t i, int64_t j) { return __builtin_popcountll(static_cast<uint64_t>(i & j)) % 2 ? -1 : 1; }

// y must not alias x.
void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy);
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy);

}  // namespace lowbit::kernels::ref
