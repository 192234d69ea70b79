// MaxPool, AveragePool (N-d, ceil_mode, dilations, count_include_pad) and the global pools:
// validation and dispatch. Simple 2-d cases go to the lowbit::kernels pooling kernels, the rest
// to the N-d reference loops (kernels::ref::pool_nd); global pools to kernels/global_pool.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_nhwc.h"
#include "lowbit/kernels/global_pool.h"
#include "ops/conv_geom.h"
#include "ops/conv_ref.h"

namespace lowbit::onnx {
namespace {

SpatialGeom pool_geom(const InferCtx& ctx, const Shape& x) {
  const std::vector<int64_t> k = ctx.node.attr_ints("kernel_shape");
  LOWBIT_NODE_REQUIRE(!k.empty(), ctx, "'kernel_shape' is required");
  return resolve_geom(ctx, x, k, ctx.node.attr_i("ceil_mode", 0) != 0);
}

void pool_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0), ctx, "input is required");
  const bool is_max = ctx.node.op_type == "MaxPool";
  if (is_max) require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::u8, ElemType::i8});
  else require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("storage_order", 0) == 0, ctx, "storage_order=1 is not supported");
  if (!ctx.shape_known(0)) {
    for (size_t i = 0; i < ctx.out.size(); ++i) ctx.set_out_unknown(i, i ? ElemType::i64 : ctx.in[0].elem);
    return;
  }
  const Shape& x = ctx.shape(0);
  const SpatialGeom g = pool_geom(ctx, x);
  Shape out{x[0], x[1]};
  const Shape spatial = spatial_out(g);
  out.insert(out.end(), spatial.begin(), spatial.end());
  ctx.set_out(0, ctx.in[0].elem, out);
  if (ctx.out.size() > 1) ctx.set_out(1, ElemType::i64, out);
}

// 2-d pooling the lowbit::kernels pooling kernels take (no indices output; float, or max pooling
// of int8/uint8 codes; pads smaller than the kernel, so no window lies wholly in the padding).
bool simple_pool(const Node& node, ElemType type, const SpatialGeom& g, bool want_idx) {
  const bool is_max = node.op_type == "MaxPool";
  const bool include_pad = node.attr_i("count_include_pad", 0) != 0;
  const bool type_ok = type == ElemType::f32 || (is_max && (type == ElemType::u8 || type == ElemType::i8));
  // ceil_mode adds a last window clipped to the input: the kernels' clipping rule, except for an
  // average that counts padding.
  const bool ceil_ok = node.attr_i("ceil_mode", 0) == 0 || is_max || !include_pad;
  return type_ok && g.rank == 2 && g.symmetric() && !want_idx && g.dilation[0] == 1 && g.dilation[1] == 1 &&
         g.pad_begin[0] < g.kernel[0] && g.pad_begin[1] < g.kernel[1] && ceil_ok &&
         (is_max || !include_pad || (g.pad_begin[0] == 0 && g.pad_begin[1] == 0));
}

// MaxPool and AveragePool between channels-last convs read and write NHWC (input and output
// layouts tied) when the 2-d kernels take them.
uint64_t pool_channels_last(const InferCtx& ctx) {
  if (ctx.node.outputs.size() != 1 || !ctx.shape_known(0) || ctx.shape(0).size() != 4) return 0;
  if (ctx.node.op_type != "MaxPool" && ctx.in[0].elem != ElemType::f32) return 0;
  return simple_pool(ctx.node, ctx.in[0].elem, pool_geom(ctx, ctx.shape(0)), false) ? 1 | kTiedLayout : 0;
}

