// N-d indexing with index tuples: GatherND (with batch_dims), ScatterND and ScatterElements
// (reduction none, add or mul; max and min from opset 18). Indices are checked against the data shape at run time; the
// error names the node. Slices are byte copies; reductions dispatch on the element type.
#include <cstring>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t d = from; d < to; ++d) p *= s[d];
  return p;
}

// Offset (in elements) of the slice data[b.., idx...] within one batch of data.
int64_t tuple_offset(const InferCtx& ctx, const Array& idx, int64_t at, int64_t k, const Shape& data, size_t first,
                     const Shape& st) {
  int64_t off = 0;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t dim = data[first + static_cast<size_t>(j)];
    int64_t i = idx.get_i64(at + j);
    LOWBIT_NODE_REQUIRE(i >= -dim && i < dim, ctx, "index {} out of range for axis {} of size {}", i, first + static_cast<size_t>(j), dim);
    off += (i < 0 ? i + dim : i) * st[first + static_cast<size_t>(j)];
  }
  return off;
}

void gather_nd_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  const auto b = static_cast<size_t>(ctx.node.attr_i("batch_dims", 0));
  LOWBIT_NODE_REQUIRE(idx.size() >= 1 && b < idx.size() && b < data.size(), ctx,
                      "batch_dims {} must be below the ranks of data {} and indices {}", b, shape_str(data), shape_str(idx));
  const int64_t k = idx.back();
  LOWBIT_NODE_REQUIRE(k >= 1 && static_cast<size_t>(k) + b <= data.size(), ctx,
                      "index tuples of length {} do not fit data {} after {} batch dims", k, shape_str(data), b);
  for (size_t d = 0; d < b; ++d)
    LOWBIT_NODE_REQUIRE(data[d] == idx[d], ctx, "batch dim {} differs: data {} vs indices {}", d, shape_str(data), shape_str(idx));
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + static_cast<int64_t>(b) + k, data.end());
  ctx.set_out(0, ctx.in[0].elem, out);
}

void gather_nd_run(RunCtx& ctx) {
  const Array &data = ctx.input(0), &idx = ctx.input(1);
  const InferCtx ic = infer_ctx_for(ctx);
  const auto b = static_cast<size_t>(ctx.node.attr_i("batch_dims", 0));
  const int64_t k = idx.shape().back();
  const Shape st = contiguous_strides(data.shape());
  const int64_t batches = prod(data.shape(), 0, b), data_batch = prod(data.shape(), b, data.shape().size());
  const int64_t tuples = prod(idx.shape(), b, idx.shape().size() - 1);
  const int64_t slice = prod(data.shape(), b + static_cast<size_t>(k), data.shape().size());
  const auto es = static_cast<int64_t>(elem_size(data.type()));
  std::byte* out = ctx.out[0]->raw();
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < tuples; ++t) {
      const int64_t off = bi * data_batch + tuple_offset(ic, idx, (bi * tuples + t) * k, k, data.shape(), b, st);
      std::memcpy(out + (bi * tuples + t) * slice * es, data.raw() + off * es, static_cast<size_t>(slice * es));
    }
}

// dst = src (none), dst + src (add), dst * src (mul), max or min, on n elements of the array's type.
void combine(const std::string& reduction, ElemType t, std::byte* dst, const std::byte* src, int64_t n) {
  const auto es = static_cast<int64_t>(elem_size(t));
  if (reduction == "none") return (void)std::memcpy(dst, src, static_cast<size_t>(n * es));
  dispatch_numeric(t, "Scatter", [&](auto v) {
    using T = decltype(v);
    auto* d = reinterpret_cast<T*>(dst);
    const auto* s = reinterpret_cast<const T*>(src);
    if (reduction == "add") for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(d[i] + s[i]);
    else if (reduction == "mul") for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(d[i] * s[i]);
    else if (reduction == "max") for (int64_t i = 0; i < n; ++i) d[i] = s[i] > d[i] ? s[i] : d[i];
    else for (int64_t i = 0; i < n; ++i) d[i] = s[i] < d[i] ? s[i] : d[i];
  });
}

void scatter_check(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  const std::string red = ctx.node.attr_s("reduction", "none");
  const bool minmax = red == "max" || red == "min";  // opset 18
  LOWBIT_NODE_REQUIRE(red == "none" || red == "add" || red == "mul" || (minmax && ctx.opset >= 18), ctx,
                      "reduction '{}' is not supported ({})", red, ctx.opset >= 18 ? "none, add, mul, max, min" : "none, add, mul; max and min from opset 18");
  LOWBIT_NODE_REQUIRE(red == "none" || (ctx.in[0].elem != ElemType::boolean && ctx.in[0].elem != ElemType::f16 &&
                                        ctx.in[0].elem != ElemType::bf16),
                      ctx, "reduction '{}' on {} is not supported", red, elem_name(ctx.in[0].elem));
  LOWBIT_NODE_REQUIRE(ctx.in[2].elem == ctx.in[0].elem, ctx, "updates type {} differs from data type {}",
                      elem_name(ctx.in[2].elem), elem_name(ctx.in[0].elem));
}

