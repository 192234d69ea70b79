// Building blocks of the quantized GEMMs (spec hdqt.md §1): per-tensor quantization of fp32
// activations/gradients and of integer accumulators to b-bit codes, and the scaled integer
// GEMM with an accumulator model. Codes are int8 holding signed [-q, q] or unsigned [0, 2^b-1].
#pragma once

#include <cstdint>

#include "lowbit/core/rng.h"
#include "lowbit/core/tensor.h"
#include "lowbit/fqt/quant_config.h"

namespace lowbit::fqt {

// Integer codes of a (rows, cols) matrix with one scale: value ≈ code * scale.
struct Codes {
  Tensor q;  // int8 (rows, cols), contiguous
  float scale = 1.0f;
  bool is_unsigned = false;
};

// Stochastic-rounding stream of one tensor: (seed, stream) and the first element's index.
struct SrKey {
  uint64_t seed = 0, stream = 0, first = 0;
};

constexpr int32_t qmax_signed(int bits) { return (1 << (bits - 1)) - 1; }
constexpr int32_t qmax_unsigned(int bits) { return (1 << bits) - 1; }

// Forward operand (§1.1): m = clip * max|x|; non-negative tensors (after a ReLU) use unsigned
// codes [0, 2^b-1] with s = m / (2^b-1) when allow_unsigned and b <= 7 (codes live in int8),
// else signed [-q, q] with s = m / q.
// An all-zero tensor gets scale 1 and zero codes.
Codes quantize_operand(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned,
                       SrKey key = {});
// Backward operand (§1.2): signed, scale = max|y| / q_max(b) (no clip), nearest or stochastic.
Codes quantize_max(const float* y, int64_t rows, int64_t cols, int bits, Rounding r, SrKey key = {});
// Requantization of integer values (e.g. H·W_q) to b bits: scale in integer units.
Codes requantize(const int32_t* y, int64_t rows, int64_t cols, int bits, Rounding r, SrKey key = {});

// C(M,N) = alpha * sat(A · Bᵀ) with A (M,K) and B (N,K) codes and g's accumulator model;
// alpha = A.scale * B.scale * extra. C is row-major with row stride ldc.
void int_matmul(const Codes& A, const Codes& B, const GemmConfig& g, float extra, float* C, int64_t ldc);

// Transpose of an int8 matrix (rows, cols) -> (cols, rows).
Tensor transpose_i8(const Tensor& q);
// out (cols, rows) = transpose of x (rows, cols), fp32; out must not overlap x.
void transpose_f32(const float* x, int64_t rows, int64_t cols, float* out);

}  // namespace lowbit::fqt