void pool_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const SpatialGeom g = pool_geom(ictx, x.shape());
  const bool is_max = ctx.node.op_type == "MaxPool";
  const bool include_pad = ctx.node.attr_i("count_include_pad", 0) != 0;
  const bool want_idx = ctx.out.size() > 1 && ctx.out[1];
  if (simple_pool(ctx.node, x.type(), g, want_idx)) {
    const kernels::ConvGeom& s = g;  // the resolved output size (ceil_mode included) is g.out
    if (x.type() == ElemType::u8) {  // codes: a QDQ chain lowered onto them (passes_qdq_codes.cc)
      if (ctx.nhwc_inputs & 1) kernels::maxpool2d_forward_nhwc(s, x.data<uint8_t>(), y.data<uint8_t>());
      else kernels::maxpool2d_infer(s, x.data<uint8_t>(), y.data<uint8_t>());
    } else if (x.type() == ElemType::i8) {
      if (ctx.nhwc_inputs & 1) kernels::maxpool2d_forward_nhwc(s, x.data<int8_t>(), y.data<int8_t>());
      else kernels::maxpool2d_infer(s, x.data<int8_t>(), y.data<int8_t>());
    } else if (ctx.nhwc_inputs & 1) {
      if (is_max) kernels::maxpool2d_forward_nhwc(s, x.data<float>(), y.data<float>());
      else kernels::avgpool2d_forward_nhwc(s, x.data<float>(), y.data<float>());
    } else if (is_max) {
      kernels::maxpool2d_infer(s, x.data<float>(), y.data<float>());
    } else {
      kernels::avgpool2d_forward(s, x.data<float>(), y.data<float>());
    }
    return;
  }
  dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, uint8_t> ||
                  std::is_same_v<T, int8_t>)
      kernels::ref::pool_nd(g, is_max, include_pad, x.data<T>(), y.data<T>(), want_idx ? ctx.out[1]->data<int64_t>() : nullptr);
  });
}

void global_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  Shape s = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(s.size() >= 3, ctx, "input must be (N, C, spatial...), got {}", shape_str(s));
  for (size_t i = 2; i < s.size(); ++i) s[i] = 1;
  ctx.set_out(0, ctx.in[0].elem, s);
}

void global_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const int64_t NC = x.shape()[0] * x.shape()[1];
  const int64_t HW = NC ? x.numel() / NC : 0;
  const bool is_max = ctx.node.op_type == "GlobalMaxPool";
  if (NC == 0) return;
  LOWBIT_NODE_REQUIRE(HW >= 1, infer_ctx_for(ctx), "input {} has an empty spatial extent", shape_str(x.shape()));
  if ((ctx.nhwc_inputs & 1) && x.type() == ElemType::f32) {
    // Channels-last input (N, H, W, C); the (N, C, 1, 1) output is the same bytes in either layout.
    kernels::global_pool_nhwc(is_max, x.shape()[0], HW, x.shape()[1], x.data<float>(), ctx.out[0]->data<float>());
    return;
  }
  if (x.type() == ElemType::f32) kernels::global_pool(is_max, NC, HW, x.data<float>(), ctx.out[0]->data<float>());
  else if (x.type() == ElemType::f64) kernels::global_pool(is_max, NC, HW, x.data<double>(), ctx.out[0]->data<double>());
}

}  // namespace

void add_pool_ops(OpList& ops) {
  OpDef maxpool{"", "MaxPool", 8,
                {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}, pool_infer,
                pool_run};
  maxpool.channels_last = pool_channels_last;
  ops.push_back(maxpool);
  ops.push_back(OpDef{"", "AveragePool", 7,
                      {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}, pool_infer,
                      pool_run});
  ops.back().channels_last = pool_channels_last;
  // A 4-d input may be read channels-last (the output is (N, C, 1, 1): the same bytes).
  auto global_channels_last = [](const InferCtx& ctx) -> uint64_t {
    return ctx.shape_known(0) && ctx.shape(0).size() == 4 && ctx.in[0].elem == ElemType::f32 ? 1 : 0;
  };
  ops.push_back(OpDef{"", "GlobalAveragePool", 1, {}, global_infer, global_run});
  ops.back().channels_last = global_channels_last;
  ops.push_back(OpDef{"", "GlobalMaxPool", 1, {}, global_infer, global_run});
  ops.back().channels_last = global_channels_last;
}

}  // namespace lowbit::onnx
