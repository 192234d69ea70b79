// Conv and ConvTranspose (float). 1-d and 2-d Conv with constant weights run a prepacked
// kernels::ConvPlan kept per node, others kernels::conv2d_forward (asymmetric pads are
// materialized first); other ranks and ConvTranspose use the plain-loop references below. A fused
// residual Add (lowbit_sum, 4th input) and activation (lowbit_act*) apply to the output.
#include <array>
#include <cstring>
#include <memory>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_conv_plan.h"
#include "ops/activation.h"
#include "ops/conv_geom.h"
#include "lowbit/kernels/conv_nd_ref.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node) {
  const std::string kind = node.attr_s("lowbit_act", "");
  if (kind.empty()) return {};
  const float a = static_cast<float>(node.attr_f("lowbit_act_a", 0)), b = static_cast<float>(node.attr_f("lowbit_act_b", 0));
  if (kind == "Relu") return {Act::relu};
  if (kind == "Clip") return {Act::clip, a, b};
  if (kind == "HardSwish") return {Act::hardswish};
  if (kind == "Silu") return {Act::silu};  // Sigmoid(y) · y (fuse_activations)
  if (kind == "Sigmoid") return {Act::sigmoid};
  if (kind == "LeakyRelu") return {Act::leaky_relu, a};
  throw InternalError(fmt::format("[onnx] {}: unknown fused activation '{}'", node.describe(), kind));
}

namespace {

const std::vector<std::string_view> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                                                   "lowbit_act", "lowbit_act_a", "lowbit_act_b", "lowbit_sum", "lowbit_bf16"};

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
  const Shape spatial = spatial_out(g);
  out.insert(out.end(), spatial.begin(), spatial.end());
  if (ctx.node.attr_i("lowbit_sum", 0) != 0 && ctx.has(3)) {  // fused residual Add (passes.cc)
    require_type(ctx, 3, {ElemType::f32});
    if (!ctx.shape_known(3)) return ctx.set_out_unknown(0, ElemType::f32);
    out = broadcast_shapes({out, ctx.shape(3)}, ctx);
  }
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

// Prepacked weights of one Conv node (kept in RunCtx::state); rebuilt if the geometry changes.
struct ConvState {
  kernels::ConvGeom shape;
  kernels::ConvPlan plan;
};

// The part of the fused activation the plan applies itself (after the sum): oneDNN post-ops.
kernels::ConvEpilogue plan_epilogue(const Activation& act, bool sum) {
  kernels::ConvEpilogue ep;
  ep.sum = sum;
  if (act.kind == Act::relu) ep.act = kernels::ConvEpilogue::Act::relu;
  if (act.kind == Act::clip) ep = {sum, kernels::ConvEpilogue::Act::clip, act.a, act.b};
  if (act.kind == Act::hardswish) ep.act = kernels::ConvEpilogue::Act::hardswish;
  if (act.kind == Act::silu) ep.act = kernels::ConvEpilogue::Act::silu;
  return ep;
}

// y += r elementwise (same shape), split like the activations.
void add_into(int64_t n, const float* r, float* y) {
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] += r[i];
  });
}

// Computes act(conv(x) + bias [+ residual]) into `y`, whose shape is the conv's output shape.
// With constant weights inside a session, a ConvPlan (weights packed once, sum and ReLU/Clip as
// post-ops) does the work; otherwise conv2d_forward and plain loops.
void conv_into(RunCtx& ctx, const SpatialGeom& geom, const Array* residual, const Activation& act, Array& y) {
  // lowbit_bf16 (passes_bf16.cc): X and W rounded to bfloat16, fp32 sums — in the plan, or on
  // rounded copies for the other paths.
  const bool bf16 = ctx.node.attr_i("lowbit_bf16", 0) != 0;
  const kernels::PlanMath math = bf16 ? kernels::PlanMath::bf16 : kernels::PlanMath::f32;
  Array x_round, w_round;
  auto rounded = [](const Array& a, Array& keep) -> const Array& {
    keep = a.clone();
    kernels::round_to_bf16(keep.numel(), keep.data<float>(), keep.data<float>());
    return keep;
  };
  const Array& x = bf16 && ctx.state == nullptr ? rounded(ctx.input(0), x_round) : ctx.input(0);
  const Array& w = ctx.input(1);
  const float* bias = ctx.has(2) ? ctx.input(2).data<float>() : nullptr;
  SpatialGeom g = geom;
  g.K = w.shape()[0];
  g.groups = ctx.node.attr_i("group", 1);
  // y may hold the residual (overwrites_input): the paths that write y before summing need a copy.
  Array residual_copy;
  auto own_residual = [&] {
    if (residual && residual->data<float>() == y.data<float>()) {
      residual_copy = residual->clone();
      residual = &residual_copy;
    }
  };
  if (g.rank > 2) {
    own_residual();
    const Array& xr = bf16 && x_round.numel() == 0 ? rounded(x, x_round) : x;
    const Array& wr = bf16 ? rounded(w, w_round) : w;
    kernels::ref::conv_nd(g, xr.data<float>(), wr.data<float>(), bias, y.data<float>());
    if (residual) add_into(y.numel(), residual->data<float>(), y.data<float>());
    if (act.kind != Act::none) act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
    return;
  }
  kernels::ConvGeom s = kernels::as_2d(g);
  Array padded;
  const float* xin = x.data<float>();
  if (!s.symmetric()) {  // materialized, so that every path (oneDNN plans included) sees symmetric pads
    padded = pad_nchw(x.reshaped({s.N, s.C, s.H(), s.W()}), s.pad_t(), s.pad_l(), s.pad_b(), s.pad_r());
    xin = padded.data<float>();
    for (size_t d = 0; d < 2; ++d) {
      s.in[d] += s.pad_begin[d] + s.pad_end[d];
      s.pad_begin[d] = s.pad_end[d] = 0;
    }
  }
  const uint64_t need_const = 0b10 | (bias ? 0b100 : 0);
  const bool x_nhwc = ctx.nhwc_inputs & 1, y_nhwc = ctx.nhwc_outputs & 1;  // residual follows y
  if (ctx.state && (ctx.const_inputs & need_const) == need_const) {
    auto st = std::static_pointer_cast<ConvState>(*ctx.state);
    const kernels::ConvEpilogue ep = plan_epilogue(act, residual != nullptr);
    if (!st || st->shape != s) {
      using kernels::ConvLayout;
      st = std::make_shared<ConvState>(ConvState{
          s, kernels::ConvPlan(s, w.data<float>(), bias, ep, x_nhwc ? ConvLayout::nhwc : ConvLayout::nchw,
                               y_nhwc ? ConvLayout::nhwc : ConvLayout::nchw, math)});
      *ctx.state = st;
    }
    if (residual && residual->data<float>() != y.data<float>())
      std::memcpy(y.data<float>(), residual->data<float>(), y.nbytes());
    st->plan.run(xin, y.data<float>());
    if (ep.act == kernels::ConvEpilogue::Act::none && act.kind != Act::none)
      act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
    return;
  }
  LOWBIT_CHECK(!x_nhwc && !y_nhwc, "{}: channels-last planned without constant weights", ctx.node.describe());
  own_residual();
  if (bf16 && x_round.numel() == 0) {  // in a session but not planned: round here
    x_round = Array::empty(ElemType::f32, {s.N, s.C, s.H(), s.W()});
    kernels::round_to_bf16(x_round.numel(), xin, x_round.data<float>());
    xin = x_round.data<float>();
  }
  kernels::conv2d_forward(s, xin, bf16 ? rounded(w, w_round).data<float>() : w.data<float>(), bias, y.data<float>());
  if (residual) add_into(y.numel(), residual->data<float>(), y.data<float>());
  if (act.kind != Act::none) act_apply_n(act, y.numel(), y.data<float>(), y.data<float>());
}

