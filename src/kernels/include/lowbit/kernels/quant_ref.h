// Plain-loop references for the quantizer kernels of quant.h: the specification, one element
// at a time, one 8-bit Philox draw per element. Same signatures and semantics as the fast versions.
#pragma once

#include "lowbit/kernels/quant.h"

namespace lowbit::kernels::ref {

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key);
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key);
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key);
void dequantize_i8_f32(const QuantGrid& g, const int8_t* q, float* x);
void dequantize_u8_f32(const QuantGrid& g, const uint8_t* q, float* x);
void dequantize_i32_f32(const QuantGrid& g, const int32_t* q, float* x);
// The blocked forms of quant.h over the reference kernels above.
void quantize_blocked_f32_i8(const BlockedGrid& b, const float* x, int8_t* q);
void quantize_blocked_f32_u8(const BlockedGrid& b, const float* x, uint8_t* q);
void dequantize_blocked_i8_f32(const BlockedGrid& b, const int8_t* q, float* x);
void dequantize_blocked_u8_f32(const BlockedGrid& b, const uint8_t* q, float* x);

// The stochastic-rounding draw of stream index `index` (quant.h, RandomKey): (r + 0.5) / 256
// with r = byte index % 16 of Philox block index / 16 — exact in fp32, in (0, 1).
float stochastic_uniform(uint64_t seed, uint64_t stream, uint64_t index);

// One element of the quantizer rule (quant.h), exposed for tests of single codes: y = x/scale,
// clamped to [lo, hi], rounded with uniform draw u (ignored for nearest). Returns round(y).
int32_t quantize_one(float x, float scale, float lo, float hi, Rounding r, float u);

}  // namespace lowbit::kernels::ref
