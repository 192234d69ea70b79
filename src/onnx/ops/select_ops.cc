// Ops that select elements by value: TopK (values and int64 indices, ties to the lower index),
// Hardmax (one-hot of the first maximum), NonZero (coordinates of non-zero elements) and Compress
// (slices along an axis, or elements of the flattened input, where a condition holds): the last
// two have output shapes known only once the input's values are.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// x viewed as (outer, n, inner) around `axis`.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisView axis_view(const Shape& s, size_t axis) {
  AxisView v;
  for (size_t d = 0; d < s.size(); ++d) (d < axis ? v.outer : d == axis ? v.n : v.inner) *= s[d];
  return v;
}

void topk_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i32, ElemType::i64, ElemType::u8, ElemType::i8});
  require_type(ctx, 1, {ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.value(1)) {
    ctx.set_out_unknown(0, ctx.in[0].elem);
    return ctx.set_out_unknown(1, ElemType::i64);
  }
  Shape out = ctx.shape(0);
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", -1), static_cast<int64_t>(out.size()), ctx));
  LOWBIT_NODE_REQUIRE(ctx.value(1)->numel() == 1, ctx, "K must hold one value, got {}", ctx.value(1)->numel());
  const int64_t k = ctx.value(1)->get_i64(0);
  LOWBIT_NODE_REQUIRE(k >= 0 && k <= out[axis], ctx, "K {} out of range for axis {} of size {}", k, axis, out[axis]);
  out[axis] = k;
  ctx.set_out(0, ctx.in[0].elem, out);
  ctx.set_out(1, ElemType::i64, out);
}

void topk_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const InferCtx ic = infer_ctx_for(ctx);
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", -1), static_cast<int64_t>(x.shape().size()), ic));
  const AxisView v = axis_view(x.shape(), axis);
  const int64_t k = ctx.input(1).get_i64(0);
  const bool largest = ctx.node.attr_i("largest", 1) != 0;
  dispatch_numeric(x.type(), "TopK", [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, bool>) {
      const T* px = x.data<T>();
      std::vector<int64_t> order(static_cast<size_t>(v.n));
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t in = 0; in < v.inner; ++in) {
          auto at = [&](int64_t i) { return px[(o * v.n + i) * v.inner + in]; };
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(),
                           [&](int64_t a, int64_t b) { return largest ? at(a) > at(b) : at(a) < at(b); });
          for (int64_t j = 0; j < k; ++j) {
            const int64_t dst = (o * k + j) * v.inner + in, src = order[static_cast<size_t>(j)];
            if (ctx.out[0]) ctx.out[0]->data<T>()[dst] = at(src);
            if (ctx.out.size() > 1 && ctx.out[1]) ctx.out[1]->data<int64_t>()[dst] = src;
          }
        }
    }
  });
}

// Hardmax-13 works along `axis` (default -1); before 13 on the input flattened to 2-d at
// `axis` (default 1), i.e. along all dimensions from axis on.
AxisView hardmax_view(const InferCtx& ctx, const Shape& s) {
  const auto rank = static_cast<int64_t>(s.size());
  if (ctx.opset >= 13) return axis_view(s, static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", -1), rank, ctx)));
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 1), rank + 1, ctx));
  AxisView v;
  for (size_t d = 0; d < s.size(); ++d) (d < axis ? v.outer : v.n) *= s[d];
  return v;
}

void hardmax_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  hardmax_view(ctx, ctx.shape(0));
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

void hardmax_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const AxisView v = hardmax_view(infer_ctx_for(ctx), x.shape());
  auto loop = [&](auto* px, auto* py) {
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t in = 0; in < v.inner; ++in) {
        int64_t best = 0;
        for (int64_t i = 0; i < v.n; ++i) {
          const int64_t at = (o * v.n + i) * v.inner + in;
          if (px[at] > px[(o * v.n + best) * v.inner + in]) best = i;
          py[at] = 0;
        }
        if (v.n > 0) py[(o * v.n + best) * v.inner + in] = 1;
      }
  };
  if (x.type() == ElemType::f32) loop(x.data<float>(), ctx.out[0]->data<float>());
  else loop(x.data<double>(), ctx.out[0]->data<double>());
}