Shape conv_out_shape(const Array& x, const Array& w, const SpatialGeom& g) {
  Shape out{x.shape()[0], w.shape()[0]};
  const Shape spatial = spatial_out(g);
  out.insert(out.end(), spatial.begin(), spatial.end());
  return out;
}

// Channels-last is offered for 2-d convs that will run a ConvPlan (constant weights and bias,
// symmetric pads), on X and on the residual, which must then have the output's shape.
uint64_t conv_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4 || !ctx.value(1) || ctx.value(1)->dim() != 4) return 0;
  if (ctx.has(2) && !ctx.value(2)) return 0;
  const Shape& w = ctx.value(1)->shape();
  const SpatialGeom g = resolve_geom(ctx, ctx.shape(0), Shape(w.begin() + 2, w.end()), false);
  if (!g.symmetric()) return 0;
  if (ctx.node.attr_i("lowbit_sum", 0) == 0 || !ctx.has(3)) return 1;
  const Shape out{ctx.shape(0)[0], w[0], g.out[0], g.out[1]};
  return ctx.shape_known(3) && ctx.shape(3) == out ? 0b1001 : 0;  // a broadcasting residual runs the Add op
}

void conv_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array &x = ctx.input(0), &w = ctx.input(1);
  Array& y = *ctx.out[0];
  const SpatialGeom g = resolve_geom(ictx, x.shape(), Shape(w.shape().begin() + 2, w.shape().end()), false);
  const Activation act = fused_activation(ctx.node);
  const Array* residual = ctx.node.attr_i("lowbit_sum", 0) != 0 && ctx.has(3) ? &ctx.input(3) : nullptr;
  const Shape conv_shape = conv_out_shape(x, w, g);
  if (!residual || (residual->shape() == conv_shape && y.shape() == conv_shape))
    return conv_into(ctx, g, residual, act, y);
  // A fused Add that broadcasts: the conv into a temporary, then the Add op itself.
  Array tmp = Array::empty(ElemType::f32, conv_shape);
  conv_into(ctx, g, nullptr, {}, tmp);
  const OpDef* add = find_op("", "Add");
  LOWBIT_CHECK(add != nullptr, "Add op not registered");
  RunCtx add_ctx{ctx.node, ctx.opset, {&tmp, residual}, {&y}};
  add->run(add_ctx);
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
  const Shape spatial = spatial_out(g);
  out.insert(out.end(), spatial.begin(), spatial.end());
  ctx.set_out(0, ElemType::f32, out);
}

void conv_transpose_run(RunCtx& ctx) {
  const InferCtx ictx = infer_ctx_for(ctx);
  const Array &x = ctx.input(0), &w = ctx.input(1);
  SpatialGeom g = resolve_transpose_geom(ictx, x.shape(), Shape(w.shape().begin() + 2, w.shape().end()));
  g.groups = ctx.node.attr_i("group", 1);
  g.K = w.shape()[1] * g.groups;
  kernels::ref::conv_transpose_nd(g, x.data<float>(), w.data<float>(), ctx.has(2) ? ctx.input(2).data<float>() : nullptr,
                                  ctx.out[0]->data<float>());
}

}  // namespace

void add_conv_ops(OpList& ops) {
  OpDef conv{"", "Conv", 1, kConvAttrs, conv_infer, conv_run};
  conv.flops = conv_flops;
  conv.channels_last = conv_channels_last;
  // A fused residual (lowbit_sum) is summed into y: y may take over its buffer, saving the copy.
  conv.overwrites_input = [](const Node& n) { return n.attr_i("lowbit_sum", 0) != 0 ? 3 : -1; };
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
