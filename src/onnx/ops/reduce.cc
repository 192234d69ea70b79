// Reductions (ReduceMean/Sum/Max/Min/Prod/SumSquare/L1/L2/LogSum/LogSumExp) and ArgMax/ArgMin.
// Axes come from the attribute, or from the optional input (ReduceSum at opset >= 13, all at >= 18).
// Accumulation is in double; a trailing block of reduced axes takes a row-wise fast path.
#include <cmath>
#include <limits>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

enum class Red { mean, sum, max, min, prod, sum_sq, l1, l2, log_sum, log_sum_exp };

// Which axes are reduced; nullopt when the axes input is not known yet.
std::optional<std::vector<bool>> reduced_axes(const InferCtx& ctx, size_t rank) {
  std::vector<int64_t> axes;
  // ReduceSum took axes as an input from opset 13, every other reduction from opset 18.
  bool from_input = (ctx.node.op_type == "ReduceSum" && ctx.opset >= 13) || ctx.opset >= 18;
  if (from_input) {
    if (ctx.has(1)) {
      if (!ctx.value(1)) return std::nullopt;
      axes = int_list(*ctx.value(1));
    }
  } else {
    axes = ctx.node.attr_ints("axes");
  }
  std::vector<bool> mask(rank, false);
  if (axes.empty()) {
    if (ctx.node.attr_i("noop_with_empty_axes", 0) == 0) mask.assign(rank, true);
    return mask;
  }
  for (int64_t a : axes) {
    LOWBIT_NODE_REQUIRE(a >= -static_cast<int64_t>(rank) && a < static_cast<int64_t>(rank), ctx,
                        "axes entry {} out of range for rank {}", a, rank);
    mask[static_cast<size_t>(normalize_axis(a, static_cast<int64_t>(rank), ctx))] = true;
  }
  return mask;
}

void reduce_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i32, ElemType::i64, ElemType::u8, ElemType::i8});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  const auto mask = reduced_axes(ctx, in.size());
  if (!mask) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const bool keep = ctx.node.attr_i("keepdims", 1) != 0;
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!(*mask)[d]) out.push_back(in[d]);
    else if (keep) out.push_back(1);
  }
  ctx.set_out(0, ctx.in[0].elem, out);
}

double red_init(Red r) {
  if (r == Red::max) return -std::numeric_limits<double>::infinity();
  if (r == Red::min) return std::numeric_limits<double>::infinity();
  if (r == Red::prod) return 1;
  return 0;
}

inline double red_step(Red r, double acc, double v) {
  switch (r) {
    case Red::max: return v > acc || std::isnan(v) ? v : acc;
    case Red::min: return v < acc || std::isnan(v) ? v : acc;
    case Red::prod: return acc * v;
    case Red::sum_sq: case Red::l2: return acc + v * v;
    case Red::l1: return acc + std::fabs(v);
    case Red::log_sum_exp: return acc + std::exp(v);
    default: return acc + v;
  }
}

inline double red_final(Red r, double acc, int64_t n) {
  switch (r) {
    case Red::mean: return acc / static_cast<double>(n);
    case Red::l2: return std::sqrt(acc);
    case Red::log_sum: case Red::log_sum_exp: return std::log(acc);
    default: return acc;
  }
}

