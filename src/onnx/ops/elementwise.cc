// Broadcasting binary ops (arithmetic, comparison, logic), variadic Max/Min/Sum/Mean, Where,
// and the unary math ops. Integer division by zero yields 0 rather than trapping.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/broadcast.h"

namespace lowbit::onnx {

void broadcast_copy(const Array& in, Array& out) {
  const size_t es = elem_size(in.type());
  const auto plan = make_plan<1>({&in.shape()}, out.shape());
  const std::byte* src = in.raw();
  std::byte* dst = out.raw();
  for_each_row(plan, [&](const std::array<int64_t, 1>& off, int64_t o, const std::array<int64_t, 1>& st, int64_t n) {
    if (st[0] == 1) {
      std::memcpy(dst + o * es, src + off[0] * es, static_cast<size_t>(n) * es);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + (o + i) * es, src + off[0] * es, es);
    }
  });
}

namespace {

enum class Bin { add, sub, mul, div, pow, max, min, eq, lt, gt, le, ge, and_, or_, xor_, prelu };

template <typename T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(a));
  }
  return static_cast<T>(a / b);
}

template <typename T>
void run_same_type(Bin kind, const Array& a, const Array& b, Array& out) {
  if constexpr (std::is_same_v<T, bool>) {
    // Only logic and equality reach here with bool (infer enforces it).
    switch (kind) {
      case Bin::eq: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x == y; });
      case Bin::and_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x && y; });
      case Bin::or_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x || y; });
      case Bin::xor_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x != y; });
      default: return;
    }
  } else {
  switch (kind) {
    case Bin::add: return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x + y); });
    case Bin::sub: return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x - y); });
    case Bin::mul: return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x * y); });
    case Bin::div: return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) { return divide(x, y); });
    case Bin::max:
      return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>) if (std::isnan(x) || std::isnan(y)) return x + y;
        return x < y ? y : x;
      });
    case Bin::min:
      return binary_broadcast<T, T, T>(a, b, out, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>) if (std::isnan(x) || std::isnan(y)) return x + y;
        return y < x ? y : x;
      });
    case Bin::prelu: return binary_broadcast<T, T, T>(a, b, out, [](T x, T s) { return x < 0 ? static_cast<T>(x * s) : x; });
    case Bin::eq: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x == y; });
    case Bin::lt: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x < y; });
    case Bin::gt: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x > y; });
    case Bin::le: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x <= y; });
    case Bin::ge: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x >= y; });
    case Bin::and_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x && y; });
    case Bin::or_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return x || y; });
    case Bin::xor_: return binary_broadcast<T, T, bool>(a, b, out, [](T x, T y) { return bool(x) != bool(y); });
    case Bin::pow: break;
  }
  }
}

template <typename T>
T int_pow(T base, int64_t e) {
  if (e < 0) {
    if constexpr (std::is_signed_v<T>)
      if (base == -1) return static_cast<T>(e % 2 ? -1 : 1);
    return static_cast<T>(base == 1 ? 1 : 0);
  }
  T r = 1;
  for (; e > 0; e >>= 1, base = static_cast<T>(base * base))
    if (e & 1) r = static_cast<T>(r * base);
  return r;
}

