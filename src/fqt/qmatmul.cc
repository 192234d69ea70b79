// The forward and both backward quantized products, composed from transforms, quantizers and
// the integer GEMM. Hadamard transforms run on the kernels' fast Walsh–Hadamard transform.
#include "lowbit/fqt/qmatmul.h"

#include <algorithm>

#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::fqt {

int64_t hadamard_block_of(int64_t n, const GemmConfig& g) {
  const int64_t h = kernels::hadamard_block(n);
  return g.hadamard_block > 0 ? std::min(h, g.hadamard_block) : h;
}

QTensor grad_operand(const float* G, int64_t rows, int64_t cols, const GemmConfig& g, RandomKey key) {
  const int64_t h = g.hadamard ? hadamard_block_of(cols, g) : 1;
  if (h <= 1) return quantize_max(G, rows, cols, g.a.bits, g.a.rounding, key);
  Tensor gh = Tensor::empty({rows, cols});
  const float m = kernels::fwht_f32_max_abs({rows, cols, 1, h}, G, cols, gh.data<float>(), cols);
  return quantize_given_max(gh.data<float>(), rows, cols, m, g.a.bits, g.a.rounding, key);
}

namespace {

// The int32 H·X (rows, cols) with its max |·| requantized to g.b (transformed_operand's codes):
// quant::requantize(acc, x_scale, bits, rounding, clip 1, key) with that max: codes = acc /
// s_int, value = code · s_int · s_x.
QTensor requantize_transformed(const Tensor& acc, int32_t m, float x_scale, const GemmConfig& g, RandomKey key) {
  const int64_t rows = acc.size(0), cols = acc.size(1);
  const int32_t q = quant::q_max(g.b.bits);
  float s_int = static_cast<float>(m) / static_cast<float>(q);
  if (!(s_int > 0.0f)) s_int = 1.0f;
  QTensor out{Tensor::empty({rows, cols}, DType::i8), quant::QuantParams::per_tensor_grid(g.b.bits, -q, q, x_scale * s_int)};
  kernels::QuantGrid grid;
  grid.inner = rows * cols;
  grid.scale = &s_int;
  grid.qmin = -q;
  grid.qmax = q;
  kernels::quantize_i32_i8_bounded(grid, acc.data<int32_t>(), m, out.codes.data<int8_t>(), g.b.rounding, key);
  return out;
}

}  // namespace

QTensor transformed_operand(const QTensor& x, const GemmConfig& g, RandomKey key) {
  if (!g.hadamard) return x;
  const int64_t rows = x.codes.size(0), cols = x.codes.size(1);
  Tensor acc = Tensor::empty({rows, cols}, DType::i32);
  // The transform returns max |H X| from registers (no second pass over the int32 matrix).
  const int32_t m = kernels::fwht_i8_i32_max_abs({rows, cols, 1, hadamard_block_of(cols, g)}, x.codes.data<int8_t>(),
                                                 cols, acc.data<int32_t>(), cols);
  return requantize_transformed(acc, m, x.scale(), g, key);
}

QTensor transformed_operand(const kernels::ShiftedRows& x, int64_t rows, int64_t cols, float x_scale,
                            const GemmConfig& g, RandomKey key) {
  LOWBIT_CHECK(g.hadamard, "transformed_operand: shifted rows need the Hadamard option");
  Tensor acc = Tensor::empty({rows, cols}, DType::i32);
  const int32_t m =
      kernels::fwht_shifted_i8_i32_max_abs({rows, cols, 1, hadamard_block_of(cols, g)}, x, acc.data<int32_t>(), cols);
  return requantize_transformed(acc, m, x_scale, g, key);
}

void qforward(const QTensor& x, const QTensor& w, const GemmConfig& g, float* Y, int64_t ldy) {
  int_matmul(x, w, g, 1.0f, Y, ldy);
}

QTensor grad_input_weight_operand(const QTensor& w, const GemmConfig& g) {
  const int64_t N = w.codes.size(0);
  const QTensor wt{transpose_i8(w.codes), w.params};  // (K, N)
  if (!g.hadamard) return wt;
  QTensor out = transformed_operand(wt, g, {});  // Q_near(H_N W_q): g.b's rounding
  // H H = h I: one 1/h per pair. A fresh scale tensor: `out` may not own the one it holds.
  out.params.scale = Tensor::full({1}, out.scale() / static_cast<float>(hadamard_block_of(N, g)));
  return out;
}

void qgrad_input(const float* G, int64_t B, int64_t N, const QTensor& w_op, const GemmConfig& g, RandomKey key, float* dX,
                 int64_t lddx) {
  int_matmul(grad_operand(G, B, N, g, key), w_op, g, 1.0f, dX, lddx);
}

void qgrad_weight(const float* Gt, int64_t N, int64_t B, const QTensor& xt, const GemmConfig& g, RandomKey key_g,
                  RandomKey key_x, float* dW, int64_t lddw) {
  const QTensor gq = grad_operand(Gt, N, B, g, key_g);
  const float inv_h = g.hadamard ? 1.0f / static_cast<float>(hadamard_block_of(B, g)) : 1.0f;
  int_matmul(gq, transformed_operand(xt, g, key_x), g, inv_h, dW, lddw);
}

}  // namespace lowbit::fqt
