// Less common pointwise ops: Elu, Selu, Celu, ThresholdedRelu, Shrink, Mish (float in, float out;
// kernels::activation_forward, double precision per element) and the predicates IsInf, IsNaN
// (float in, bool out).
#include <cmath>

#include "lowbit/kernels/fp32_act.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

using kernels::Act;
using kernels::Activation;

void same_type_infer(InferCtx& ctx, ElemType out) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, out);
  ctx.set_out(0, out, ctx.shape(0));
}

// An activation: validate and call the shared kernel.
OpDef act_op(std::string_view name, int since, std::vector<std::string_view> attrs,
             std::function<Activation(const Node&)> make) {
  OpDef op{"", name, since, std::move(attrs), nullptr, nullptr};
  op.infer = [](InferCtx& ctx) { same_type_infer(ctx, ctx.in[0].elem); };
  op.run = [make](RunCtx& ctx) {
    const Activation act = make(ctx.node);
    const Array& x = ctx.input(0);
    if (x.type() == ElemType::f32) kernels::activation_forward(act, x.numel(), x.data<float>(), ctx.out[0]->data<float>());
    else kernels::activation_forward(act, x.numel(), x.data<double>(), ctx.out[0]->data<double>());
  };
  return op;
}

// IsInf / IsNaN: a predicate per element into a bool tensor.
OpDef predicate_op(std::string_view name, int since, std::vector<std::string_view> attrs,
                   std::function<std::function<bool(double)>(const Node&)> make) {
  OpDef op{"", name, since, std::move(attrs), nullptr, nullptr};
  op.infer = [](InferCtx& ctx) { same_type_infer(ctx, ElemType::boolean); };
  op.run = [make](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    bool* y = ctx.out[0]->data<bool>();
    const auto f = make(ctx.node);
    for (int64_t i = 0; i < x.numel(); ++i) y[i] = f(x.get_f64(i));
  };
  return op;
}

float attr(const Node& n, const char* key, double dflt) { return static_cast<float>(n.attr_f(key, dflt)); }

}  // namespace

void add_activation_extra_ops(OpList& ops) {
  ops.push_back(act_op("Elu", 6, {"alpha"}, [](const Node& n) { return Activation{Act::elu, attr(n, "alpha", 1.0)}; }));
  ops.push_back(act_op("Selu", 6, {"alpha", "gamma"}, [](const Node& n) {
    return Activation{Act::selu, attr(n, "alpha", 1.67326319217681884765625), attr(n, "gamma", 1.05070102214813232421875)};
  }));
  ops.push_back(act_op("Celu", 12, {"alpha"}, [](const Node& n) { return Activation{Act::celu, attr(n, "alpha", 1.0)}; }));
  ops.push_back(act_op("Mish", 18, {}, [](const Node&) { return Activation{Act::mish}; }));
  ops.push_back(act_op("ThresholdedRelu", 10, {"alpha"},
                       [](const Node& n) { return Activation{Act::thresholded_relu, attr(n, "alpha", 1.0)}; }));
  ops.push_back(act_op("Shrink", 9, {"bias", "lambd"},
                       [](const Node& n) { return Activation{Act::shrink, attr(n, "bias", 0.0), attr(n, "lambd", 0.5)}; }));
  ops.push_back(predicate_op("IsInf", 10, {"detect_negative", "detect_positive"}, [](const Node& n) {
    const bool neg = n.attr_i("detect_negative", 1) != 0, pos = n.attr_i("detect_positive", 1) != 0;
    return std::function<bool(double)>([neg, pos](double x) { return std::isinf(x) && ((x < 0 && neg) || (x > 0 && pos)); });
  }));
  ops.push_back(predicate_op("IsNaN", 9, {}, [](const Node&) {
    return std::function<bool(double)>([](double x) { return std::isnan(x); });
  }));
}

}  // namespace lowbit::onnx