void nonzero_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.value(0)) return ctx.set_out_unknown(0, ElemType::i64);
  const Array& x = *ctx.value(0);
  LOWBIT_NODE_REQUIRE(x.type() != ElemType::f16 && x.type() != ElemType::bf16, ctx, "element type {} is not supported",
                      elem_name(x.type()));
  int64_t count = 0;
  for (int64_t i = 0; i < x.numel(); ++i) count += x.get_f64(i) != 0;
  ctx.set_out(0, ElemType::i64, {static_cast<int64_t>(std::max<size_t>(x.shape().size(), 1)), count});
}

// out[d, j] = coordinate d of the j-th non-zero element in row-major order (a scalar counts as 1-d).
void nonzero_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const Shape shape = x.shape().empty() ? Shape{1} : x.shape();
  const int64_t count = y.shape()[1];
  int64_t j = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (x.get_f64(i) == 0) continue;
    int64_t rem = i;
    for (size_t d = shape.size(); d-- > 0;) {
      y.data<int64_t>()[static_cast<int64_t>(d) * count + j] = rem % shape[d];
      rem /= shape[d];
    }
    ++j;
  }
}

// Kept positions: indices i < min(len(condition), extent) where condition[i] is true.
std::vector<int64_t> compress_kept(const InferCtx& ctx, const Array& cond, int64_t extent) {
  LOWBIT_NODE_REQUIRE(cond.dim() == 1, ctx, "condition must be 1-d, got {}", shape_str(cond.shape()));
  LOWBIT_NODE_REQUIRE(cond.numel() <= extent, ctx, "condition has {} entries for an extent of {}", cond.numel(), extent);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < cond.numel(); ++i)
    if (cond.get_i64(i) != 0) kept.push_back(i);
  return kept;
}

// x viewed as (outer, n, inner) around the axis; without one, as (1, numel, 1).
AxisView compress_view(const InferCtx& ctx, const Shape& shape, int64_t* axis_out) {
  AxisView v;
  const Attribute* a = ctx.node.find("axis");
  if (!a) {
    v.n = checked_numel(shape, "Compress");
    *axis_out = -1;
    return v;
  }
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(shape.size()), ctx);
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < axis ? v.outer : d == axis ? v.n : v.inner) *= shape[static_cast<size_t>(d)];
  *axis_out = axis;
  return v;
}

void compress_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::boolean});
  if (!ctx.shape_known(0) || !ctx.value(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  int64_t axis = -1;
  const AxisView v = compress_view(ctx, ctx.shape(0), &axis);
  const auto kept = static_cast<int64_t>(compress_kept(ctx, *ctx.value(1), v.n).size());
  Shape out = axis < 0 ? Shape{kept} : ctx.shape(0);
  if (axis >= 0) out[static_cast<size_t>(axis)] = kept;
  ctx.set_out(0, ctx.in[0].elem, out);
}

void compress_run(RunCtx& ctx) {
  const InferCtx ic = infer_ctx_for(ctx);
  const Array& x = ctx.input(0);
  int64_t axis = -1;
  const AxisView v = compress_view(ic, x.shape(), &axis);
  const std::vector<int64_t> kept = compress_kept(ic, ctx.input(1), v.n);
  const size_t row = static_cast<size_t>(v.inner) * elem_size(x.type());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(ctx.out[0]->raw());
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i : kept) {
      std::memcpy(dst, src + static_cast<size_t>(o * v.n + i) * row, row);
      dst += row;
    }
}

}  // namespace

void add_select_ops(OpList& ops) {
  ops.push_back(OpDef{"", "TopK", 10, {"axis", "largest", "sorted"}, topk_infer, topk_run});
  ops.push_back(OpDef{"", "Hardmax", 1, {"axis"}, hardmax_infer, hardmax_run});
  ops.push_back(OpDef{"", "NonZero", 9, {}, nonzero_infer, nonzero_run});
  ops.push_back(OpDef{"", "Compress", 9, {"axis"}, compress_infer, compress_run});
}

}  // namespace lowbit::onnx
