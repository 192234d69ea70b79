// Activation ops (Relu, Clip, Sigmoid, Tanh, HardSwish, Gelu, ...) plus Identity and inference
// Dropout: validate and call kernels::activation_forward. Float types only; Relu and Clip also
// accept integers (Clip's node tests use int8).
#include "ops/activation.h"

#include <limits>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/elementwise.h"
#include "ops/op.h"

namespace lowbit::onnx {

namespace {

using ActFromNode = Activation (*)(const Node&);

void same_shape_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0), ctx, "input 0 is required");
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

// Elementwise: the same per element in any layout, so a 4-d input may stay channels-last.
uint64_t elementwise_channels_last(const InferCtx& ctx) {
  return ctx.shape_known(0) && ctx.shape(0).size() == 4 ? 1 | kTiedLayout : 0;
}

OpDef act_op(std::string_view name, std::vector<std::string_view> attrs, ActFromNode make) {
  OpDef op{"", name, 1, std::move(attrs), same_shape_infer, nullptr};
  op.channels_last = elementwise_channels_last;
  op.run = [make](RunCtx& ctx) {
    const Activation act = make(ctx.node);
    const Array& x = ctx.input(0);
    if (x.type() == ElemType::f32) return act_apply_n(act, x.numel(), x.data<float>(), ctx.out[0]->data<float>());
    kernels::activation_forward(act, x.numel(), x.data<double>(), ctx.out[0]->data<double>());
  };
  return op;
}

// Clip-6 carries the bounds as float attributes 'min'/'max'; Clip-11 as optional scalar inputs.
template <typename T>
void clip_bounds(const RunCtx& ctx, T& lo, T& hi) {
  lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  if constexpr (std::numeric_limits<T>::has_infinity) lo = -std::numeric_limits<T>::infinity(), hi = -lo;
  if (ctx.opset < 11) {
    if (ctx.node.find("min")) lo = static_cast<T>(ctx.node.attr_f("min", 0));
    if (ctx.node.find("max")) hi = static_cast<T>(ctx.node.attr_f("max", 0));
    return;
  }
  if (ctx.has(1)) lo = ctx.input(1).data<T>()[0];
  if (ctx.has(2)) hi = ctx.input(2).data<T>()[0];
}

template <typename T>
void clip_typed(RunCtx& ctx) {
  T lo, hi;
  clip_bounds(ctx, lo, hi);
  const Array& x = ctx.input(0);
  kernels::clip(x.numel(), x.data<T>(), lo, hi, ctx.out[0]->data<T>());
}

OpDef clip_op() {
  OpDef op{"", "Clip", 6, {"min", "max"}, nullptr, nullptr};
  op.infer = [](InferCtx& ctx) {
    if (ctx.opset < 11) {
      LOWBIT_NODE_REQUIRE(ctx.n_in() == 1, ctx, "Clip-6 takes min/max as attributes, got {} inputs", ctx.n_in());
      require_type(ctx, 0, {ElemType::f32, ElemType::f64});
    } else {
      LOWBIT_NODE_REQUIRE(!ctx.node.find("min") && !ctx.node.find("max"), ctx,
                          "min/max attributes belong to Clip-6; from opset 11 they are inputs");
    }
    require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i8, ElemType::u8, ElemType::i32, ElemType::i64});
    for (size_t i = 1; i < ctx.n_in(); ++i) {
      if (!ctx.has(i)) continue;
      LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ctx.in[0].elem, ctx, "min/max type differs from input");
      LOWBIT_NODE_REQUIRE(!ctx.in[i].has_shape || checked_numel(ctx.in[i].shape, "Clip") == 1, ctx,
                          "min/max must be scalars");
    }
    if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
    ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
  };
  op.run = [](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    if (x.type() == ElemType::f32) {
      Activation act{Act::clip, -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
      clip_bounds(ctx, act.a, act.b);
      return act_apply_n(act, x.numel(), x.data<float>(), ctx.out[0]->data<float>());
    }
    dispatch_numeric(x.type(), "Clip", [&](auto t) {
      if constexpr (!std::is_same_v<decltype(t), bool>) clip_typed<decltype(t)>(ctx);
    });
  };
  return op;
}

