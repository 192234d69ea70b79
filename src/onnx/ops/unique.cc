// Unique (opset 11): the distinct elements of the flattened input, or the distinct slices along
// `axis` (compared element by element in row-major order), sorted ascending or in order of
// first occurrence, with each one's first index, every input slice's position in the output
// (inverse_indices) and the counts. The output size depends on the values: shape inference
// runs the grouping when the input is known, and run() runs it again to write the outputs.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct Groups {
  std::vector<int64_t> first;    // per output slice: index of its first occurrence
  std::vector<int64_t> count;    // per output slice
  std::vector<int64_t> inverse;  // per input slice: its output slice
};

// x viewed as (outer, n, inner) slices along the axis (or (1, numel, 1) without one).
struct SliceView {
  int64_t outer = 1, n = 1, inner = 1;
  int64_t axis = -1;
};

SliceView slice_view(const InferCtx& ctx, const Shape& shape) {
  SliceView v;
  if (!ctx.node.find("axis")) {
    v.n = checked_numel(shape, "Unique");
    return v;
  }
  v.axis = normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(shape.size()), ctx);
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < v.axis ? v.outer : d == v.axis ? v.n : v.inner) *= shape[static_cast<size_t>(d)];
  return v;
}

template <typename T>
Groups group_slices(const T* x, const SliceView& v, bool sorted) {
  // -1, 0, 1 as slice a is before, equal to, after slice b (NaN compares equal to NaN here).
  auto cmp = [&](int64_t a, int64_t b) {
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t k = 0; k < v.inner; ++k) {
        const T p = x[(o * v.n + a) * v.inner + k], q = x[(o * v.n + b) * v.inner + k];
        if (p < q) return -1;
        if (q < p) return 1;
      }
    return 0;
  };
  std::vector<int64_t> order(static_cast<size_t>(v.n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
  Groups g;
  g.inverse.assign(static_cast<size_t>(v.n), 0);
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
      g.first.push_back(order[i]);  // stable sort: the lowest index of its group comes first
      g.count.push_back(0);
    }
    g.inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(g.first.size()) - 1;
    ++g.count.back();
  }
  if (!sorted) {  // renumber the groups by first occurrence
    std::vector<int64_t> by_first(g.first.size());
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return g.first[a] < g.first[b]; });
    std::vector<int64_t> rank(by_first.size());
    for (size_t r = 0; r < by_first.size(); ++r) rank[static_cast<size_t>(by_first[r])] = static_cast<int64_t>(r);
    Groups s;
    for (int64_t old : by_first) {
      s.first.push_back(g.first[static_cast<size_t>(old)]);
      s.count.push_back(g.count[static_cast<size_t>(old)]);
    }
    for (int64_t& inv : g.inverse) inv = rank[static_cast<size_t>(inv)];
    s.inverse = std::move(g.inverse);
    return s;
  }
  return g;
}

Groups group(const InferCtx& ctx, const Array& x) {
  const SliceView v = slice_view(ctx, x.shape());
  const bool sorted = ctx.node.attr_i("sorted", 1) != 0;
  Groups g;
  dispatch_numeric(x.type(), "Unique", [&](auto t) {
    using T = decltype(t);
    g = group_slices<T>(x.data<T>(), v, sorted);
  });
  return g;
}

void unique_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem != ElemType::f16 && ctx.in[0].elem != ElemType::bf16 &&
                          ctx.in[0].elem != ElemType::string,
                      ctx, "element type {} is not supported", elem_name(ctx.in[0].elem));
  if (!ctx.value(0)) {
    for (size_t i = 0; i < ctx.out.size(); ++i) ctx.set_out_unknown(i, i == 0 ? ctx.in[0].elem : ElemType::i64);
    return;
  }
  const Array& x = *ctx.value(0);
  const SliceView v = slice_view(ctx, x.shape());
  const auto u = static_cast<int64_t>(group(ctx, x).first.size());
  Shape y = v.axis < 0 ? Shape{u} : x.shape();
  if (v.axis >= 0) y[static_cast<size_t>(v.axis)] = u;
  ctx.set_out(0, x.type(), y);
  if (ctx.out.size() > 1) ctx.set_out(1, ElemType::i64, {u});
  if (ctx.out.size() > 2) ctx.set_out(2, ElemType::i64, {v.n});
  if (ctx.out.size() > 3) ctx.set_out(3, ElemType::i64, {u});
}

void unique_run(RunCtx& ctx) {
  const InferCtx ic = infer_ctx_for(ctx);
  const Array& x = ctx.input(0);
  const SliceView v = slice_view(ic, x.shape());
  const Groups g = group(ic, x);
  const int64_t u = static_cast<int64_t>(g.first.size());
  const size_t row = static_cast<size_t>(v.inner) * elem_size(x.type());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(ctx.out[0]->raw());
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t j = 0; j < u; ++j)
      std::memcpy(dst + static_cast<size_t>(o * u + j) * row, src + static_cast<size_t>(o * v.n + g.first[static_cast<size_t>(j)]) * row, row);
  auto put = [&](size_t out, const std::vector<int64_t>& vals) {
    if (ctx.out.size() > out && ctx.out[out]) std::copy(vals.begin(), vals.end(), ctx.out[out]->data<int64_t>());
  };
  put(1, g.first);
  put(2, g.inverse);
  put(3, g.count);
}

}  // namespace

void add_unique_ops(OpList& ops) { ops.push_back(OpDef{"", "Unique", 11, {"axis", "sorted"}, unique_infer, unique_run}); }

}  // namespace lowbit::onnx
