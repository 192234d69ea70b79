// Block-diagonal fast Walsh–Hadamard transform: unnormalized ±1 Sylvester blocks H_h
// (H_1 = [1], H_2k = [[H_k, H_k], [H_k, -H_k]], so H_h·H_h = h·I and H_h is symmetric), applied
// with adds and subtracts only, O(n log h). hadamard_ref.h holds the dense-matrix specification.
#pragma once

#include <cstdint>

#include "lowbit/kernels/transpose.h"

namespace lowbit::kernels {

// A rows×cols row-major matrix (row stride ld, in elements) and the direction of the transform:
//   axis 1 (along rows):    each row is cut into blocks of h consecutive elements; every block
//                           v becomes H_h·v. Requires cols % h == 0.
//   axis 0 (along columns): each column is cut the same way (blocks of h consecutive rows);
//                           the matrix becomes blockdiag(H_h, ...)·X. Requires rows % h == 0.
// h must be a power of two >= 1. In-place when y == x with equal strides.
struct HadamardShape {
  int64_t rows = 1, cols = 1;
  int axis = 1;
  int64_t h = 1;
};

// Largest power of two dividing n (n >= 1): the block size h(n) of spec §1.2.
constexpr int64_t hadamard_block(int64_t n) { return n & -n; }

// fp32: y may alias x (same ld). Rounding differs from the dense product only by the order of
// the additions (log2 h stages).
void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);
// Integers, exact: every output is a ±1 sum of h inputs, |y| <= h·max|x|. int8 -> int16 is
// exact for h <= 256 when |x| <= 127 (symmetric codes) and for h <= 128 always; callers with
// larger blocks use int32. int32 -> int32 (in place allowed) requires h·max|x| < 2^31.
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy);
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy);
// fwht_i8_i32 that also returns max |y| over the rows×cols output (as max_abs_i32 would: 0 when
// empty, INT32_MIN saturating to INT32_MAX), taken from registers on the fast path instead of a
// second pass over y. y must not overlap x.
int32_t fwht_i8_i32_max_abs(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy);
// fwht_i8_i32_max_abs (axis 1) of rows given as shifted views (transpose.h ShiftedRows: an
// im2col never written out), bit for bit that function on the rows written out.
int32_t fwht_shifted_i8_i32_max_abs(const HadamardShape& s, const ShiftedRows& x, int32_t* y, int64_t ldy);
// fwht_f32 (the same y, on the same path) that also returns max_abs_f32 over the output (NaN
// ignored). y must not overlap x.
float fwht_f32_max_abs(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy);

}  // namespace lowbit::kernels
