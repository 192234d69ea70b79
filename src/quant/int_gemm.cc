// int_gemm on Tensors: shape/dtype/spec validation, then lowbit/kernels/igemm.h. Also the
// dequantizing and requantizing forms that HDQT's quantized layers call.
#include "lowbit/quant/int_gemm.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace lowbit::quant {
namespace {

namespace k = lowbit::kernels;

kernels::IntOperand operand(const Tensor& t) {
  if (t.dtype() == DType::i4) return {t.packed(), t.size(1), true};
  return {t.data<int8_t>(), t.size(1), false};
}

void check_operands(const Tensor& A, const Tensor& B, const AccumulatorSpec& acc, std::string_view op) {
  LOWBIT_REQUIRE(A.defined() && B.defined(), op, "operands must be defined");
  LOWBIT_REQUIRE(A.dim() == 2 && B.dim() == 2, op, "expected A (M,K) and B (N,K), got {} and {}", shape_str(A.shape()),
                 shape_str(B.shape()));
  LOWBIT_REQUIRE(A.size(1) == B.size(1), op, "K differs: A is {}, B is {} (C = A·Bᵀ)", shape_str(A.shape()),
                 shape_str(B.shape()));
  for (const Tensor* t : {&A, &B})
    LOWBIT_REQUIRE(t->dtype() == DType::i8 || t->dtype() == DType::i4, op,
                   "operands must be i8 or i4 codes, got {} (unsigned 8-bit codes do not fit int8: use 7 bits)",
                   dtype_name(t->dtype()));
  const int64_t K = A.size(1);
  LOWBIT_REQUIRE(K >= 1 && K <= k::kIgemmMaxK, op, "K must be in [1, {}], got {}", k::kIgemmMaxK, K);
  LOWBIT_REQUIRE(acc.bits >= 2 && acc.bits <= 32, op, "accumulator bits must be in [2, 32], got {}", acc.bits);
  LOWBIT_REQUIRE(acc.tile >= 0, op, "tile width must be >= 0 (0 = one tile), got {}", acc.tile);
}

// Contiguous view for the kernel (int4 tensors are contiguous by construction).
Tensor dense(const Tensor& t) { return t.dtype() == DType::i4 ? t : t.contiguous(); }

void check_no_zero_point(const QTensor& q, std::string_view op) {
  LOWBIT_REQUIRE(!q.params.has_zero_point(), op, "operands with zero points are not supported (use a symmetric scheme)");
}

}  // namespace

std::string AccumulatorSpec::str() const {
  if (model == AccModel::exact) return "exact";
  return fmt::format("{}(A={},T={})", acc_model_name(model), bits, tile);
}

AccModel parse_acc_model(std::string_view name) {
  std::string n(name);
  for (char& c : n)
    if (c == '_') c = '-';
  for (AccModel m : {AccModel::exact, AccModel::tile_clamp, AccModel::saturating, AccModel::wrap})
    if (acc_model_name(m) == n) return m;
  fail("parse_acc_model", "unknown accumulator model '{}' (expected exact, tile-clamp, saturating or wrap)", name);
}

std::string_view acc_model_name(AccModel m) {
  switch (m) {
    case AccModel::exact: return "exact";
    case AccModel::tile_clamp: return "tile-clamp";
    case AccModel::saturating: return "saturating";
    case AccModel::wrap: return "wrap";
  }
  return "?";
}

Tensor int_gemm(const Tensor& A, const Tensor& B, const AccumulatorSpec& acc) {
  check_operands(A, B, acc, "int_gemm");
  const Tensor a = dense(A), b = dense(B);
  const int64_t M = a.size(0), N = b.size(0), K = a.size(1);
  Tensor C = Tensor::empty({M, N}, DType::i32);
  k::igemm_s32(M, N, K, operand(a), operand(b), {acc.model, acc.bits, acc.tile}, C.data<int32_t>(), N);
  return C;
}

Tensor int_gemm_dequant(const QTensor& A, const QTensor& B, const AccumulatorSpec& acc, const Tensor& bias) {
  constexpr std::string_view op = "int_gemm_dequant";
  check_operands(A.codes, B.codes, acc, op);
  check_no_zero_point(A, op);
  check_no_zero_point(B, op);
  LOWBIT_REQUIRE(A.params.per_tensor(), op, "A must be quantized per tensor");
  LOWBIT_REQUIRE(B.params.per_tensor() || B.params.axis == 0, op, "B must be per tensor or per channel along axis 0");
  const Tensor a = dense(A.codes), b = dense(B.codes);
  const int64_t M = a.size(0), N = b.size(0), K = a.size(1);
  if (bias.defined())
    LOWBIT_REQUIRE(bias.dtype() == DType::f32 && bias.numel() == N, op, "bias must be f32 with {} values, got {}", N,
                   bias.numel());
  // alpha = s_A · s_B for per-tensor B; per-channel B multiplies by its scale per column.
  const Tensor col = B.params.per_tensor() ? Tensor() : B.params.scale.contiguous();
  const Tensor bb = bias.defined() ? bias.contiguous() : Tensor();
  k::IgemmEpilogue ep;
  ep.alpha = A.params.scale_at(0) * (col.defined() ? 1.0f : B.params.scale_at(0));
  ep.col_scale = col.defined() ? col.data<float>() : nullptr;
  ep.bias = bb.defined() ? bb.data<float>() : nullptr;
  Tensor C = Tensor::empty({M, N});
  k::igemm_f32(M, N, K, operand(a), operand(b), {acc.model, acc.bits, acc.tile}, ep, C.data<float>(), N);
  return C;
}

QTensor int_gemm_requant(const QTensor& A, const QTensor& B, const AccumulatorSpec& acc, int bits, Rounding rounding,
                         float clip, RandomKey rs) {
  constexpr std::string_view op = "int_gemm_requant";
  check_no_zero_point(A, op);
  check_no_zero_point(B, op);
  LOWBIT_REQUIRE(A.params.per_tensor() && B.params.per_tensor(), op, "both operands must be quantized per tensor");
  return requantize(int_gemm(A.codes, B.codes, acc), A.params.scale_at(0) * B.params.scale_at(0), bits, rounding, clip, rs);
}

}  // namespace lowbit::quant
