// The integer product of two quantized activations — attention's Q·Kᵀ and P·V, MatMulInteger and
// QLinearMatMul with a non-constant B: 8-bit codes on both sides, one zero point each, B packed
// on every call (it changes every run). qmatmul_ref.h is the spec; every path equals it bit for bit.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// An 8-bit matrix operand: codes (uint8, or int8 when is_signed), row stride ld, one zero point
// in the codes' range.
struct QOperand {
  const void* codes = nullptr;
  int64_t ld = 0;
  bool is_signed = false;
  int32_t zp = 0;
};

// Requantization of the product: y = clamp(rne(float(acc)·scale) + zp, lo, hi) (qlinear.h's
// Requant with one scale and no correction; lo/hi are codes of the output type).
struct QMatmulRequant {
  float scale = 1;
  int32_t zp = 0, lo = 0, hi = 255;
};

// acc[m, n] = Σ_k (a[m, k] − a.zp)·(b[k, n] − b.zp) for a M×K and b K×N, wrapping modulo 2^32
// as ref::matmul_integer (int_matmul_ref.h) and ONNX Runtime do. Products with K = 0 (all sums
// 0) or K > 65536 run the reference loops (the u8×s8 GEMM is exact only up to there).
// How it runs: A is mapped to uint8 (int8 codes x ↦ x + 128, zero point + 128) and B to int8
// (uint8 codes x ↦ x − 128, zero point − 128) — both shifts exact, (a − za) and (b − zb) are
// unchanged — B is transposed and packed for the u8×s8 GEMM of qlinear.h (qgemm_u8s8: VNNI,
// AVX2 or portable by dispatch), and the zero points enter afterwards through
//   Σ (a − za)(b − zb) = Σ a·b − zb·Σ_k a[m, k] − za·Σ_k b[k, n] + K·za·zb
// (row sums of A, column sums from B's packing), added in uint32 (wrapping, no UB).
void qmatmul_s32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, int32_t* c, int64_t ldc);
// The product requantized into uint8 / int8 codes (row blocks of the int32 product stay in
// cache between the GEMM and the requantization).
void qmatmul_requant_u8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        uint8_t* y, int64_t ldy);
void qmatmul_requant_s8(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, const QMatmulRequant& p,
                        int8_t* y, int64_t ldy);
// y[m, n] = float(acc[m, n])·scale: the float result when no QuantizeLinear follows.
void qmatmul_f32(int64_t M, int64_t N, int64_t K, const QOperand& a, const QOperand& b, float scale, float* y, int64_t ldy);

// Which GEMM a product of this depth runs on the active path, e.g. "avx512vnni u8s8 (B packed
// per call)", "igemm s8s8 (B packed per call)", "ref" (benchmark rows: no silent fallback).
const char* qmatmul_kernel_name(int64_t K);

}  // namespace lowbit::kernels
