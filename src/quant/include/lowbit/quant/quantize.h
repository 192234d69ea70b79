// Tensor-level quantization: choosing scales (per tensor or per channel; symmetric, unsigned,
// asymmetric; clip factor), quantizing with round-to-nearest or counter-based stochastic
// rounding, dequantizing, requantizing int32 accumulators, and int4 packing. Validates its
// arguments (ValueError naming the op) and runs the kernels of lowbit/kernels/quant.h.
// The project's one quantization vocabulary: Rounding, RandomKey, QuantParams/QTensor here and
// AccModel/AccumulatorSpec in int_gemm.h; HDQT training (fqt) is built on them.
#pragma once

#include <cstdint>
#include <string_view>

#include "lowbit/core/tensor.h"
#include "lowbit/kernels/quant.h"

namespace lowbit::quant {

using kernels::Rounding;
// Where stochastic rounding draws from: element e uses Philox word (seed, stream, first + e)
// (see kernels/quant.h), the same codes for any thread count.
using kernels::RandomKey;

// How codes and scales are chosen from the data (m = clip · max|x| unless stated).
enum class Scheme : uint8_t {
  symmetric,          // codes [-q_max(b), q_max(b)], scale m / q_max(b), zero point 0
  unsigned_,          // codes [0, 2^b - 1], scale m / (2^b - 1); negative values clip to 0
  auto_sign,          // symmetric if the tensor has a negative value, else unsigned (HDQT §1.1)
  asymmetric,         // codes [0, 2^b - 1] over [clip·min(x,0), clip·max(x,0)] with a zero point
  asymmetric_signed,  // codes [-2^(b-1), 2^(b-1) - 1], same range rule
};

// q_max(b) = 2^(b-1) - 1 (4 bits -> 7).
constexpr int32_t q_max(int bits) { return (1 << (bits - 1)) - 1; }

// The key of a tensor's stochastic rounding at a training step: stream mix(step, tensor id),
// first 0, so every step and tensor draws fresh numbers.
RandomKey keyed_stream(uint64_t seed, uint64_t step, uint64_t tensor_id);

// Scale and zero point of a quantized tensor: per tensor (axis == -1, scale of shape {1}) or per
// channel along `axis` (scale of shape {C}). zero_point is i32 of the same shape, or undefined
// for all-zero. Real value of code q in channel c: (q - zp[c]) · scale[c].
struct QuantParams {
  int bits = 4;
  int32_t qmin = -7, qmax = 7;
  int64_t axis = -1;
  Tensor scale;
  Tensor zero_point;

  // One scale for the whole tensor, codes in [qmin, qmax], no zero point.
  static QuantParams per_tensor_grid(int bits, int32_t qmin, int32_t qmax, float scale);

  bool per_tensor() const { return axis < 0; }
  bool has_zero_point() const { return zero_point.defined(); }
  float scale_at(int64_t c = 0) const;
  // Codes' storage type: i8 when they fit, else u8 (unsigned 8-bit).
  DType code_dtype() const { return qmax > 127 ? DType::u8 : DType::i8; }
};

// Codes (i8, u8, or i4 packed two per byte after pack_int4) and how to read them.
struct QTensor {
  Tensor codes;
  QuantParams params;
  const Shape& shape() const { return codes.shape(); }
  float scale() const { return params.scale_at(0); }  // per-tensor scale
};

// Parameters for x under scheme with b in [2, 8] bits and clip in (0, 1]; axis -1 = per tensor.
// A tensor (or channel) of zeros gets scale 1.
QuantParams choose_params(const Tensor& x, int bits, Scheme scheme, float clip = 1.0f, int64_t axis = -1);

// Codes of x (f32) under given parameters.
QTensor quantize(const Tensor& x, const QuantParams& p, Rounding rounding = Rounding::nearest, RandomKey rs = {});

QTensor quantize_per_tensor(const Tensor& x, int bits, Scheme scheme, Rounding rounding = Rounding::nearest,
                            float clip = 1.0f, RandomKey rs = {});
QTensor quantize_per_channel(const Tensor& x, int64_t axis, int bits, Scheme scheme,
                             Rounding rounding = Rounding::nearest, float clip = 1.0f, RandomKey rs = {});

// f32 values of the codes.
Tensor dequantize(const QTensor& q);

// int32 accumulators whose real value is unit·acc, quantized per tensor to signed b-bit codes
// with m = clip·max|acc| (no fp32 tensor in between: the requantization of the backward pass).
QTensor requantize(const Tensor& acc, float unit, int bits, Rounding rounding = Rounding::nearest,
                   float clip = 1.0f, RandomKey rs = {});

// Signed codes with qmin >= -8 and qmax <= 7 as DType::i4 (two per byte), and back to i8.
QTensor pack_int4(const QTensor& q);
QTensor unpack_int4(const QTensor& q);

Rounding parse_rounding(std::string_view name);  // "nearest" | "stochastic"
std::string_view rounding_name(Rounding r);

}  // namespace lowbit::quant
