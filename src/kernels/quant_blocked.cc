// Blocked quantization of quant.h (ONNX Quantize/DequantizeLinear-21 block_size): every block is
// one QuantGrid handed to the per-axis quantizers, the dispatched ones here and the reference ones
// in the ref namespace, so the blocked forms inherit their codes and their bit-for-bit agreement.
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/quant_ref.h"

namespace lowbit::kernels {

void quantize_blocked_f32_i8(const BlockedGrid& b, const float* x, int8_t* q) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { quantize_f32_i8(g, x + at, q + at, Rounding::nearest, {}); });
}
void quantize_blocked_f32_u8(const BlockedGrid& b, const float* x, uint8_t* q) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { quantize_f32_u8(g, x + at, q + at, Rounding::nearest, {}); });
}
void dequantize_blocked_i8_f32(const BlockedGrid& b, const int8_t* q, float* x) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { dequantize_i8_f32(g, q + at, x + at); });
}
void dequantize_blocked_u8_f32(const BlockedGrid& b, const uint8_t* q, float* x) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { dequantize_u8_f32(g, q + at, x + at); });
}

namespace ref {

void quantize_blocked_f32_i8(const BlockedGrid& b, const float* x, int8_t* q) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { ref::quantize_f32_i8(g, x + at, q + at, Rounding::nearest, {}); });
}
void quantize_blocked_f32_u8(const BlockedGrid& b, const float* x, uint8_t* q) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { ref::quantize_f32_u8(g, x + at, q + at, Rounding::nearest, {}); });
}
void dequantize_blocked_i8_f32(const BlockedGrid& b, const int8_t* q, float* x) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { ref::dequantize_i8_f32(g, q + at, x + at); });
}
void dequantize_blocked_u8_f32(const BlockedGrid& b, const uint8_t* q, float* x) {
  for_each_block(b, [&](const QuantGrid& g, int64_t at) { ref::dequantize_u8_f32(g, q + at, x + at); });
}

}  // namespace ref
}  // namespace lowbit::kernels
