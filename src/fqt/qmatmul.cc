// The forward and both backward quantized products, composed from transforms, quantizers and
// the integer GEMM. Hadamard transforms run on the kernels' fast Walsh–Hadamard transform.
#include "lowbit/fqt/qmatmul.h"

#include <vector>

#include "lowbit/kernels/hadamard.h"

namespace lowbit::fqt {
namespace {

// fp32 rows x cols, transformed along rows in place with block h.
void fwht_rows_f32(float* y, int64_t rows, int64_t cols, int64_t h) {
  if (h <= 1) return;
  kernels::fwht_f32({rows, cols, 1, h}, y, cols, y, cols);
}

// Integer codes (rows, cols) transformed along rows into int32, then requantized to `bits`.
Codes transform_requantize(const Codes& c, int64_t h, int bits, Rounding r, SrKey key) {
  const int64_t rows = c.q.size(0), cols = c.q.size(1);
  Tensor acc = Tensor::empty({rows, cols}, DType::i32);
  kernels::fwht_i8_i32({rows, cols, 1, h}, c.q.data<int8_t>(), cols, acc.data<int32_t>(), cols);
  Codes out = requantize(acc.data<int32_t>(), rows, cols, bits, r, key);
  out.scale *= c.scale;  // value = code * s_h * s_c
  return out;
}

}  // namespace

void qforward(const Codes& x, const Codes& w, const GemmConfig& g, float* Y, int64_t ldy) {
  int_matmul(x, w, g, 1.0f, Y, ldy);
}

Codes grad_input_weight_operand(const Codes& w, const GemmConfig& g) {
  const int64_t N = w.q.size(0);
  Codes wt{transpose_i8(w.q), w.scale, w.is_unsigned};  // (K, N)
  if (!g.hadamard) return wt;
  const int64_t h = kernels::hadamard_block(N);
  Codes out = transform_requantize(wt, h, g.b.bits, g.b.rounding, {});
  out.scale /= static_cast<float>(h);  // H H = h I: one factor 1/h per pair of transforms
  return out;
}

void qgrad_input(const float* G, int64_t B, int64_t N, const Codes& w_op, const GemmConfig& g, SrKey key, float* dX,
                 int64_t lddx) {
  std::vector<float> gh(G, G + B * N);
  if (g.hadamard) fwht_rows_f32(gh.data(), B, N, kernels::hadamard_block(N));
  const Codes gq = quantize_max(gh.data(), B, N, g.a.bits, g.a.rounding, key);
  int_matmul(gq, w_op, g, 1.0f, dX, lddx);
}

void qgrad_weight(const float* Gt, int64_t N, int64_t B, const Codes& xt, const GemmConfig& g, SrKey key_g,
                  SrKey key_x, float* dW, int64_t lddw) {
  std::vector<float> gh(Gt, Gt + N * B);
  const int64_t h = g.hadamard ? kernels::hadamard_block(B) : 1;
  if (h > 1) fwht_rows_f32(gh.data(), N, B, h);
  const Codes gq = quantize_max(gh.data(), N, B, g.a.bits, g.a.rounding, key_g);
  if (!g.hadamard) {
    int_matmul(gq, xt, g, 1.0f, dW, lddw);
    return;
  }
  const Codes xh = transform_requantize(xt, h, g.b.bits, g.b.rounding, key_x);
  int_matmul(gq, xh, g, 1.0f / static_cast<float>(h), dW, lddw);
}

}  // namespace lowbit::fqt
