// Less common pointwise ops: Elu, Selu, Celu, ThresholdedRelu, Shrink, Mish (float in, float out) and
// IsInf, IsNaN (float in, bool out). Plain loops in double precision per element.
#include <cmath>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

using PointFn = std::function<double(double)>;
using MakeFn = std::function<PointFn(const Node&)>;

OpDef pointwise(std::string_view name, int since, std::vector<std::string_view> attrs, MakeFn make, bool to_bool = false) {
  OpDef op{"", name, since, std::move(attrs), nullptr, nullptr};
  op.infer = [to_bool](InferCtx& ctx) {
    require_type(ctx, 0, {ElemType::f32, ElemType::f64});
    const ElemType t = to_bool ? ElemType::boolean : ctx.in[0].elem;
    if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, t);
    ctx.set_out(0, t, ctx.shape(0));
  };
  op.run = [make, to_bool](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    Array& y = *ctx.out[0];
    const PointFn f = make(ctx.node);
    auto loop = [&](auto* px) {
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double v = f(static_cast<double>(px[i]));
        if (to_bool) y.data<bool>()[i] = v != 0;
        else if (y.type() == ElemType::f32) y.data<float>()[i] = static_cast<float>(v);
        else y.data<double>()[i] = v;
      }
    };
    if (x.type() == ElemType::f32) loop(x.data<float>());
    else loop(x.data<double>());
  };
  return op;
}

}  // namespace

void add_activation_extra_ops(OpList& ops) {
  ops.push_back(pointwise("Elu", 6, {"alpha"}, [](const Node& n) -> PointFn {
    const double a = n.attr_f("alpha", 1.0);
    return [a](double x) { return x < 0 ? a * std::expm1(x) : x; };
  }));
  ops.push_back(pointwise("Selu", 6, {"alpha", "gamma"}, [](const Node& n) -> PointFn {
    const double a = n.attr_f("alpha", 1.67326319217681884765625), g = n.attr_f("gamma", 1.05070102214813232421875);
    return [a, g](double x) { return x <= 0 ? g * a * std::expm1(x) : g * x; };
  }));
  ops.push_back(pointwise("Celu", 12, {"alpha"}, [](const Node& n) -> PointFn {
    const double a = n.attr_f("alpha", 1.0);
    return [a](double x) { return std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a)); };
  }));
  // Mish (opset 18): x · tanh(softplus(x)); log1p(exp(x)) written to stay finite for large x.
  ops.push_back(pointwise("Mish", 18, {}, [](const Node&) -> PointFn {
    return [](double x) { return x * std::tanh(x > 30 ? x : std::log1p(std::exp(x))); };
  }));
  ops.push_back(pointwise("ThresholdedRelu", 10, {"alpha"}, [](const Node& n) -> PointFn {
    const double a = n.attr_f("alpha", 1.0);
    return [a](double x) { return x > a ? x : 0.0; };
  }));
  ops.push_back(pointwise("Shrink", 9, {"bias", "lambd"}, [](const Node& n) -> PointFn {
    const double b = n.attr_f("bias", 0.0), l = n.attr_f("lambd", 0.5);
    return [b, l](double x) { return x < -l ? x + b : (x > l ? x - b : 0.0); };
  }));
  ops.push_back(pointwise("IsInf", 10, {"detect_negative", "detect_positive"}, [](const Node& n) -> PointFn {
    const bool neg = n.attr_i("detect_negative", 1) != 0, pos = n.attr_i("detect_positive", 1) != 0;
    return [neg, pos](double x) { return std::isinf(x) && ((x < 0 && neg) || (x > 0 && pos)) ? 1.0 : 0.0; };
  }, true));
  ops.push_back(pointwise("IsNaN", 9, {}, [](const Node&) -> PointFn {
    return [](double x) { return std::isnan(x) ? 1.0 : 0.0; };
  }, true));
}

}  // namespace lowbit::onnx
