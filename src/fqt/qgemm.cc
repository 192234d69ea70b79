// Quantization of operands and the scaled integer GEMM, on the integer kernels.
#include "lowbit/fqt/qgemm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/igemm.h"
#include "qgemm_packed.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::fqt {
namespace {

QTensor quantize_f32(const float* x, int64_t rows, int64_t cols, int bits, float scale, int32_t qmin, int32_t qmax,
                     Rounding r, RandomKey key) {
  QTensor c{Tensor::empty({rows, cols}, DType::i8), quant::QuantParams::per_tensor_grid(bits, qmin, qmax, scale)};
  kernels::QuantGrid g;
  g.inner = rows * cols;  // one channel, one long run: the kernels vectorize along `inner`
  g.scale = &scale;
  g.qmin = qmin;
  g.qmax = qmax;
  kernels::quantize_f32_i8(g, x, c.codes.data<int8_t>(), r, key);
  return c;
}

// Some value below zero (NaN is not): whether a forward operand needs signed codes. An int
// accumulator so that the loop vectorizes.
bool any_negative(int64_t n, const float* x) {
  int neg = 0;
  for (int64_t i = 0; i < n; ++i) neg |= x[i] < 0.0f;
  return neg != 0;
}

// max |x| and whether some x < 0, in chunks of 64 Ki floats on the threads, both passes over a
// chunk while it is in L2: the values of whole-tensor passes (max and or do not depend on the
// order). A conv's input is 1.6 M floats per ResNet-20 layer; serial, the two passes were ~2 %
// of a 2-thread step.
struct Extent {
  float max_abs = 0.0f;
  bool negative = false;
};
Extent extent_of(int64_t n, const float* x, bool want_negative) {
  constexpr int64_t kChunk = int64_t{1} << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<Extent> part(static_cast<size_t>(chunks));
  parallel_for(chunks, 4, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const int64_t i0 = c * kChunk, len = std::min(kChunk, n - i0);
      part[static_cast<size_t>(c)] = {kernels::max_abs_f32(len, x + i0), want_negative && any_negative(len, x + i0)};
    }
  });
  Extent r;
  for (const Extent& p : part) {
    r.max_abs = std::max(r.max_abs, p.max_abs);
    r.negative = r.negative || p.negative;
  }
  return r;
}

// Codes are held in int8: unsigned [0, 2^b - 1] fits only up to b = 7. At 8 bits a non-negative
// tensor uses the signed grid [0, 127] (one bit unused) rather than wrapping.
bool unsigned_grid(const OperandConfig& cfg, bool allow_unsigned) { return allow_unsigned && cfg.bits <= 7; }

// quantize_operand's grid for range m: unsigned [0, 2^b - 1] or signed [-q, q], s = m / q_max.
quant::QuantParams operand_params(const OperandConfig& cfg, bool is_unsigned, float m) {
  const int32_t qmax = is_unsigned ? (1 << cfg.bits) - 1 : quant::q_max(cfg.bits);
  const float scale = m > 0 && std::isfinite(m) ? m / static_cast<float>(qmax) : 1.0f;
  return quant::QuantParams::per_tensor_grid(cfg.bits, is_unsigned ? 0 : -qmax, qmax, scale);
}

}  // namespace

QTensor operand_grid(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned) {
  const bool want_negative = unsigned_grid(cfg, allow_unsigned);
  const Extent e = extent_of(rows * cols, x, want_negative);
  return {Tensor::empty({rows, cols}, DType::i8), operand_params(cfg, want_negative && !e.negative, cfg.clip * e.max_abs)};
}

void quantize_operand_rows(const float* x, int64_t r0, int64_t r1, const OperandConfig& cfg, RandomKey key, QTensor& q) {
  const int64_t cols = q.codes.size(1);
  LOWBIT_CHECK(r0 >= 0 && r0 <= r1 && r1 <= q.codes.size(0), "quantize_operand_rows: rows [{}, {}) of {}", r0, r1,
               q.codes.size(0));
  const float scale = q.scale();
  kernels::QuantGrid g;
  g.inner = (r1 - r0) * cols;  // element e of the whole tensor keeps stream index first + e
  g.scale = &scale;
  g.qmin = q.params.qmin;
  g.qmax = q.params.qmax;
  kernels::quantize_f32_i8(g, x + r0 * cols, q.codes.data<int8_t>() + r0 * cols, cfg.rounding,
                           {key.seed, key.stream, key.first + static_cast<uint64_t>(r0 * cols)});
}

QTensor quantize_operand(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg, bool allow_unsigned,
                         RandomKey key) {
  QTensor q = operand_grid(x, rows, cols, cfg, allow_unsigned);
  quantize_operand_rows(x, 0, rows, cfg, key, q);
  return q;
}

QTensor quantize_operand_range(const float* x, int64_t rows, int64_t cols, const OperandConfig& cfg,
                               bool allow_unsigned, float m, RandomKey key) {
  const bool is_unsigned = unsigned_grid(cfg, allow_unsigned) && !any_negative(rows * cols, x);
  QTensor q{Tensor::empty({rows, cols}, DType::i8), operand_params(cfg, is_unsigned, m)};
  quantize_operand_rows(x, 0, rows, cfg, key, q);
  return q;
}

