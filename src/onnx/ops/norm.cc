// Normalizations and softmax: BatchNormalization (inference), LayerNormalization, Softmax and
// LogSoftmax (opset < 13 flattens to 2-d at `axis`; >= 13 normalizes along `axis` only). The ops
// validate, resolve axes and broadcast scale/bias; the arithmetic is src/kernels (fp32_norm.cc,
// fp32_softmax.cc).
#include <cmath>

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_nhwc.h"
#include "ops/broadcast.h"

namespace lowbit::onnx {
namespace {

void same_shape_out(InferCtx& ctx, size_t out = 0) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(out, ctx.in[0].elem);
  ctx.set_out(out, ctx.in[0].elem, ctx.shape(0));
}

void bn_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.n_in() == 5, ctx, "expects 5 inputs (X, scale, B, mean, var)");
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("training_mode", 0) == 0 && ctx.out.size() == 1, ctx,
                      "training mode is not supported (inference only)");
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("spatial", 1) == 1, ctx,
                      "spatial=0 (per-element statistics of BatchNormalization-7) is not supported");
  for (size_t i = 0; i < 5; ++i) require_type(ctx, i, {ElemType::f32, ElemType::f64});
  if (const Attribute* act = ctx.node.find("lowbit_act"))  // set by fuse_activations only
    LOWBIT_NODE_REQUIRE(act->s == "Relu", ctx, "lowbit_act '{}' is not supported (only Relu)", act->s);
  for (size_t i = 1; i < 5; ++i)  // bn_run reads every parameter as X's element type
    LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ctx.in[0].elem, ctx, "input {} is {}, expected X's type {}", i,
                        elem_name(ctx.in[i].elem), elem_name(ctx.in[0].elem));
  if (ctx.shape_known(0)) {
    const Shape& x = ctx.shape(0);
    LOWBIT_NODE_REQUIRE(x.size() >= 2, ctx, "input must be (N, C, ...), got {}", shape_str(x));
    for (size_t i = 1; i < 5; ++i)
      if (ctx.shape_known(i))
        LOWBIT_NODE_REQUIRE(ctx.shape(i) == Shape{x[1]}, ctx, "input {} has shape {}, expected [{}]", i,
                            shape_str(ctx.shape(i)), x[1]);
  }
  same_shape_out(ctx);
}

// A float 4-d input may stay channels-last (DenseNet's BN -> ReLU -> conv between its concats):
// the per-channel affine map then runs over pixel rows.
uint64_t bn_channels_last(const InferCtx& ctx) {
  return ctx.shape_known(0) && ctx.shape(0).size() == 4 && ctx.in[0].elem == ElemType::f32 ? 1 | kTiedLayout : 0;
}

void bn_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const int64_t N = x.shape()[0], C = x.shape()[1], HW = (N * C) != 0 ? x.numel() / (N * C) : 0;
  const double eps = ctx.node.attr_f("epsilon", 1e-5);
  auto in = [&](size_t i, auto t) { return ctx.input(i).data<decltype(t)>(); };
  const bool relu = ctx.node.find("lowbit_act") != nullptr;  // a fused Relu (bn_infer checked the kind)
  if (x.type() == ElemType::f32 && (ctx.nhwc_inputs & 1))
    return kernels::batchnorm_forward_infer_nhwc(N * HW, C, in(0, 0.0f), in(1, 0.0f), in(2, 0.0f), in(3, 0.0f),
                                                 in(4, 0.0f), static_cast<float>(eps), relu, ctx.out[0]->data<float>());
  if (x.type() == ElemType::f32)
    kernels::batchnorm_forward_infer(N, C, HW, in(0, 0.0f), in(1, 0.0f), in(2, 0.0f), in(3, 0.0f), in(4, 0.0f),
                                     static_cast<float>(eps), ctx.out[0]->data<float>());
  else
    kernels::batchnorm_forward_infer(N, C, HW, in(0, 0.0), in(1, 0.0), in(2, 0.0), in(3, 0.0), in(4, 0.0), eps,
                                     ctx.out[0]->data<double>());
  if (!relu) return;
  if (x.type() == ElemType::f32) {
    float* y = ctx.out[0]->data<float>();
    kernels::relu_forward(x.numel(), y, y);
  } else {
    double* y = ctx.out[0]->data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) y[i] = y[i] > 0 ? y[i] : 0;
  }
}

