// Ops that reshape or create values: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size, Expand,
// ConstantOfShape, Constant, Cast, Range. Shapes read from inputs must be constant (or known at
// run time); a data-dependent shape leaves the output shape unknown until then.
#include <cmath>
#include <limits>

#include "ops/broadcast.h"

namespace lowbit::onnx {
namespace {

void copy_bytes(RunCtx& ctx) {
  if (ctx.out[0]->raw() != ctx.input(0).raw()) std::memcpy(ctx.out[0]->raw(), ctx.input(0).raw(), ctx.input(0).nbytes());
}

void reshape_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.has(0) && ctx.has(1), ctx, "expects data and shape");
  require_type(ctx, 1, {ElemType::i64});
  const ElemType t = ctx.in[0].elem;
  if (!ctx.shape_known(0) || !ctx.value(1)) return ctx.set_out_unknown(0, t);
  ctx.set_out(0, t, reshape_target(ctx, ctx.shape(0), int_list(*ctx.value(1)), ctx.node.attr_i("allowzero", 0) != 0));
}

void flatten_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  const auto rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.node.attr_i("axis", 1);
  LOWBIT_NODE_REQUIRE(axis >= -rank && axis <= rank, ctx, "axis {} out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? a : b) *= in[static_cast<size_t>(i)];
  ctx.set_out(0, ctx.in[0].elem, {a, b});
}

// Squeeze/Unsqueeze axes: attribute before opset 13, optional input after.
std::optional<std::vector<int64_t>> axes_of(const InferCtx& ctx) {
  if (ctx.opset < 13 || ctx.node.find("axes")) return ctx.node.attr_ints("axes");
  if (!ctx.has(1)) return std::vector<int64_t>{};
  if (!ctx.value(1)) return std::nullopt;
  return int_list(*ctx.value(1));
}

void squeeze_infer(InferCtx& ctx) {
  const auto axes = axes_of(ctx);
  if (!ctx.shape_known(0) || !axes) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  const auto rank = static_cast<int64_t>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (axes->empty()) {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  } else {
    for (int64_t a : *axes) {
      const int64_t ax = normalize_axis(a, rank, ctx);
      LOWBIT_NODE_REQUIRE(in[static_cast<size_t>(ax)] == 1, ctx, "cannot squeeze axis {} of shape {}", a, shape_str(in));
      drop[static_cast<size_t>(ax)] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  ctx.set_out(0, ctx.in[0].elem, out);
}

void unsqueeze_infer(InferCtx& ctx) {
  const auto axes = axes_of(ctx);
  if (!ctx.shape_known(0) || !axes) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  const auto rank = static_cast<int64_t>(in.size() + axes->size());
  LOWBIT_NODE_REQUIRE(!axes->empty(), ctx, "axes must not be empty");
  std::vector<bool> added(static_cast<size_t>(rank), false);
  for (int64_t a : *axes) {
    const int64_t ax = normalize_axis(a, rank, ctx);
    LOWBIT_NODE_REQUIRE(!added[static_cast<size_t>(ax)], ctx, "axis {} repeated", a);
    added[static_cast<size_t>(ax)] = true;
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(added[static_cast<size_t>(i)] ? 1 : in[j++]);
  ctx.set_out(0, ctx.in[0].elem, out);
}

std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t rank) {
  auto clampi = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  return {clampi(node.attr_i("start", 0)), clampi(node.attr_i("end", rank))};
}

void shape_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ElemType::i64);
  const auto [b, e] = shape_range(ctx.node, static_cast<int64_t>(ctx.shape(0).size()));
  ctx.set_out(0, ElemType::i64, {std::max<int64_t>(0, e - b)});
}

void shape_run(RunCtx& ctx) {
  const Shape& s = ctx.input(0).shape();
  const auto [b, e] = shape_range(ctx.node, static_cast<int64_t>(s.size()));
  for (int64_t i = b; i < e; ++i) ctx.out[0]->data<int64_t>()[i - b] = s[static_cast<size_t>(i)];
}

void expand_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.value(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, broadcast_shapes({ctx.shape(0), int_list(*ctx.value(1))}, ctx));
}

void constant_of_shape_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::i64});
  const Attribute* v = ctx.node.find("value");
  ElemType t = ElemType::f32;
  if (v) {
    LOWBIT_NODE_REQUIRE(v->kind == Attribute::Kind::t && v->t.numel() == 1, ctx, "'value' must be a one-element tensor");
    t = v->t.type();
  }
  if (!ctx.value(0)) return ctx.set_out_unknown(0, t);
  ctx.set_out(0, t, int_list(*ctx.value(0)));
}

