// Broadcasting binary ops (arithmetic, comparison, logic), variadic Max/Min/Sum/Mean, Where,
// and the unary math ops: types, shapes and layouts here, the arithmetic in kernels/elementwise.h
// (integer division by zero yields 0 there rather than trapping).
#include <tuple>
#include <type_traits>

#include "lowbit/kernels/elementwise.h"
#include "ops/broadcast.h"

namespace lowbit::onnx {

void broadcast_copy(const Array& in, Array& out) {
  kernels::broadcast_copy(in.raw(), in.shape(), elem_size(in.type()), out.raw(), out.shape());
}

namespace {

enum class Bin { add, sub, mul, div, pow, max, min, eq, lt, gt, le, ge, and_, or_, xor_, prelu };

constexpr bool is_compare(Bin kind) { return kind >= Bin::eq && kind <= Bin::xor_; }

kernels::Compare compare_of(Bin kind) {
  switch (kind) {
    case Bin::eq: return kernels::Compare::eq;
    case Bin::lt: return kernels::Compare::lt;
    case Bin::gt: return kernels::Compare::gt;
    case Bin::le: return kernels::Compare::le;
    case Bin::ge: return kernels::Compare::ge;
    case Bin::and_: return kernels::Compare::logical_and;
    case Bin::or_: return kernels::Compare::logical_or;
    default: return kernels::Compare::logical_xor;
  }
}

kernels::Binary binary_of(Bin kind) {
  switch (kind) {
    case Bin::add: return kernels::Binary::add;
    case Bin::sub: return kernels::Binary::sub;
    case Bin::mul: return kernels::Binary::mul;
    case Bin::div: return kernels::Binary::div;
    case Bin::max: return kernels::Binary::max;
    case Bin::min: return kernels::Binary::min;
    default: return kernels::Binary::prelu;
  }
}

// out = kind(a, b) for operands of element type T (bool only for the logic ops and Equal, as
// infer enforces); Pow is run_pow.
template <typename T>
void run_same_type(Bin kind, const Array& a, const Array& b, Array& out) {
  if (is_compare(kind)) {
    return kernels::compare<T>(compare_of(kind), a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<bool>(),
                               out.shape());
  }
  if constexpr (!std::is_same_v<T, bool>)
    kernels::binary<T>(binary_of(kind), a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), out.shape());
}

void run_pow(const Array& a, const Array& b, Array& out) {
  dispatch_numeric(a.type(), "Pow", [&](auto ta) {
    using TA = decltype(ta);
    dispatch_numeric(b.type(), "Pow", [&](auto tb) {
      using TB = decltype(tb);
      if constexpr (!std::is_same_v<TA, bool> && !std::is_same_v<TB, bool>)  // infer rejects bool
        kernels::pow<TA, TB>(a.data<TA>(), a.shape(), b.data<TB>(), b.shape(), out.data<TA>(), out.shape());
    });
  });
}

constexpr std::initializer_list<ElemType> kNumeric = {ElemType::f32, ElemType::f64, ElemType::i8,  ElemType::u8,
                                                     ElemType::i16, ElemType::u16, ElemType::i32, ElemType::u32,
                                                     ElemType::i64, ElemType::u64};

// Add/Sub/Mul/Div between channels-last tensors: every operand is either the output's 4-d shape
// (read in the output's layout) or a per-channel (N|1, C, 1, 1) / one-element tensor, whose bytes
// are the same in both layouts (so it is not asked to change layout).
uint64_t binary_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.shape_known(1) || ctx.in[0].elem != ElemType::f32) return 0;
  auto numel = [](const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
  };
  const Shape& y = numel(ctx.shape(0)) >= numel(ctx.shape(1)) ? ctx.shape(0) : ctx.shape(1);  // the output's shape here
  if (y.size() != 4) return 0;
  uint64_t bits = 0;
  for (size_t i = 0; i < 2; ++i) {
    const Shape& s = ctx.shape(i);
    if (s == y) {
      bits |= uint64_t{1} << i;
      continue;
    }
    const bool per_channel = s.size() == 4 && (s[0] == 1 || s[0] == y[0]) && s[1] == y[1] && s[2] == 1 && s[3] == 1;
    if (numel(s) != 1 && !per_channel) return 0;
  }
  return bits == 0 ? 0 : (bits & 1 ? bits | kTiedLayout : bits);
}