void scatter_nd_infer(InferCtx& ctx) {
  scatter_check(ctx);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  if (ctx.shape_known(1) && ctx.shape_known(2)) {
    const Shape &data = ctx.shape(0), &idx = ctx.shape(1), &upd = ctx.shape(2);
    LOWBIT_NODE_REQUIRE(!idx.empty() && idx.back() >= 1 && static_cast<size_t>(idx.back()) <= data.size(), ctx,
                        "indices {} do not index data {}", shape_str(idx), shape_str(data));
    Shape want(idx.begin(), idx.end() - 1);
    want.insert(want.end(), data.begin() + idx.back(), data.end());
    LOWBIT_NODE_REQUIRE(upd == want, ctx, "updates have shape {}, expected {}", shape_str(upd), shape_str(want));
  }
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

void scatter_nd_run(RunCtx& ctx) {
  const Array &data = ctx.input(0), &idx = ctx.input(1), &upd = ctx.input(2);
  const InferCtx ic = infer_ctx_for(ctx);
  Array& y = *ctx.out[0];
  if (y.raw() != data.raw()) std::memcpy(y.raw(), data.raw(), data.nbytes());
  const int64_t k = idx.shape().back();
  const Shape st = contiguous_strides(data.shape());
  const int64_t slice = prod(data.shape(), static_cast<size_t>(k), data.shape().size());
  const int64_t tuples = slice == 0 ? 0 : upd.numel() / slice;
  const auto es = static_cast<int64_t>(elem_size(data.type()));
  const std::string red = ctx.node.attr_s("reduction", "none");
  for (int64_t t = 0; t < tuples; ++t) {
    const int64_t off = tuple_offset(ic, idx, t * k, k, data.shape(), 0, st);
    combine(red, data.type(), y.raw() + off * es, upd.raw() + t * slice * es, slice);
  }
}

void scatter_elements_infer(InferCtx& ctx) {
  scatter_check(ctx);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& data = ctx.shape(0);
  normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(data.size()), ctx);
  if (ctx.shape_known(1) && ctx.shape_known(2)) {
    const Shape &idx = ctx.shape(1), &upd = ctx.shape(2);
    LOWBIT_NODE_REQUIRE(idx == upd && idx.size() == data.size(), ctx, "indices {} and updates {} must match, with data's rank {}",
                        shape_str(idx), shape_str(upd), data.size());
  }
  ctx.set_out(0, ctx.in[0].elem, data);
}

void scatter_elements_run(RunCtx& ctx) {
  const Array &data = ctx.input(0), &idx = ctx.input(1), &upd = ctx.input(2);
  const InferCtx ic = infer_ctx_for(ctx);
  Array& y = *ctx.out[0];
  if (y.raw() != data.raw()) std::memcpy(y.raw(), data.raw(), data.nbytes());
  const size_t rank = data.shape().size();
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(rank), ic));
  const Shape st = contiguous_strides(data.shape());
  const int64_t dim = data.shape()[axis];
  const auto es = static_cast<int64_t>(elem_size(data.type()));
  const std::string red = ctx.node.attr_s("reduction", "none");
  std::vector<int64_t> pos(rank, 0);
  for (int64_t e = 0; e < idx.numel(); ++e) {
    int64_t i = idx.get_i64(e);
    LOWBIT_NODE_REQUIRE(i >= -dim && i < dim, ic, "index {} out of range for axis {} of size {}", i, axis, dim);
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (d == axis ? (i < 0 ? i + dim : i) : pos[d]) * st[d];
    combine(red, data.type(), y.raw() + off * es, upd.raw() + e * es, 1);
    for (size_t d = rank; d-- > 0;) {
      if (++pos[d] < idx.shape()[d]) break;
      pos[d] = 0;
    }
  }
}

}  // namespace

void add_scatter_ops(OpList& ops) {
  ops.push_back(OpDef{"", "GatherND", 11, {"batch_dims"}, gather_nd_infer, gather_nd_run});
  ops.push_back(OpDef{"", "ScatterND", 11, {"reduction"}, scatter_nd_infer, scatter_nd_run});
  ops.push_back(OpDef{"", "ScatterElements", 11, {"axis", "reduction"}, scatter_elements_infer, scatter_elements_run});
  // Scatter (opset 9-10) is ScatterElements under its old name (deprecated in opset 11).
  ops.push_back(OpDef{"", "Scatter", 9, {"axis"}, scatter_elements_infer, scatter_elements_run});
}

}  // namespace lowbit::onnx