QTensor quantize_max(const float* y, int64_t rows, int64_t cols, int bits, Rounding r, RandomKey key) {
  return quantize_given_max(y, rows, cols, rows * cols > 0 ? kernels::max_abs_f32(rows * cols, y) : 0.0f, bits, r, key);
}

QTensor quantize_given_max(const float* y, int64_t rows, int64_t cols, float m, int bits, Rounding r, RandomKey key) {
  const int32_t q = quant::q_max(bits);
  const float scale = m > 0 && std::isfinite(m) ? m / static_cast<float>(q) : 1.0f;
  return quantize_f32(y, rows, cols, bits, scale, -q, q, r, key);
}

namespace {

// The kernel's preconditions (kernels/igemm.h), which it does not check itself.
void check_gemm(int64_t K, const GemmConfig& g) {
  LOWBIT_REQUIRE(K >= 1 && K <= kernels::kIgemmMaxK, "int_matmul", "reduction length must be in [1, {}], got {}",
                 kernels::kIgemmMaxK, K);
  LOWBIT_REQUIRE(g.acc.bits >= 2 && g.acc.bits <= 32 && g.acc.tile >= 0, "int_matmul",
                 "accumulator needs bits in [2, 32] and tile >= 0, got {}", g.acc.str());
}

}  // namespace

void int_matmul(const QTensor& A, const QTensor& B, const GemmConfig& g, float extra, float* C, int64_t ldc) {
  const int64_t M = A.codes.size(0), K = A.codes.size(1), N = B.codes.size(0);
  LOWBIT_CHECK(B.codes.size(1) == K, "int_matmul: A is {}, B is {}", shape_str(A.shape()), shape_str(B.shape()));
  check_gemm(K, g);
  kernels::IgemmEpilogue ep;
  ep.alpha = A.scale() * B.scale() * extra;
  kernels::igemm_f32(M, N, K, {A.codes.data<int8_t>(), K, false}, {B.codes.data<int8_t>(), K, false},
                     {g.acc.model, g.acc.bits, g.acc.tile}, ep, C, ldc);
}

PackedOperand pack_operand(const QTensor& B, const GemmConfig& g) {
  const int64_t N = B.codes.size(0), K = B.codes.size(1);
  check_gemm(K, g);
  return {kernels::igemm_pack_b(N, K, {B.codes.data<int8_t>(), K, false}, {g.acc.model, g.acc.bits, g.acc.tile}),
          B.scale()};
}

void int_matmul_rows(const QTensor& A, int64_t r0, int64_t r1, const PackedOperand& B, const GemmConfig& g, float extra,
                     float* C, int64_t ldc) {
  const int64_t K = A.codes.size(1);
  LOWBIT_CHECK(B.codes.k == K && r0 >= 0 && r0 <= r1 && r1 <= A.codes.size(0), "int_matmul_rows: A is {}, B has k {}, rows [{}, {})",
               shape_str(A.shape()), B.codes.k, r0, r1);
  kernels::IgemmEpilogue ep;
  ep.alpha = A.scale() * B.scale * extra;  // int_matmul's alpha, same order of products
  kernels::igemm_f32_packed(r1 - r0, {A.codes.data<int8_t>() + r0 * K, K, false}, B.codes,
                            {g.acc.model, g.acc.bits, g.acc.tile}, ep, C, ldc);
}

void int_matmul_bt(const QTensor& A, const int8_t* Bt, int64_t N, int64_t ldbt, float b_scale, const GemmConfig& g,
                   float extra, float* C, int64_t ldc) {
  const int64_t M = A.codes.size(0), K = A.codes.size(1);
  check_gemm(K, g);
  kernels::IgemmEpilogue ep;
  ep.alpha = A.scale() * b_scale * extra;  // int_matmul's alpha
  kernels::igemm_f32_bt(M, N, K, {A.codes.data<int8_t>(), K, false}, Bt, ldbt, {g.acc.model, g.acc.bits, g.acc.tile},
                        ep, C, ldc);
}

void int_matmul_shifted(const QTensor& A, const kernels::ShiftedRows& Bt, int64_t N, float b_scale, const GemmConfig& g,
                        float extra, float* C, int64_t ldc) {
  const int64_t M = A.codes.size(0), K = A.codes.size(1);
  check_gemm(K, g);
  kernels::IgemmEpilogue ep;
  ep.alpha = A.scale() * b_scale * extra;  // int_matmul's alpha
  kernels::igemm_f32_shifted(M, N, K, {A.codes.data<int8_t>(), K, false}, Bt, {g.acc.model, g.acc.bits, g.acc.tile}, ep,
                             C, ldc);
}

void int_matmul_scatter_add(const QTensor& A, const PackedOperand& B, const GemmConfig& g, float extra,
                            const int64_t* offset, const uint64_t* const* mask, float* out) {
  const int64_t K = A.codes.size(1);
  LOWBIT_CHECK(B.codes.k == K, "int_matmul_scatter_add: A is {}, B has k {}", shape_str(A.shape()), B.codes.k);
  kernels::IgemmScatter sc;
  sc.alpha = A.scale() * B.scale * extra;  // int_matmul_rows' alpha
  sc.offset = offset;
  sc.mask = mask;
  kernels::igemm_scatter_add_packed(A.codes.size(0), {A.codes.data<int8_t>(), K, false}, B.codes,
                                    {g.acc.model, g.acc.bits, g.acc.tile}, sc, out);
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
