// Conv and ConvTranspose (float). 1-d and 2-d Conv go to lowbit::kernels::conv2d_forward
// (asymmetric pads are materialized first); other ranks and ConvTranspose use the plain-loop
// references below. A fused activation (set by the fusion pass) is applied to the output.
#include <cstring>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "ops/activation.h"
#include "ops/conv_geom.h"
#include "ops/conv_ref.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node) {
  const std::string kind = node.attr_s("lowbit_act", "");
  if (kind.empty()) return {};
  const float a = static_cast<float>(node.attr_f("lowbit_act_a", 0)), b = static_cast<float>(node.attr_f("lowbit_act_b", 0));
  if (kind == "Relu") return {Act::relu};
  if (kind == "Clip") return {Act::clip, a, b};
  if (kind == "HardSwish") return {Act::hardswish};
  if (kind == "Sigmoid") return {Act::sigmoid};
  if (kind == "LeakyRelu") return {Act::leaky_relu, a};
  throw InternalError(fmt::format("[onnx] {}: unknown fused activation '{}'", node.describe(), kind));
}

namespace {

const std::vector<std::string_view> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                                                   "lowbit_act", "lowbit_act_a", "lowbit_act_b"};

Shape kernel_spatial(const InferCtx& ctx, const Shape& w) {
  Shape k(w.begin() + 2, w.end());
  const std::vector<int64_t> attr = ctx.node.attr_ints("kernel_shape");
  LOWBIT_NODE_REQUIRE(attr.empty() || attr == k, ctx, "kernel_shape does not match the weight shape {}", shape_str(w));
  return k;
}

void conv_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "needs X and W");
  require_type(ctx, 0, {ElemType::f32});
  require_type(ctx, 1, {ElemType::f32});
  require_type(ctx, 2, {ElemType::f32});
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ElemType::f32);
  const Shape &x = ctx.shape(0), &w = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(w.size() == x.size(), ctx, "weight rank {} != input rank {}", w.size(), x.size());
  const int64_t group = ctx.node.attr_i("group", 1);
  LOWBIT_NODE_REQUIRE(group >= 1 && x[1] % group == 0 && w[0] % group == 0 && w[1] * group == x[1], ctx,
                      "channels: input {} and weight {} do not fit group={}", shape_str(x), shape_str(w), group);
  if (ctx.has(2) && ctx.shape_known(2))
    LOWBIT_NODE_REQUIRE(ctx.shape(2) == Shape{w[0]}, ctx, "bias shape {} != [{}]", shape_str(ctx.shape(2)), w[0]);
  const SpatialGeom g = resolve_geom(ctx, x, kernel_spatial(ctx, w), false);
  Shape out{x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  ctx.set_out(0, ElemType::f32, out);
}

double conv_flops(const InferCtx& ctx) {
  if (!ctx.out[0].has_shape || !ctx.shape_known(1)) return 0;
  const Shape& w = ctx.shape(1);
  return 2.0 * static_cast<double>(checked_numel(ctx.out[0].shape, "Conv")) *
         static_cast<double>(checked_numel(Shape(w.begin() + 1, w.end()), "Conv"));
}

// Zero-pads x (N,C,H,W) by (top,left,bottom,right) into a fresh buffer.
Array pad_nchw(const Array& x, int64_t top, int64_t left, int64_t bottom, int64_t right) {
  const Shape& s = x.shape();
  const int64_t NC = s[0] * s[1], H = s[2], W = s[3], PH = H + top + bottom, PW = W + left + right;
  Array out = Array::zeros(ElemType::f32, {s[0], s[1], PH, PW});
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  parallel_for(NC, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t h = 0; h < H; ++h)
        std::memcpy(dst + (c * PH + h + top) * PW + left, src + (c * H + h) * W, static_cast<size_t>(W) * 4);
  });
  return out;
}

