// Building blocks of the quantized GEMMs (spec hdqt.md §1) on raw (rows, cols) fp32 buffers:
// per-tensor quantization of activations and gradients to quant::QTensor codes, and the scaled
// integer GEMM with an accumulator model. Codes are int8 holding signed [-q, q] or unsigned
// [0, 2^b-1]; stochastic rounding draws from a quant::RandomKey.
#pragma once

#include <cstdint>

#include "lowbit/core/tensor.h"
#include "lowbit/fqt/quant_config.h"
#include "lowbit/quant/quantize.h"

namespace lowbit::fqt {

using quant::QTensor;
using quant::RandomKey;

// Forward operand (§1.1): m = clip * max|x|; non-negative tensors (after a ReLU) use unsigned
// codes [0, 2^b-1] with s = m / (2^b-1) when allow_unsigned and b <= 7 (codes live in int8),
// else signed [-q, q] with s = m / q.
// An all-zero tensor gets scale 1 and zero codes.
QTensor quantize_operand(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned,
                         RandomKey key = {});
// The same with the range m given (values beyond ±m clamp): quantile and cached ranges.
QTensor quantize_operand_range(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg,
                               bool allow_unsigned, float m, RandomKey key = {});
// The q-quantile of |x| (0 < q <= 1, n > 0): the value at rank ceil(q·n) - 1 of the sorted |x|
// (OperandConfig::quantile; the reference code's 0.975-quantile ranges).
float abs_quantile(const float* x, int64_t n, float q);
// Backward operand (§1.2): signed, scale = max|y| / q_max(b) (no clip), nearest or stochastic.
QTensor quantize_max(const float* y, int64_t rows, int64_t cols, int bits, Rounding r, RandomKey key = {});
// quantize_max with max|y| already known (m, e.g. from the transform that produced y).
QTensor quantize_given_max(const float* y, int64_t rows, int64_t cols, float m, int bits, Rounding r, RandomKey key = {});

// C(M,N) = alpha * sat(A · Bᵀ) with A (M,K) and B (N,K) per-tensor codes and g's accumulator
// model; alpha = A.scale() * B.scale() * extra. C is row-major with row stride ldc.
void int_matmul(const QTensor& A, const QTensor& B, const GemmConfig& g, float extra, float* C, int64_t ldc);

// Transpose of an int8 matrix (rows, cols) -> (cols, rows).
Tensor transpose_i8(const Tensor& q);
// out (cols, rows) = transpose of x (rows, cols), fp32; out must not overlap x.
void transpose_f32(const float* x, int64_t rows, int64_t cols, float* out);

}  // namespace lowbit::fqt