template <typename T>
void reduce_typed(Red r, const Array& x, const std::vector<bool>& mask, Array& y) {
  const Shape& in = x.shape();
  const T* px = x.data<T>();
  T* py = y.data<T>();
  int64_t n_red = 1;
  for (size_t d = 0; d < in.size(); ++d)
    if (mask[d]) n_red *= in[d];
  const int64_t n_out = y.numel();
  // Fast path: reduced axes form a trailing block (LayerNorm decompositions, GAP-like means).
  size_t first = in.size();
  while (first > 0 && (mask[first - 1] || in[first - 1] == 1)) --first;
  bool trailing = true;
  for (size_t d = 0; d < first; ++d) trailing = trailing && (!mask[d] || in[d] == 1);
  if (trailing && n_out * n_red == x.numel()) {
    parallel_for(n_out, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double acc = red_init(r);
        for (int64_t i = 0; i < n_red; ++i) acc = red_step(r, acc, static_cast<double>(px[o * n_red + i]));
        py[o] = static_cast<T>(red_final(r, acc, n_red));
      }
    });
    return;
  }
  // General path: output strides with 0 on reduced axes, one pass over the input.
  std::vector<int64_t> out_st(in.size(), 0);
  int64_t acc_st = 1;
  for (size_t d = in.size(); d-- > 0;) {
    if (mask[d]) continue;
    out_st[d] = acc_st;
    acc_st *= in[d];
  }
  std::vector<double> acc(static_cast<size_t>(n_out), red_init(r));
  std::vector<int64_t> idx(in.size(), 0);
  int64_t o = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    acc[static_cast<size_t>(o)] = red_step(r, acc[static_cast<size_t>(o)], static_cast<double>(px[i]));
    for (size_t d = in.size(); d-- > 0;) {
      o += out_st[d];
      if (++idx[d] < in[d]) break;
      o -= out_st[d] * in[d];
      idx[d] = 0;
    }
  }
  for (int64_t k = 0; k < n_out; ++k) py[k] = static_cast<T>(red_final(r, acc[static_cast<size_t>(k)], n_red));
}

OpDef reduce_op(std::string_view name, Red r) {
  OpDef op{"", name, 1, {"axes", "keepdims", "noop_with_empty_axes"}, reduce_infer, nullptr};
  op.run = [r](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    const auto mask = *reduced_axes(infer_ctx_for(ctx), x.shape().size());
    dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
      using T = decltype(t);
      if constexpr (!std::is_same_v<T, bool>) reduce_typed<T>(r, x, mask, *ctx.out[0]);
    });
  };
  return op;
}

void arg_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i32, ElemType::i64, ElemType::u8, ElemType::i8});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ElemType::i64);
  Shape s = ctx.shape(0);
  const auto axis = static_cast<size_t>(normalize_axis(ctx.node.attr_i("axis", 0), static_cast<int64_t>(s.size()), ctx));
  LOWBIT_NODE_REQUIRE(s[axis] > 0, ctx, "input shape {} is empty along axis {} (expected at least one element to pick)",
                      shape_str(s), axis);
  if (ctx.node.attr_i("keepdims", 1)) s[axis] = 1;
  else s.erase(s.begin() + static_cast<std::ptrdiff_t>(axis));
  ctx.set_out(0, ElemType::i64, s);
}

void arg_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  int64_t axis = ctx.node.attr_i("axis", 0);
  if (axis < 0) axis += x.dim();
  const bool is_max = ctx.node.op_type == "ArgMax", last = ctx.node.attr_i("select_last_index", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < axis) outer *= x.shape()[static_cast<size_t>(d)];
    else if (d > axis) inner *= x.shape()[static_cast<size_t>(d)];
  const int64_t D = x.shape()[static_cast<size_t>(axis)];
  int64_t* py = ctx.out[0]->data<int64_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      int64_t best = 0;
      double bv = x.get_f64(o * D * inner + in);
      for (int64_t k = 1; k < D; ++k) {
        const double v = x.get_f64((o * D + k) * inner + in);
        if (is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv))) {
          bv = v;
          best = k;
        }
      }
      py[o * inner + in] = best;
    }
}

}  // namespace

void add_reduce_ops(OpList& ops) {
  const std::pair<std::string_view, Red> reds[] = {
      {"ReduceMean", Red::mean}, {"ReduceSum", Red::sum}, {"ReduceMax", Red::max}, {"ReduceMin", Red::min},
      {"ReduceProd", Red::prod}, {"ReduceSumSquare", Red::sum_sq}, {"ReduceL1", Red::l1}, {"ReduceL2", Red::l2},
      {"ReduceLogSum", Red::log_sum}, {"ReduceLogSumExp", Red::log_sum_exp}};
  for (const auto& [name, r] : reds) ops.push_back(reduce_op(name, r));
  ops.push_back(OpDef{"", "ArgMax", 1, {"axis", "keepdims", "select_last_index"}, arg_infer, arg_run});
  ops.push_back(OpDef{"", "ArgMin", 1, {"axis", "keepdims", "select_last_index"}, arg_infer, arg_run});
}

}  // namespace lowbit::onnx