// Identity and Dropout (inference: copy; the optional mask output is all true).
OpDef copy_op(std::string_view name, int since, std::vector<std::string_view> attrs) {
  OpDef op{"", name, since, std::move(attrs), nullptr, nullptr};
  op.infer = [](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.has(0), ctx, "input 0 is required");
    // Dropout-6 defaults to training (is_test=0); exporters of that era set is_test=1.
    LOWBIT_NODE_REQUIRE(ctx.node.op_type != "Dropout" || ctx.opset >= 7 || ctx.node.attr_i("is_test", 0) == 1, ctx,
                        "training mode (is_test=0 of Dropout-6) is not supported (inference only)");
    LOWBIT_NODE_REQUIRE(ctx.node.attr_i("training_mode", 0) == 0 && !(ctx.value(2) && ctx.value(2)->get_i64(0) != 0),
                        ctx, "training mode is not supported (inference only)");
    if (!ctx.shape_known(0)) {
      ctx.set_out_unknown(0, ctx.in[0].elem);
      if (ctx.out.size() > 1) ctx.set_out_unknown(1, ElemType::boolean);
      return;
    }
    ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
    if (ctx.out.size() > 1) ctx.set_out(1, ElemType::boolean, ctx.shape(0));
  };
  op.run = [](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    if (ctx.has(2) && ctx.input(2).numel() == 1 && ctx.input(2).get_i64(0) != 0)
      node_fail(ctx.node, ctx.opset, "training mode is not supported (inference only)");
    if (ctx.out[0] && ctx.out[0]->raw() != x.raw()) std::memcpy(ctx.out[0]->raw(), x.raw(), x.nbytes());
    if (ctx.out.size() > 1 && ctx.out[1]) std::memset(ctx.out[1]->raw(), 1, ctx.out[1]->nbytes());
  };
  op.overwrites_input = [](const Node&) { return 0; };  // then the copy above is skipped
  return op;
}

}  // namespace

void add_activation_ops(OpList& ops) {
  ops.push_back(act_op("Relu", {}, [](const Node&) { return Activation{Act::relu}; }));
  ops.push_back(act_op("Sigmoid", {}, [](const Node&) { return Activation{Act::sigmoid}; }));
  ops.push_back(act_op("Tanh", {}, [](const Node&) { return Activation{Act::tanh}; }));
  ops.push_back(act_op("HardSwish", {}, [](const Node&) { return Activation{Act::hardswish}; }));
  ops.back().since = 14;
  ops.push_back(act_op("HardSigmoid", {"alpha", "beta"}, [](const Node& n) {
    return Activation{Act::hardsigmoid, static_cast<float>(n.attr_f("alpha", 0.2)), static_cast<float>(n.attr_f("beta", 0.5))};
  }));
  ops.push_back(act_op("LeakyRelu", {"alpha"}, [](const Node& n) {
    return Activation{Act::leaky_relu, static_cast<float>(n.attr_f("alpha", 0.01))};
  }));
  ops.push_back(act_op("Gelu", {"approximate"}, [](const Node& n) {
    const std::string mode = n.attr_s("approximate", "none");
    if (mode != "none" && mode != "tanh")
      throw ValueError(fmt::format("[onnx] {}: approximate='{}' (expected 'none' or 'tanh')", n.describe(), mode));
    return Activation{mode == "tanh" ? Act::gelu_tanh : Act::gelu};
  }));
  ops.push_back(clip_op());
  ops.push_back(copy_op("Identity", 1, {}));
  ops.push_back(copy_op("Dropout", 6, {"seed", "ratio", "training_mode", "is_test"}));
}

}  // namespace lowbit::onnx