void constant_of_shape_run(RunCtx& ctx) {
  Array& y = *ctx.out[0];
  const Attribute* v = ctx.node.find("value");
  const size_t es = elem_size(y.type());
  if (!v) return (void)std::memset(y.raw(), 0, y.nbytes());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(y.raw() + i * es, v->t.raw(), es);
}

// Constant's value as an Array, from whichever value* attribute is present.
Array constant_value(const InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.node.attrs.size() == 1, ctx, "needs exactly one value attribute");
  const auto& [key, a] = *ctx.node.attrs.begin();
  if (key == "value") return a.t;
  if (key == "value_float") return Array::scalar<float>(static_cast<float>(a.f));
  if (key == "value_int") return Array::scalar<int64_t>(a.i);
  if (key == "value_ints") return Array::from<int64_t>({static_cast<int64_t>(a.is.size())}, a.is);
  if (key == "value_floats") {
    std::vector<float> f(a.fs.begin(), a.fs.end());
    return Array::from<float>({static_cast<int64_t>(f.size())}, f);
  }
  node_fail(ctx.node, ctx.opset, "unsupported attribute '{}'", key);
}

template <typename To, typename From>
To safe_cast(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Out-of-range float -> int is UB in C++; saturate instead (NaN -> 0).
    if (!(v == v)) return 0;
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

void cast_array(const Array& x, Array& y) {
  const ElemType from = x.type(), to = y.type();
  const int64_t n = x.numel();
  // Half types go through float.
  if (from == ElemType::f16 || from == ElemType::bf16) {
    Array f = Array::empty(ElemType::f32, x.shape());
    const uint16_t* p = x.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) f.data<float>()[i] = from == ElemType::f16 ? half_to_float(p[i]) : bf16_to_float(p[i]);
    return cast_array(f, y);
  }
  if (to == ElemType::f16 || to == ElemType::bf16) {
    Array f = Array::empty(ElemType::f32, x.shape());
    cast_array(x, f);
    uint16_t* q = y.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) q[i] = to == ElemType::f16 ? float_to_half(f.data<float>()[i]) : float_to_bf16(f.data<float>()[i]);
    return;
  }
  dispatch_numeric(from, "Cast", [&](auto tf) {
    using F = decltype(tf);
    dispatch_numeric(to, "Cast", [&](auto tt) {
      using T = decltype(tt);
      const F* p = x.data<F>();
      T* q = y.data<T>();
      for (int64_t i = 0; i < n; ++i) q[i] = safe_cast<T>(p[i]);
    });
  });
}

void range_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i16, ElemType::i32, ElemType::i64});
  const ElemType t = ctx.in[0].elem;
  if (!ctx.value(0) || !ctx.value(1) || !ctx.value(2)) return ctx.set_out_unknown(0, t);
  const double start = ctx.value(0)->get_f64(0), limit = ctx.value(1)->get_f64(0), delta = ctx.value(2)->get_f64(0);
  LOWBIT_NODE_REQUIRE(delta != 0, ctx, "delta must not be zero");
  const double n = std::max(0.0, std::ceil((limit - start) / delta));
  LOWBIT_NODE_REQUIRE(n < 1e12, ctx, "range of {} elements is too large", n);
  ctx.set_out(0, t, {static_cast<int64_t>(n)});
}

}  // namespace

Shape reshape_target(const InferCtx& ctx, const Shape& in, Shape out, bool allowzero) {
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      LOWBIT_NODE_REQUIRE(i < in.size(), ctx, "shape {} copies dim {} of a rank-{} input", shape_str(out), i, in.size());
      out[i] = in[i];
    }
    if (out[i] == -1) {
      LOWBIT_NODE_REQUIRE(infer_at < 0, ctx, "shape {} has more than one -1", shape_str(out));
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    LOWBIT_NODE_REQUIRE(out[i] >= 0, ctx, "invalid target shape {}", shape_str(out));
    known = checked_numel({known, out[i]}, "Reshape");
  }
  const int64_t total = checked_numel(in, "Reshape");
  if (infer_at >= 0) {
    LOWBIT_NODE_REQUIRE(known != 0 && total % known == 0, ctx, "cannot reshape {} to {}", shape_str(in), shape_str(out));
    out[static_cast<size_t>(infer_at)] = total / known;
  }
  LOWBIT_NODE_REQUIRE(checked_numel(out, "Reshape") == total, ctx, "cannot reshape {} ({} elements) to {}", shape_str(in),
                      total, shape_str(out));
  return out;
}

