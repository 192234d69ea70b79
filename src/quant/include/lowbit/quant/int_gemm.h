// Tensor-level integer GEMM with a narrow-accumulator model (spec §1.4): C = A·Bᵀ for b-bit
// codes, A (M,K) and B (N,K) in i8 or packed i4. Validates shapes, dtypes and the accumulator
// spec, then runs lowbit/kernels/igemm.h (AVX-512 VNNI, AVX2 or portable, bit-identical).
#pragma once

#include <string>
#include <string_view>

#include "lowbit/core/tensor.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/quant/quantize.h"

namespace lowbit::quant {

using kernels::AccModel;

// The accumulator: model, width A in bits (2..32) and tile width T along K (0 = one tile).
// Defaults are HDQT's forward GEMM: 8-bit accumulator, tiles of 32, each tile clamped.
struct AccumulatorSpec {
  AccModel model = AccModel::tile_clamp;
  int bits = 8;
  int64_t tile = 32;

  static AccumulatorSpec exact() { return {AccModel::exact, 32, 0}; }
  static AccumulatorSpec tile_clamp(int bits, int64_t tile) { return {AccModel::tile_clamp, bits, tile}; }
  static AccumulatorSpec saturating(int bits, int64_t tile = 0) { return {AccModel::saturating, bits, tile}; }
  static AccumulatorSpec wrap(int bits, int64_t tile = 0) { return {AccModel::wrap, bits, tile}; }
  std::string str() const;  // e.g. "tile-clamp(A=8,T=32)"
};

// "exact" | "tile-clamp" | "saturating" | "wrap" (underscores accepted).
AccModel parse_acc_model(std::string_view name);
std::string_view acc_model_name(AccModel m);

// int32 accumulators (M,N) of A·Bᵀ. A: (M,K), B: (N,K), dtype i8 or i4 (contiguous).
Tensor int_gemm(const Tensor& A, const Tensor& B, const AccumulatorSpec& acc);

// f32 (M,N) = s_A · s_B[n] · acc (+ bias[n]): A per tensor, B per tensor or per channel along
// axis 0 (one scale per output column); zero points must be absent. bias: f32 (N) or undefined.
Tensor int_gemm_dequant(const QTensor& A, const QTensor& B, const AccumulatorSpec& acc, const Tensor& bias = {});

// The accumulators requantized to signed b-bit codes with a per-tensor scale (the backward
// GEMM's output feeding the next quantized product): requantize(int_gemm(A, B), s_A·s_B, ...).
QTensor int_gemm_requant(const QTensor& A, const QTensor& B, const AccumulatorSpec& acc, int bits,
                         Rounding rounding = Rounding::nearest, float clip = 1.0f, RandomKey rs = {});

}  // namespace lowbit::quant