OpDef binary(std::string_view name, Bin kind) {
  OpDef op{"", name, 1, {}, nullptr, nullptr};
  const bool logic = kind == Bin::and_ || kind == Bin::or_ || kind == Bin::xor_;
  const bool compare = kind >= Bin::eq && kind <= Bin::ge;
  op.infer = [kind, logic, compare](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 2 && ctx.has(0) && ctx.has(1), ctx, "expects 2 inputs");
    if (logic) {
      require_type(ctx, 0, {ElemType::boolean});
      require_type(ctx, 1, {ElemType::boolean});
    } else {
      require_type(ctx, 0, kNumeric);
      if (kind == Bin::pow) require_type(ctx, 1, kNumeric);
      if (kind == Bin::eq) require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i8, ElemType::u8, ElemType::i16,
                                                 ElemType::u16, ElemType::i32, ElemType::u32, ElemType::i64,
                                                 ElemType::u64, ElemType::boolean});
      if (kind != Bin::pow)
        LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem, ctx, "input types differ ({} vs {})",
                            elem_name(ctx.in[0].elem), elem_name(ctx.in[1].elem));
    }
    const ElemType t = (logic || compare) ? ElemType::boolean : ctx.in[0].elem;
    if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, t);
    ctx.set_out(0, t, broadcast_shapes({ctx.shape(0), ctx.shape(1)}, ctx));
  };
  op.run = [kind](RunCtx& ctx) {
    const Array &a = ctx.input(0), &b = ctx.input(1);
    if (kind == Bin::pow) return run_pow(a, b, *ctx.out[0]);
    if (ctx.nhwc_outputs & 1) {
      // Channels-last (binary_channels_last): full-shape operands and the output hold
      // (N, H, W, C); an (N|1, C, 1, 1) operand is the same bytes as (N|1, 1, 1, C). Broadcasting
      // over the shapes in that order is the same operation.
      auto nhwc = [](const Array& v) {
        const Shape& d = v.shape();
        return d.size() == 4 ? v.reshaped({d[0], d[2], d[3], d[1]}) : v;
      };
      const Array av = nhwc(a), bv = nhwc(b);
      Array ov = nhwc(*ctx.out[0]);
      dispatch_numeric(a.type(), ctx.node.op_type, [&](auto t) { run_same_type<decltype(t)>(kind, av, bv, ov); });
      return;
    }
    dispatch_numeric(a.type(), ctx.node.op_type, [&](auto t) { run_same_type<decltype(t)>(kind, a, b, *ctx.out[0]); });
  };
  if (kind == Bin::add || kind == Bin::sub || kind == Bin::mul || kind == Bin::div) op.channels_last = binary_channels_last;
  return op;
}

// Max, Min, Sum, Mean over any number of inputs with broadcasting.
OpDef variadic(std::string_view name, Bin kind, bool mean) {
  OpDef op{"", name, 1, {}, nullptr, nullptr};
  op.infer = [](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() >= 1, ctx, "expects at least one input");
    std::vector<Shape> shapes;
    for (size_t i = 0; i < ctx.n_in(); ++i) {
      require_type(ctx, i, kNumeric);
      LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ctx.in[0].elem, ctx, "input types differ");
      if (!ctx.shape_known(i)) return ctx.set_out_unknown(0, ctx.in[0].elem);
      shapes.push_back(ctx.shape(i));
    }
    ctx.set_out(0, ctx.in[0].elem, broadcast_shapes(shapes, ctx));
  };
  op.run = [kind, mean](RunCtx& ctx) {
    Array& out = *ctx.out[0];
    broadcast_copy(ctx.input(0), out);
    dispatch_numeric(out.type(), ctx.node.op_type, [&](auto t) {
      using T = decltype(t);
      for (size_t i = 1; i < ctx.in.size(); ++i) run_same_type<T>(kind, out, ctx.input(i), out);
      if constexpr (!std::is_same_v<T, bool>) {
        if (mean) {
          const T n = static_cast<T>(ctx.in.size());
          kernels::binary<T>(kernels::Binary::div, out.data<T>(), out.shape(), &n, {}, out.data<T>(), out.shape());
        }
      }
    });
  };
  return op;
}

