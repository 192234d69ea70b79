// The forward and both backward quantized products, composed from transforms, quantizers and
// the integer GEMM. Hadamard transforms run on the kernels' fast Walsh–Hadamard transform.
#include "lowbit/fqt/qmatmul.h"

#include "lowbit/kernels/hadamard.h"

namespace lowbit::fqt {

Codes grad_operand(const float* G, int64_t rows, int64_t cols, const GemmConfig& g, SrKey key) {
  const int64_t h = g.hadamard ? kernels::hadamard_block(cols) : 1;
  if (h <= 1) return quantize_max(G, rows, cols, g.a.bits, g.a.rounding, key);
  Tensor gh = Tensor::empty({rows, cols});
  kernels::fwht_f32({rows, cols, 1, h}, G, cols, gh.data<float>(), cols);
  return quantize_max(gh.data<float>(), rows, cols, g.a.bits, g.a.rounding, key);
}

Codes transformed_operand(const Codes& x, const GemmConfig& g, SrKey key) {
  if (!g.hadamard) return x;
  const int64_t rows = x.q.size(0), cols = x.q.size(1);
  Tensor acc = Tensor::empty({rows, cols}, DType::i32);
  kernels::fwht_i8_i32({rows, cols, 1, kernels::hadamard_block(cols)}, x.q.data<int8_t>(), cols,
                       acc.data<int32_t>(), cols);
  Codes out = requantize(acc.data<int32_t>(), rows, cols, g.b.bits, g.b.rounding, key);
  out.scale *= x.scale;  // value = code * s_h * s_x
  return out;
}

void qforward(const Codes& x, const Codes& w, const GemmConfig& g, float* Y, int64_t ldy) {
  int_matmul(x, w, g, 1.0f, Y, ldy);
}

Codes grad_input_weight_operand(const Codes& w, const GemmConfig& g) {
  const int64_t N = w.q.size(0);
  const Codes wt{transpose_i8(w.q), w.scale, w.is_unsigned};  // (K, N)
  if (!g.hadamard) return wt;
  Codes out = transformed_operand(wt, g, {});  // Q_near(H_N W_q): g.b's rounding
  out.scale /= static_cast<float>(kernels::hadamard_block(N));  // H H = h I: one 1/h per pair
  return out;
}

void qgrad_input(const float* G, int64_t B, int64_t N, const Codes& w_op, const GemmConfig& g, SrKey key, float* dX,
                 int64_t lddx) {
  int_matmul(grad_operand(G, B, N, g, key), w_op, g, 1.0f, dX, lddx);
}

void qgrad_weight(const float* Gt, int64_t N, int64_t B, const Codes& xt, const GemmConfig& g, SrKey key_g,
                  SrKey key_x, float* dW, int64_t lddw) {
  const Codes gq = grad_operand(Gt, N, B, g, key_g);
  const float inv_h = g.hadamard ? 1.0f / static_cast<float>(kernels::hadamard_block(B)) : 1.0f;
  int_matmul(gq, transformed_operand(xt, g, key_x), g, inv_h, dW, lddw);
}

}  // namespace lowbit::fqt
