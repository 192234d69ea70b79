// Per-tensor QuantizeLinear / DequantizeLinear on the quantizer kernels (lowbit.Quantize,
// lowbit.Dequantize: same inputs and semantics as the standard ops, to which passes_qdq.cc
// lowers the Q/DQ nodes left between non-quantized ops). Codes equal the standard ops': both
// divide in fp32, round half to even and saturate; dequantization is float(q − zp)·scale.
// Inputs the kernels do not cover (int32 x) run the standard op.
#include "lowbit/kernels/quant.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

namespace k = lowbit::kernels;

k::QuantGrid grid(const RunCtx& ctx, ElemType codes, int64_t n, const float* scale, const int32_t* zp) {
  k::QuantGrid g;
  g.inner = n;
  g.scale = scale;
  g.zero_point = zp;
  g.qmin = codes == ElemType::u8 ? 0 : -128;
  g.qmax = codes == ElemType::u8 ? 255 : 127;
  return g;
}

void quantize_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  if (x.type() != ElemType::f32) return find_op("", "QuantizeLinear")->run(ctx);
  const float s = static_cast<float>(ctx.input(1).get_f64(0));
  const int32_t zp = ctx.has(2) ? static_cast<int32_t>(ctx.input(2).get_i64(0)) : 0;
  const k::QuantGrid g = grid(ctx, y.type(), x.numel(), &s, &zp);
  if (y.type() == ElemType::u8) k::quantize_f32_u8(g, x.data<float>(), y.data<uint8_t>(), k::Rounding::nearest, {});
  else k::quantize_f32_i8(g, x.data<float>(), y.data<int8_t>(), k::Rounding::nearest, {});
}

void dequantize_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  if (x.type() != ElemType::u8 && x.type() != ElemType::i8) return find_op("", "DequantizeLinear")->run(ctx);
  const float s = static_cast<float>(ctx.input(1).get_f64(0));
  const int32_t zp = ctx.has(2) ? static_cast<int32_t>(ctx.input(2).get_i64(0)) : 0;
  const k::QuantGrid g = grid(ctx, x.type(), x.numel(), &s, &zp);
  float* y = ctx.out[0]->data<float>();
  if (x.type() == ElemType::u8) k::dequantize_u8_f32(g, x.data<uint8_t>(), y);
  else k::dequantize_i8_f32(g, x.data<int8_t>(), y);
}

}  // namespace

void add_qdq_fast_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "Quantize", 1, {"axis"}, [](InferCtx& c) { find_op("", "QuantizeLinear")->infer(c); }, quantize_run});
  ops.push_back(OpDef{"lowbit", "Dequantize", 1, {"axis"}, [](InferCtx& c) { find_op("", "DequantizeLinear")->infer(c); }, dequantize_run});
}

}  // namespace lowbit::onnx