void cast_into(const Array& x, Array& y) { cast_array(x, y); }

void add_shape_ops(OpList& ops) {
  // The reshapes keep the bytes: where the session lets the output take over the input's buffer,
  // copy_bytes has nothing to do.
  for (OpDef op : {OpDef{"", "Reshape", 5, {"allowzero"}, reshape_infer, copy_bytes},
                   OpDef{"", "Flatten", 1, {"axis"}, flatten_infer, copy_bytes},
                   OpDef{"", "Squeeze", 1, {"axes"}, squeeze_infer, copy_bytes},
                   OpDef{"", "Unsqueeze", 1, {"axes"}, unsqueeze_infer, copy_bytes}}) {
    op.overwrites_input = [](const Node&) { return 0; };
    ops.push_back(std::move(op));
  }
  OpDef shape{"", "Shape", 1, {"start", "end"}, shape_infer, shape_run};
  shape.shape_only = true;
  ops.push_back(shape);
  OpDef size{"", "Size", 1, {},
             [](InferCtx& ctx) { ctx.set_out(0, ElemType::i64, {}); },
             [](RunCtx& ctx) { ctx.out[0]->data<int64_t>()[0] = ctx.input(0).numel(); }};
  size.shape_only = true;
  ops.push_back(size);
  ops.push_back(OpDef{"", "Expand", 8, {}, expand_infer, [](RunCtx& ctx) { broadcast_copy(ctx.input(0), *ctx.out[0]); }});
  ops.push_back(OpDef{"", "ConstantOfShape", 9, {"value"}, constant_of_shape_infer, constant_of_shape_run});
  ops.push_back(OpDef{"", "Constant", 1, {"value", "value_float", "value_floats", "value_int", "value_ints"},
                      [](InferCtx& ctx) {
                        const Array v = constant_value(ctx);
                        ctx.set_out(0, v.type(), v.shape());
                      },
                      [](RunCtx& ctx) {
                        const Array v = constant_value(infer_ctx_for(ctx));
                        std::memcpy(ctx.out[0]->raw(), v.raw(), v.nbytes());
                      }});
  ops.push_back(OpDef{"", "Cast", 6, {"to"},
                      [](InferCtx& ctx) {
                        const auto to = static_cast<ElemType>(ctx.node.attr_i("to", 0));
                        LOWBIT_NODE_REQUIRE(elem_supported(to) && elem_supported(ctx.in[0].elem), ctx,
                                            "cast from {} to {} is not supported", elem_name(ctx.in[0].elem), elem_name(to));
                        if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, to);
                        ctx.set_out(0, to, ctx.shape(0));
                      },
                      [](RunCtx& ctx) { cast_array(ctx.input(0), *ctx.out[0]); }});
  ops.push_back(OpDef{"", "CastLike", 15, {},
                      [](InferCtx& ctx) {
                        const ElemType to = ctx.in.at(1).elem;
                        LOWBIT_NODE_REQUIRE(elem_supported(to) && elem_supported(ctx.in[0].elem), ctx,
                                            "cast from {} to {} is not supported", elem_name(ctx.in[0].elem), elem_name(to));
                        if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, to);
                        ctx.set_out(0, to, ctx.shape(0));
                      },
                      [](RunCtx& ctx) { cast_array(ctx.input(0), *ctx.out[0]); }});
  ops.push_back(OpDef{"", "Range", 11, {}, range_infer, [](RunCtx& ctx) {
                        const double start = ctx.input(0).get_f64(0), delta = ctx.input(2).get_f64(0);
                        Array& y = *ctx.out[0];
                        dispatch_numeric(y.type(), "Range", [&](auto t) {
                          using T = decltype(t);
                          const T s = ctx.input(0).data<T>()[0], d = ctx.input(2).data<T>()[0];
                          for (int64_t i = 0; i < y.numel(); ++i) y.data<T>()[i] = static_cast<T>(s + static_cast<T>(i) * d);
                          (void)start;
                          (void)delta;
                        });
                      }});
}

}  // namespace lowbit::onnx