template <typename TA, typename TB>
TA pow_elem(TA x, TB y) {
  if constexpr (std::is_same_v<TA, bool> || std::is_same_v<TB, bool>) {
    return static_cast<TA>(x && y);  // unreachable: infer rejects bool
  } else if constexpr (std::is_integral_v<TA> && std::is_integral_v<TB>) {
    return int_pow<TA>(x, static_cast<int64_t>(y));
  } else if constexpr (std::is_same_v<TA, float> && std::is_integral_v<TB>) {
    return std::pow(x, static_cast<float>(y));
  } else if constexpr (std::is_same_v<TA, float> && std::is_same_v<TB, float>) {
    // Squaring is common (LayerNorm decompositions); x*x is what powf returns for y == 2.
    return y == 2.0f ? x * x : std::pow(x, y);
  } else if constexpr (std::is_integral_v<TA>) {
    // Integer base, float exponent: the result saturates (NaN -> 0) instead of the undefined
    // float-to-int conversion of an out-of-range value (found by the ONNX fuzzer).
    const double r = std::pow(static_cast<double>(x), static_cast<double>(y));
    if (!(r == r)) return TA{0};
    if (r <= static_cast<double>(std::numeric_limits<TA>::lowest())) return std::numeric_limits<TA>::lowest();
    if (r >= static_cast<double>(std::numeric_limits<TA>::max())) return std::numeric_limits<TA>::max();
    return static_cast<TA>(r);
  } else {
    return static_cast<TA>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

void run_pow(const Array& a, const Array& b, Array& out) {
  dispatch_numeric(a.type(), "Pow", [&](auto ta) {
    using TA = decltype(ta);
    dispatch_numeric(b.type(), "Pow", [&](auto tb) {
      using TB = decltype(tb);
      binary_broadcast<TA, TB, TA>(a, b, out, [](TA x, TB y) { return pow_elem<TA, TB>(x, y); });
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
      if (mean) {
        T* p = out.data<T>();
        const T n = static_cast<T>(ctx.in.size());
        for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<T>(p[i] / n);
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
    const size_t es = elem_size(x.type());
    const auto plan = make_plan<3>({&c.shape(), &x.shape(), &y.shape()}, out.shape());
    const bool* pc = c.data<bool>();
    for_each_row(plan, [&](const std::array<int64_t, 3>& off, int64_t o, const std::array<int64_t, 3>& st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const bool take_x = pc[off[0] + i * st[0]];
        const std::byte* src = take_x ? x.raw() + (off[1] + i * st[1]) * es : y.raw() + (off[2] + i * st[2]) * es;
        std::memcpy(out.raw() + (o + i) * es, src, es);
      }
    });
  };
  return op;
}

// Unary ops: float math on f32/f64; Neg/Abs/Sign also on signed integers; Not on bool.
template <typename F>
OpDef unary(std::string_view name, F f, bool ints = false) {
  OpDef op{"", name, 1, {}, nullptr, nullptr};
  op.infer = [ints](InferCtx& ctx) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 1 && ctx.has(0), ctx, "expects 1 input");
    if (ints) require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i8, ElemType::i16, ElemType::i32, ElemType::i64});
    else require_type(ctx, 0, {ElemType::f32, ElemType::f64});
    if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
    ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
  };
  op.run = [f](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int8_t> ||
                    std::is_same_v<T, int16_t> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
        const T* px = x.data<T>();
        T* py = ctx.out[0]->data<T>();
        parallel_for(x.numel(), 16384, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) py[i] = static_cast<T>(f(px[i]));
        });
      }
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
    const bool* x = ctx.input(0).data<bool>();
    bool* y = ctx.out[0]->data<bool>();
    for (int64_t i = 0; i < ctx.out[0]->numel(); ++i) y[i] = !x[i];
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
  auto fl = [](auto fn) { return [fn](auto x) { return fn(x); }; };
  ops.push_back(unary("Sqrt", fl([](auto x) { return std::sqrt(x); })));
  ops.push_back(unary("Erf", fl([](auto x) { return std::erf(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Exp", fl([](auto x) { return std::exp(x); })));
  ops.push_back(unary("Log", fl([](auto x) { return std::log(x); })));
  ops.push_back(unary("Reciprocal", fl([](auto x) { return decltype(x)(1) / x; })));
  ops.push_back(unary("Floor", fl([](auto x) { return std::floor(x); })));
  ops.push_back(unary("Ceil", fl([](auto x) { return std::ceil(x); })));
  ops.push_back(unary("Round", fl([](auto x) { return std::nearbyint(x); })));
  ops.back().since = 11;
  ops.push_back(unary("Sin", fl([](auto x) { return std::sin(x); })));
  ops.push_back(unary("Cos", fl([](auto x) { return std::cos(x); })));
  ops.push_back(unary("Tan", fl([](auto x) { return std::tan(x); })));
  ops.push_back(unary("Asin", fl([](auto x) { return std::asin(x); })));
  ops.push_back(unary("Acos", fl([](auto x) { return std::acos(x); })));
  ops.push_back(unary("Atan", fl([](auto x) { return std::atan(x); })));
  ops.push_back(unary("Sinh", fl([](auto x) { return std::sinh(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Cosh", fl([](auto x) { return std::cosh(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Asinh", fl([](auto x) { return std::asinh(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Acosh", fl([](auto x) { return std::acosh(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Atanh", fl([](auto x) { return std::atanh(x); })));
  ops.back().since = 9;
  ops.push_back(unary("Neg", [](auto x) { return -x; }, true));
  ops.push_back(unary("Abs", [](auto x) { return x < 0 ? -x : x; }, true));
  ops.push_back(unary("Sign", [](auto x) { return decltype(x)((x > 0) - (x < 0)); }, true));
  ops.back().since = 9;
}

}  // namespace lowbit::onnx