void ln_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "expects X and Scale");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("stash_type", 1) == 1, ctx, "only stash_type=1 (float) is supported");
  if (!ctx.shape_known(0)) {
    for (size_t i = 0; i < ctx.out.size(); ++i) ctx.set_out_unknown(i, ctx.in[0].elem);
    return;
  }
  const Shape& x = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", -1), static_cast<int64_t>(x.size()), ctx);
  const Shape inner(x.begin() + axis, x.end());
  for (size_t i = 1; i < 3; ++i)
    if (ctx.shape_known(i))
      LOWBIT_NODE_REQUIRE(broadcast_shapes({ctx.shape(i), inner}, ctx) == inner, ctx,
                          "input {} shape {} does not broadcast to {}", i, shape_str(ctx.shape(i)), shape_str(inner));
  ctx.set_out(0, ctx.in[0].elem, x);
  Shape stat = x;
  for (size_t i = static_cast<size_t>(axis); i < stat.size(); ++i) stat[i] = 1;
  for (size_t i = 1; i < ctx.out.size(); ++i) ctx.set_out(i, ElemType::f32, stat);
}

void ln_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const int64_t axis = ctx.node.attr_i("axis", -1) < 0 ? ctx.node.attr_i("axis", -1) + x.dim() : ctx.node.attr_i("axis", -1);
  int64_t D = 1;
  for (int64_t i = axis; i < x.dim(); ++i) D *= x.shape()[static_cast<size_t>(i)];
  const int64_t rows = D ? x.numel() / D : 0;
  const double eps = ctx.node.attr_f("epsilon", 1e-5);
  // Scale/bias may be broadcast over the normalized block: expand to D values once.
  auto expand = [&](size_t i, double dflt) {
    std::vector<double> v(static_cast<size_t>(D), dflt);
    if (!ctx.has(i)) return v;
    const Array& a = ctx.input(i);
    Array full = Array::empty(a.type(), Shape(x.shape().begin() + axis, x.shape().end()));
    broadcast_copy(a, full);
    for (int64_t k = 0; k < D; ++k) v[static_cast<size_t>(k)] = full.get_f64(k);
    return v;
  };
  const std::vector<double> scale = expand(1, 1.0), bias = expand(2, 0.0);
  float* mean_out = ctx.out.size() > 1 && ctx.out[1] ? ctx.out[1]->data<float>() : nullptr;
  float* inv_out = ctx.out.size() > 2 && ctx.out[2] ? ctx.out[2]->data<float>() : nullptr;
  if (x.type() == ElemType::f32) {
    const std::vector<float> scale_f(scale.begin(), scale.end()), bias_f(bias.begin(), bias.end());
    kernels::layernorm_forward(rows, D, x.data<float>(), scale_f.data(), bias_f.data(), eps, ctx.out[0]->data<float>(),
                               mean_out, inv_out);
  } else {
    kernels::layernorm_forward(rows, D, x.data<double>(), scale.data(), bias.data(), eps, ctx.out[0]->data<double>(),
                               mean_out, inv_out);
  }
}

void softmax_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0), ctx, "input is required");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (ctx.shape_known(0))
    normalize_axis(ctx.node.attr_i("axis", ctx.opset >= 13 ? -1 : 1), static_cast<int64_t>(ctx.shape(0).size()), ctx);
  same_shape_out(ctx);
}

void softmax_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const int64_t rank = x.dim();
  int64_t axis = ctx.node.attr_i("axis", ctx.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  int64_t outer = 1, D = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t s = x.shape()[static_cast<size_t>(i)];
    if (i < axis) outer *= s;
    else if (i == axis || ctx.opset < 13) D *= s;  // opset < 13: all trailing dims form one row
    else inner *= s;
  }
  if (rank == 0) D = 1;
  const bool log = ctx.node.op_type == "LogSoftmax";
  // Contiguous float rows (the common case: last axis) take the vectorized fast_exp kernel.
  if (x.type() == ElemType::f32 && inner == 1) return kernels::softmax_rows(outer, D, x.data<float>(), ctx.out[0]->data<float>(), log);
  if (x.type() == ElemType::f32) kernels::softmax_strided(outer, D, inner, x.data<float>(), ctx.out[0]->data<float>(), log);
  else kernels::softmax_strided(outer, D, inner, x.data<double>(), ctx.out[0]->data<double>(), log);
}

}  // namespace

void add_norm_ops(OpList& ops) {
  ops.push_back(OpDef{"", "BatchNormalization", 7, {"epsilon", "momentum", "training_mode", "spatial", "lowbit_act"}, bn_infer,
                      bn_run});
  ops.back().channels_last = bn_channels_last;
  ops.push_back(OpDef{"", "LayerNormalization", 1, {"axis", "epsilon", "stash_type"}, ln_infer, ln_run});
  ops.push_back(OpDef{"", "Softmax", 1, {"axis"}, softmax_infer, softmax_run});
  ops.push_back(OpDef{"", "LogSoftmax", 1, {"axis"}, softmax_infer, softmax_run});
}

}  // namespace lowbit::onnx
