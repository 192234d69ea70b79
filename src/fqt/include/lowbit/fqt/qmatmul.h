// The three quantized products of one Linear-shaped GEMM, Y = X Wᵀ (spec hdqt.md §1):
//   forward      Y  = s_x s_w · sat(X_q · W_qᵀ)                        (tiled, §1.1)
//   grad input   dX = s_g s_hw s_w / h(N) · sat(Q_sr(G H_N) · Q_near(H_N W_q))   (§1.2)
//   grad weight  dW = s_g' s_hx s_x / h(B) · sat(Q_sr(Gᵀ H_B) · Q_sr(H_B X_q))   (§1.2)
// Shapes: X (B,K), W (N,K), G (B,N). Without the Hadamard option H is the identity and the
// b-bit forward codes are used as they are (no requantization). Shared by QLinear and QConv2d.
#pragma once

#include "lowbit/fqt/qgemm.h"

namespace lowbit::kernels {
struct ShiftedRows;  // kernels/transpose.h
}  // namespace lowbit::kernels

namespace lowbit::fqt {

// The Hadamard block size for a transform of length n: h(n), capped by g.hadamard_block.
int64_t hadamard_block_of(int64_t n, const GemmConfig& g);

// Q(G·H): a gradient G (rows, cols) transformed along each row (block h(cols)) when
// g.hadamard, then quantized with g.a (per-tensor scale max|·|/q_max; key drives Q_sr).
QTensor grad_operand(const float* G, int64_t rows, int64_t cols, const GemmConfig& g, RandomKey key);

// Q(X·H) for codes (rows, cols) transformed along each row (block h(cols)) into int32 and
// requantized with g.b: scale = s_h · s_x (the 1/h of H·H = h·I is left to the caller).
// Returns the codes unchanged without the Hadamard option.
QTensor transformed_operand(const QTensor& x, const GemmConfig& g, RandomKey key);
// The same for codes (rows, cols) of scale x_scale given as shifted rows (a same-size conv's
// im2col, never written: kernels::ShiftedRows), with g.hadamard set: bit for bit
// transformed_operand of those rows written out.
QTensor transformed_operand(const kernels::ShiftedRows& x, int64_t rows, int64_t cols, float x_scale,
                            const GemmConfig& g, RandomKey key);

// Y (B,N) with row stride ldy; returns nothing, the caller keeps the codes for backward.
void qforward(const QTensor& x, const QTensor& w, const GemmConfig& g, float* Y, int64_t ldy);

// The weight operand of the input-gradient GEMM, (H_N W_q)ᵀ requantized: (K, N) codes with
// scale s_hw · s_w / h(N) folded in. Computed once per backward and reused by every sample.
QTensor grad_input_weight_operand(const QTensor& w, const GemmConfig& g);

// dX (B,K) from G (B,N) given the operand above; key drives Q_sr of G H_N.
void qgrad_input(const float* G, int64_t B, int64_t N, const QTensor& w_op, const GemmConfig& g, RandomKey key, float* dX,
                 int64_t lddx);

// dW (N,K) from G given as Gᵀ (N,B) and the forward codes of X given transposed (K,B).
// key_g / key_x drive Q_sr of Gᵀ H_B and H_B X_q. Writes (does not accumulate) dW.
void qgrad_weight(const float* Gt, int64_t N, int64_t B, const QTensor& xt, const GemmConfig& g, RandomKey key_g,
                  RandomKey key_x, float* dW, int64_t lddw);

}  // namespace lowbit::fqt
