// Index-driven ops: GatherElements (one index per output element along an axis), OneHot
// (indices to on/off values along a new axis) and Trilu (keep the upper or lower triangle of
// the last two dimensions). Byte copies, so any element type works for the data operands.
#include <cstring>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

void gather_elements_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(data.size() >= 1 && idx.size() == data.size(), ctx,
                      "data {} and indices {} must have the same rank >= 1", shape_str(data), shape_str(idx));
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(data.size()), ctx));
  for (size_t d = 0; d < data.size(); ++d)
    LOWBIT_NODE_REQUIRE(d == axis || idx[d] <= data[d], ctx, "indices {} exceed data {} on axis {}", shape_str(idx),
                        shape_str(data), d);
  ctx.set_out(0, ctx.in[0].elem, idx);
}

// out[i0..i(r-1)] = data[i0.., idx[i0..], ..] with the index replacing position `axis`.
void gather_elements_run(RunCtx& ctx) {
  const Array &data = ctx.input(0), &idx = ctx.input(1);
  Array& y = *ctx.out[0];
  const InferCtx ic = infer_ctx_for(ctx);
  const size_t rank = data.shape().size();
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(rank), ic));
  const Shape st = contiguous_strides(data.shape());
  const int64_t dim = data.shape()[axis];
  const auto es = static_cast<int64_t>(elem_size(data.type()));
  std::vector<int64_t> pos(rank, 0);
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t i = idx.get_i64(o);
    LOWBIT_NODE_REQUIRE(i >= -dim && i < dim, ic, "index {} out of range for axis {} of size {}", i, axis, dim);
    if (i < 0) i += dim;
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (d == axis ? i : pos[d]) * st[d];
    std::memcpy(y.raw() + o * es, data.raw() + off * es, static_cast<size_t>(es));
    for (size_t d = rank; d-- > 0;) {  // next output position (row-major)
      if (++pos[d] < y.shape()[d]) break;
      pos[d] = 0;
    }
  }
}

void one_hot_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(!ctx.in[1].has_shape || checked_numel(ctx.in[1].shape, "OneHot") == 1, ctx,
                      "depth must hold one value, got shape {}", shape_str(ctx.in[1].shape));
  LOWBIT_NODE_REQUIRE(!ctx.in[2].has_shape || ctx.in[2].shape == Shape{2}, ctx,
                      "values must be [off_value, on_value], got shape {}", shape_str(ctx.in[2].shape));
  const ElemType t = ctx.in[2].elem;
  if (!ctx.shape_known(0) || !ctx.value(1)) return ctx.set_out_unknown(0, t);
  const double depth = ctx.value(1)->get_f64(0);
  LOWBIT_NODE_REQUIRE(depth >= 1 && depth <= double(int64_t{1} << 31), ctx, "depth {} out of range (1 to 2^31)", depth);
  Shape out = ctx.shape(0);
  const auto axis = normalize_axis(ctx.node.attr_i("axis", -1), static_cast<int64_t>(out.size()) + 1, ctx);
  out.insert(out.begin() + axis, static_cast<int64_t>(depth));
  checked_numel(out, "OneHot");
  ctx.set_out(0, t, out);
}

// out viewed as (outer, depth, inner) around the new axis; indices as (outer, inner). Negative
// indices count from depth; out-of-range ones select no position (all off_value).
void one_hot_run(RunCtx& ctx) {
  const Array &idx = ctx.input(0), &values = ctx.input(2);
  Array& y = *ctx.out[0];
  const InferCtx ic = infer_ctx_for(ctx);
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", -1), static_cast<int64_t>(y.shape().size()), ic));
  const int64_t depth = y.shape()[axis];
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= y.shape()[d];
  for (size_t d = axis + 1; d < y.shape().size(); ++d) inner *= y.shape()[d];
  const auto es = static_cast<int64_t>(elem_size(values.type()));
  const std::byte *off_v = values.raw(), *on_v = values.raw() + es;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      int64_t i = static_cast<int64_t>(idx.get_f64(o * inner + k));
      if (i < 0) i += depth;
      for (int64_t j = 0; j < depth; ++j)
        std::memcpy(y.raw() + ((o * depth + j) * inner + k) * es, j == i ? on_v : off_v, static_cast<size_t>(es));
    }
}

void trilu_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  LOWBIT_NODE_REQUIRE(!ctx.has(1) || !ctx.in[1].has_shape || ctx.in[1].shape.size() == 0 || ctx.in[1].shape == Shape{1}, ctx,
                      "k must be a scalar, got shape {}", shape_str(ctx.in[1].shape));
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  LOWBIT_NODE_REQUIRE(ctx.shape(0).size() >= 2, ctx, "input must have rank >= 2, got {}", shape_str(ctx.shape(0)));
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

// Per (.., N, M) matrix: keep x[i, j] where j - i >= k (upper) or j - i <= k (lower), else 0.
void trilu_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const int64_t k = ctx.has(1) && ctx.input(1).numel() > 0 ? ctx.input(1).get_i64(0) : 0;
  const bool upper = ctx.node.attr_i("upper", 1) != 0;
  const size_t r = x.shape().size();
  const int64_t rows = x.shape()[r - 2], cols = x.shape()[r - 1];
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  const auto es = static_cast<int64_t>(elem_size(x.type()));
  std::memset(y.raw(), 0, y.nbytes());
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        if (upper ? j - i < k : j - i > k) continue;
        const int64_t at = (m * rows + i) * cols + j;
        std::memcpy(y.raw() + at * es, x.raw() + at * es, static_cast<size_t>(es));
      }
}

}  // namespace

void add_index_ops(OpList& ops) {
  ops.push_back(OpDef{"", "GatherElements", 11, {"axis"}, gather_elements_infer, gather_elements_run});
  ops.push_back(OpDef{"", "OneHot", 9, {"axis"}, one_hot_infer, one_hot_run});
  ops.push_back(OpDef{"", "Trilu", 14, {"upper"}, trilu_infer, trilu_run});
}

}  // namespace lowbit::onnx
