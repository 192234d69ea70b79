// Quantization of operands and the scaled integer GEMM, on the integer kernels.
#include "lowbit/fqt/qgemm.h"

#include <algorithm>
#include <cmath>

#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::fqt {
namespace {

kernels::Rounding to_kernel(Rounding r) {
  return r == Rounding::stochastic ? kernels::Rounding::stochastic : kernels::Rounding::nearest;
}

kernels::AccModel to_kernel(AccModel m) {
  switch (m) {
    case AccModel::exact: return kernels::AccModel::exact;
    case AccModel::tile_clamp: return kernels::AccModel::tile_clamp;
    case AccModel::saturating: return kernels::AccModel::saturating;
    case AccModel::wrap: return kernels::AccModel::wrap;
  }
  return kernels::AccModel::exact;
}

Codes quantize_f32(const float* x, int64_t rows, int64_t cols, float scale, int32_t qmin, int32_t qmax, Rounding r,
                   SrKey key) {
  Codes c;
  c.q = Tensor::empty({rows, cols}, DType::i8);
  c.scale = scale;
  kernels::QuantGrid g;
  g.inner = rows * cols;  // one channel, one long run: the kernels vectorize along `inner`
  g.scale = &c.scale;
  g.qmin = qmin;
  g.qmax = qmax;
  kernels::quantize_f32_i8(g, x, c.q.data<int8_t>(), to_kernel(r), {key.seed, key.stream, key.first});
  return c;
}

// Some value below zero (NaN is not): whether a forward operand needs signed codes. An int
// accumulator so that the loop vectorizes.
bool any_negative(int64_t n, const float* x) {
  int neg = 0;
  for (int64_t i = 0; i < n; ++i) neg |= x[i] < 0.0f;
  return neg != 0;
}

}  // namespace

Codes quantize_operand(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned,
                       SrKey key) {
  const int64_t n = rows * cols;
  const float m = cfg.clip * (n > 0 ? kernels::max_abs_f32(n, x) : 0.0f);
  // Codes are held in int8: unsigned [0, 2^b - 1] fits only up to b = 7. At 8 bits a
  // non-negative tensor uses the signed grid [0, 127] (one bit unused) rather than wrapping.
  const bool is_unsigned = allow_unsigned && cfg.bits <= 7 && !any_negative(n, x);
  const int32_t qmax = is_unsigned ? qmax_unsigned(cfg.bits) : qmax_signed(cfg.bits);
  const float scale = m > 0 && std::isfinite(m) ? m / static_cast<float>(qmax) : 1.0f;
  Codes c = quantize_f32(x, rows, cols, scale, is_unsigned ? 0 : -qmax, qmax, cfg.rounding, key);
  c.is_unsigned = is_unsigned;
  return c;
}

Codes quantize_max(const float* y, int64_t rows, int64_t cols, int bits, Rounding r, SrKey key) {
  const float m = rows * cols > 0 ? kernels::max_abs_f32(rows * cols, y) : 0.0f;
  const int32_t q = qmax_signed(bits);
  const float scale = m > 0 && std::isfinite(m) ? m / static_cast<float>(q) : 1.0f;
  return quantize_f32(y, rows, cols, scale, -q, q, r, key);
}

Codes requantize(const int32_t* y, int64_t rows, int64_t cols, int bits, Rounding r, SrKey key) {
  const int32_t m = rows * cols > 0 ? kernels::max_abs_i32(rows * cols, y) : 0;
  const int32_t q = qmax_signed(bits);
  Codes c;
  c.q = Tensor::empty({rows, cols}, DType::i8);
  c.scale = m > 0 ? static_cast<float>(m) / static_cast<float>(q) : 1.0f;
  kernels::QuantGrid g;
  g.inner = rows * cols;
  g.scale = &c.scale;
  g.qmin = -q;
  g.qmax = q;
  kernels::quantize_i32_i8(g, y, c.q.data<int8_t>(), to_kernel(r), {key.seed, key.stream, key.first});
  return c;
}

void int_matmul(const Codes& A, const Codes& B, const GemmConfig& g, float extra, float* C, int64_t ldc) {
  const int64_t M = A.q.size(0), K = A.q.size(1), N = B.q.size(0);
  LOWBIT_CHECK(B.q.size(1) == K, "int_matmul: A is {}, B is {}", shape_str(A.q.shape()), shape_str(B.q.shape()));
  LOWBIT_REQUIRE(K <= kernels::kIgemmMaxK, "int_matmul", "reduction length {} exceeds {}", K, kernels::kIgemmMaxK);
  kernels::AccSpec acc{to_kernel(g.acc), g.acc_bits, g.tile};
  kernels::IgemmEpilogue ep;
  ep.alpha = A.scale * B.scale * extra;
  kernels::igemm_f32(M, N, K, {A.q.data<int8_t>(), K, false}, {B.q.data<int8_t>(), K, false}, acc, ep, C, ldc);
}

Tensor transpose_i8(const Tensor& q) {
  Tensor t = Tensor::empty({q.size(1), q.size(0)}, DType::i8);
  kernels::transpose_i8(q.size(0), q.size(1), q.data<int8_t>(), q.size(1), t.data<int8_t>(), q.size(0));
  return t;
}

void transpose_f32(const float* x, int64_t rows, int64_t cols, float* out) {
  kernels::transpose_f32(rows, cols, x, cols, out, rows);
}

}  // namespace lowbit::fqt
