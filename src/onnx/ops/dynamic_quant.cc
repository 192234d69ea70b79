// DynamicQuantizeLinear (opset 11): uint8 codes of x with a scale and zero point computed from
// the tensor itself, range widened to include 0: scale = (max(x, 0) − min(x, 0)) / 255,
// zero_point = saturate(round(−min / scale)), y = saturate(round(x / scale) + zero_point), all
// rounding to nearest even. Computes through kernels::min_max_f32 and kernels::quantize_f32_u8.
// An all-zero input gives scale 0, zero point 0 and zero codes (ONNX leaves 0/0 open).
#include <cmath>

#include "lowbit/kernels/quant.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

void dynamic_quantize_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32});
  if (ctx.shape_known(0)) ctx.set_out(0, ElemType::u8, ctx.shape(0));
  else ctx.set_out_unknown(0, ElemType::u8);
  if (ctx.out.size() > 1) ctx.set_out(1, ElemType::f32, {});
  if (ctx.out.size() > 2) ctx.set_out(2, ElemType::u8, {});
}

void dynamic_quantize_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const int64_t n = x.numel();
  float lo = 0, hi = 0;
  if (n > 0) kernels::min_max_f32(n, x.data<float>(), &lo, &hi);
  LOWBIT_NODE_REQUIRE(std::isfinite(lo) && std::isfinite(hi), infer_ctx_for(ctx), "input holds non-finite values");
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float scale = (hi - lo) / 255.0f;
  const int32_t zp = scale > 0 ? static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, 255.0f)) : 0;
  uint8_t* y = ctx.out[0]->data<uint8_t>();
  if (scale > 0 && n > 0) {
    kernels::QuantGrid g;
    g.channels = 1;
    g.inner = n;
    g.scale = &scale;
    g.zero_point = &zp;
    g.qmin = 0;
    g.qmax = 255;
    kernels::quantize_f32_u8(g, x.data<float>(), y, kernels::Rounding::nearest, kernels::RandomKey{});
  } else {
    std::fill(y, y + n, uint8_t{0});
  }
  if (ctx.out.size() > 1 && ctx.out[1]) ctx.out[1]->data<float>()[0] = scale;
  if (ctx.out.size() > 2 && ctx.out[2]) ctx.out[2]->data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

}  // namespace

void add_dynamic_quant_ops(OpList& ops) {
  ops.push_back(OpDef{"", "DynamicQuantizeLinear", 11, {}, dynamic_quantize_infer, dynamic_quantize_run});
}

}  // namespace lowbit::onnx