void conv_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array &x = ctx.input(0), &w = ctx.input(1);
  Array& y = *ctx.out[0];
  const float* bias = ctx.has(2) ? ctx.input(2).data<float>() : nullptr;
  const SpatialGeom g = resolve_geom(ictx, x.shape(), Shape(w.shape().begin() + 2, w.shape().end()), false);
  const int64_t group = ctx.node.attr_i("group", 1);
  if (g.rank <= 2) {
    // View 1-d as 2-d with H = 1.
    const bool one_d = g.rank == 1;
    kernels::Conv2dShape s;
    s.N = x.shape()[0];
    s.C = x.shape()[1];
    s.H = one_d ? 1 : g.in[0];
    s.W = g.in[g.rank - 1];
    s.K = w.shape()[0];
    s.R = one_d ? 1 : g.kernel[0];
    s.S = g.kernel[g.rank - 1];
    s.stride_h = one_d ? 1 : g.stride[0];
    s.stride_w = g.stride[g.rank - 1];
    s.dil_h = one_d ? 1 : g.dilation[0];
    s.dil_w = g.dilation[g.rank - 1];
    s.groups = group;
    const int64_t pt = one_d ? 0 : g.pad_begin[0], pb = one_d ? 0 : g.pad_end[0];
    const int64_t pl = g.pad_begin[g.rank - 1], pr = g.pad_end[g.rank - 1];
    Array padded;
    const float* xin = x.data<float>();
    if (pt == pb && pl == pr) {
      s.pad_h = pt;
      s.pad_w = pl;
    } else {
      padded = pad_nchw(x.reshaped({s.N, s.C, s.H, s.W}), pt, pl, pb, pr);
      xin = padded.data<float>();
      s.H += pt + pb;
      s.W += pl + pr;
    }
    kernels::conv2d_forward(s, xin, w.data<float>(), bias, y.data<float>());
  } else {
    conv_nd_ref(g, x.shape()[0], x.shape()[1], w.shape()[0], group, x.data<float>(), w.data<float>(), bias,
                y.data<float>());
  }
  const Activation act = fused_activation(ctx.node);
  if (act.kind != Act::none) act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
}

void conv_transpose_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "needs X and W");
  require_type(ctx, 0, {ElemType::f32});
  require_type(ctx, 1, {ElemType::f32});
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ElemType::f32);
  const Shape &x = ctx.shape(0), &w = ctx.shape(1);
  const int64_t group = ctx.node.attr_i("group", 1);
  LOWBIT_NODE_REQUIRE(w.size() == x.size() && group >= 1 && w[0] == x[1] && x[1] % group == 0, ctx,
                      "input {} and weight {} do not fit group={}", shape_str(x), shape_str(w), group);
  const SpatialGeom g = resolve_transpose_geom(ctx, x, kernel_spatial(ctx, w));
  Shape out{x[0], w[1] * group};
  out.insert(out.end(), g.out.begin(), g.out.end());
  ctx.set_out(0, ElemType::f32, out);
}

void conv_transpose_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array &x = ctx.input(0), &w = ctx.input(1);
  const SpatialGeom g = resolve_transpose_geom(ictx, x.shape(), Shape(w.shape().begin() + 2, w.shape().end()));
  const int64_t group = ctx.node.attr_i("group", 1);
  conv_transpose_nd_ref(g, x.shape()[0], x.shape()[1], w.shape()[1] * group, group, x.data<float>(), w.data<float>(),
                        ctx.has(2) ? ctx.input(2).data<float>() : nullptr, ctx.out[0]->data<float>());
}

}  // namespace

void add_conv_ops(OpList& ops) {
  OpDef conv{"", "Conv", 1, kConvAttrs, conv_infer, conv_run};
  conv.flops = conv_flops;
  ops.push_back(conv);
  OpDef convt{"", "ConvTranspose", 1,
              {"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"},
              conv_transpose_infer, conv_transpose_run};
  convt.flops = [](const InferCtx& ctx) {
    if (!ctx.shape_known(0) || !ctx.shape_known(1)) return 0.0;
    return 2.0 * static_cast<double>(checked_numel(ctx.shape(0), "ConvTranspose")) *
           static_cast<double>(checked_numel(Shape(ctx.shape(1).begin() + 1, ctx.shape(1).end()), "ConvTranspose"));
  };
  ops.push_back(convt);
}

}  // namespace lowbit::onnx