OpDef where_op() {
  OpDef op{"", "Where", 9, {}, nullptr, nullptr};
  op.infer = [](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 3, ctx, "expects 3 inputs");
    require_type(ctx, 0, {ElemType::boolean});
    LOWBIT_NODE_REQUIRE(ctx.in[1].elem == ctx.in[2].elem, ctx, "X and Y types differ");
    if (!ctx.shape_known(0) || !ctx.shape_known(1) || !ctx.shape_known(2)) return ctx.set_out_unknown(0, ctx.in[1].elem);
    ctx.set_out(0, ctx.in[1].elem, broadcast_shapes({ctx.shape(0), ctx.shape(1), ctx.shape(2)}, ctx));
  };
  op.run = [](RunCtx& ctx) {
    const Array &c = ctx.input(0), &x = ctx.input(1), &y = ctx.input(2);
    Array& out = *ctx.out[0];
    kernels::select(c.data<bool>(), c.shape(), x.raw(), x.shape(), y.raw(), y.shape(), elem_size(x.type()), out.raw(),
                    out.shape());
  };
  return op;
}

// Unary ops: float math on f32/f64; Neg/Abs/Sign also on signed integers.
OpDef unary(std::string_view name, kernels::Unary u) {
  OpDef op{"", name, 1, {}, nullptr, nullptr};
  const bool ints = u == kernels::Unary::neg || u == kernels::Unary::abs || u == kernels::Unary::sign;
  op.infer = [ints](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 1 && ctx.has(0), ctx, "expects 1 input");
    if (ints) require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i8, ElemType::i16, ElemType::i32, ElemType::i64});
    else require_type(ctx, 0, {ElemType::f32, ElemType::f64});
    if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
    ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
  };
  op.run = [u](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
      using T = decltype(t);
      if constexpr (!std::is_same_v<T, bool>) kernels::unary<T>(u, x.numel(), x.data<T>(), ctx.out[0]->data<T>());
    });
  };
  return op;
}

OpDef not_op() {
  OpDef op{"", "Not", 1, {}, nullptr, nullptr};
  op.infer = [](InferCtx& ctx) {
    require_type(ctx, 0, {ElemType::boolean});
    if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ElemType::boolean);
    ctx.set_out(0, ElemType::boolean, ctx.shape(0));
  };
  op.run = [](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    const bool no = false;  // not x == (x == false)
    kernels::compare<bool>(kernels::Compare::eq, x.data<bool>(), x.shape(), &no, {}, ctx.out[0]->data<bool>(), x.shape());
  };
  return op;
}

}  // namespace

void add_elementwise_ops(OpList& ops) {
  const std::pair<std::string_view, Bin> bins[] = {
      {"Add", Bin::add},  {"Sub", Bin::sub},      {"Mul", Bin::mul},           {"Div", Bin::div},
      {"Pow", Bin::pow},  {"Equal", Bin::eq},     {"Less", Bin::lt},           {"Greater", Bin::gt},
      {"LessOrEqual", Bin::le}, {"GreaterOrEqual", Bin::ge}, {"And", Bin::and_}, {"Or", Bin::or_},
      {"Xor", Bin::xor_}, {"PRelu", Bin::prelu}};
  for (const auto& [name, kind] : bins) {
    ops.push_back(binary(name, kind));
    if (name == "LessOrEqual" || name == "GreaterOrEqual") ops.back().since = 12;  // ONNX opset they appeared in
  }
  ops.push_back(variadic("Max", Bin::max, false));
  ops.push_back(variadic("Min", Bin::min, false));
  ops.push_back(variadic("Sum", Bin::add, false));
  ops.push_back(variadic("Mean", Bin::add, true));
  ops.push_back(where_op());
  ops.push_back(not_op());
  using U = kernels::Unary;
  const std::tuple<std::string_view, U, int> unaries[] = {  // name, kernel, opset it appeared in
      {"Sqrt", U::sqrt, 1},   {"Erf", U::erf, 9},     {"Exp", U::exp, 1},     {"Log", U::log, 1},
      {"Reciprocal", U::reciprocal, 1}, {"Floor", U::floor, 1}, {"Ceil", U::ceil, 1}, {"Round", U::round, 11},
      {"Sin", U::sin, 1},     {"Cos", U::cos, 1},     {"Tan", U::tan, 1},     {"Asin", U::asin, 1},
      {"Acos", U::acos, 1},   {"Atan", U::atan, 1},   {"Sinh", U::sinh, 9},   {"Cosh", U::cosh, 9},
      {"Asinh", U::asinh, 9}, {"Acosh", U::acosh, 9}, {"Atanh", U::atanh, 9}, {"Neg", U::neg, 1},
      {"Abs", U::abs, 1},     {"Sign", U::sign, 9}};
  for (const auto& [name, u, since] : unaries) {
    ops.push_back(unary(name, u));
    ops.back().since = since;
  }
}

}  // namespace lowbit::onnx
