// Quantizer kernels: fp32 (or int32 accumulator) values -> b-bit integer codes and back, with
// round-to-nearest or counter-based stochastic rounding, and int4 packing (two per byte).
// Raw pointers, no allocation visible to callers, no exceptions; quant_ref.h holds the
// plain-loop specification that the fast path matches bit for bit.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// Round to nearest (ties to even, like torch.round and the CPU's default rounding mode), or
// stochastic: q = sign(y)·(floor(|y|) + Bernoulli(p)) with p = frac(|y|) rounded to the 1/256
// grid (|p - frac| <= 2^-9 of a step, exact on the grid; see RandomKey).
enum class Rounding : uint8_t { nearest, stochastic };

// Where stochastic rounding draws its numbers: element e (flat index over the whole tensor)
// uses the 8-bit draw r = byte (first+e) % 16 of Philox block (first+e) / 16 (little-endian
// bytes of the block's four words), u = (r + 0.5) / 256, and rounds up iff u < frac: one
// Philox call serves 16 elements. P(up) = round(256·frac) / 256 (ties down), so the rounding is
// unbiased for fractions on the 1/256 grid and within 2^-9 of a step otherwise, and the error
// averages to zero over fractions; a 4-bit code needs no finer probabilities. See
// ref::stochastic_uniform. A pure function of (seed, stream, index): the same for any thread count.
struct RandomKey {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t first = 0;
};

// Affine quantization of a tensor viewed as (outer, C, inner): channel c has its own scale and
// zero point (per-tensor is C == 1). For every element x with flat index e = (o·C + c)·inner + i:
//   y = x / scale[c]                           (IEEE fp32 division, never a reciprocal)
//   y = min(max(y, lo_c), hi_c)                with lo_c = qmin - zp[c], hi_c = qmax - zp[c];
//                                              NaN becomes lo_c (what vmaxps does)
//   q = round(y) + zp[c]                       (Rounding above; q stays in [qmin, qmax])
// Clipping to m = c·max|x| is a choice of scale (scale = m / q_max), not a separate step:
// clamp(x, -m, m) / s and clamp(x / s, -q_max, q_max) give the same code.
// zero_point may be null (all zero). Requires scale[c] > 0 and finite, qmin <= qmax, and the
// code range within the output type (int8: [-128,127], uint8: [0,255]).
struct QuantGrid {
  int64_t outer = 1, channels = 1, inner = 1;
  const float* scale = nullptr;       // [channels]
  const int32_t* zero_point = nullptr;  // [channels] or null
  int32_t qmin = -127, qmax = 127;
  int64_t numel() const { return outer * channels * inner; }
};

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key);
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key);
// Same rule with x = float(acc) (exact for |acc| < 2^24): requantizes integer accumulators
// straight to codes, without an fp32 tensor in between. scale is in accumulator units.
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key);
// quantize_i32_i8 for inputs the caller knows to satisfy |x| <= max_abs (e.g. from
// fwht_i8_i32_max_abs): the same codes; with max_abs <= 255 the fast path tabulates the rule.
// Passing a max_abs below the true maximum is a precondition violation (wrong codes).
void quantize_i32_i8_bounded(const QuantGrid& g, const int32_t* x, int32_t max_abs, int8_t* q, Rounding r,
                             RandomKey key);

// x = (q - zp[c]) · scale[c], computed as float(q - zp) * scale.
void dequantize_i8_f32(const QuantGrid& g, const int8_t* q, float* x);
void dequantize_u8_f32(const QuantGrid& g, const uint8_t* q, float* x);
// int32 codes (ONNX DequantizeLinear of int32, e.g. biases): the difference q - zp is taken in
// int64 (no overflow for any int32 pair), then float(q - zp) * scale.
void dequantize_i32_f32(const QuantGrid& g, const int32_t* q, float* x);

// Blocked quantization (ONNX Quantize/DequantizeLinear-21 `block_size`): the tensor viewed as
// (outer, dim, inner), blocks of `block` consecutive indices along dim (the last may be shorter);
// element (o, d, i) uses the scale and zero point at ((o·⌈dim/block⌉ + d/block)·inner + i), by
// the QuantGrid rule above (nearest rounding). Each block is one QuantGrid (outer = its length,
// channels = inner, inner = 1) handed to the per-axis kernels, so the codes are theirs.
struct BlockedGrid {
  int64_t outer = 1, dim = 1, inner = 1, block = 1;
  const float* scale = nullptr;         // [outer][⌈dim/block⌉][inner]
  const int32_t* zero_point = nullptr;  // same shape, or null
  int32_t qmin = -127, qmax = 127;
};
// f(QuantGrid of one block, flat offset of its first element), blocks in memory order.
template <typename F>
void for_each_block(const BlockedGrid& b, F&& f) {
  const int64_t nb = (b.dim + b.block - 1) / b.block;
  for (int64_t o = 0; o < b.outer; ++o)
    for (int64_t j = 0; j < nb; ++j) {
      const int64_t d0 = j * b.block, p = (o * nb + j) * b.inner;
      QuantGrid g;
      g.outer = d0 + b.block <= b.dim ? b.block : b.dim - d0;
      g.channels = b.inner;
      g.inner = 1;
      g.scale = b.scale + p;
      g.zero_point = b.zero_point ? b.zero_point + p : nullptr;
      g.qmin = b.qmin, g.qmax = b.qmax;
      f(g, (o * b.dim + d0) * b.inner);
    }
}
void quantize_blocked_f32_i8(const BlockedGrid& b, const float* x, int8_t* q);
void quantize_blocked_f32_u8(const BlockedGrid& b, const float* x, uint8_t* q);
void dequantize_blocked_i8_f32(const BlockedGrid& b, const int8_t* q, float* x);
void dequantize_blocked_u8_f32(const BlockedGrid& b, const uint8_t* q, float* x);

// max |x| over n values (0 for n == 0; NaN ignored). Used to pick per-tensor scales.
float max_abs_f32(int64_t n, const float* x);
int32_t max_abs_i32(int64_t n, const int32_t* x);  // saturates at INT32_MAX for INT32_MIN
// min and max over n >= 1 values (NaN ignored), for asymmetric scales.
void min_max_f32(int64_t n, const float* x, float* lo, float* hi);

// int4 packing, element i in byte i/2, low nibble first (matches DType::i4). pack keeps the low
// four bits of each value (signed [-8,7] or unsigned [0,15] alike); an odd tail leaves the high
// nibble zero. unpack_int4 sign-extends, unpack_uint4 zero-extends.
void pack_int4(int64_t n, const int8_t* x, uint8_t* packed);
void unpack_int4(int64_t n, const uint8_t* packed, int8_t* x);
void unpack_uint4(int64_t n, const uint8_t* packed, int8_t* x);

}  // namespace lowbit::kernels
