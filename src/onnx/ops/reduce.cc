// Reductions (ReduceMean/Sum/Max/Min/Prod/SumSquare/L1/L2/LogSum/LogSumExp) and ArgMax/ArgMin:
// validation and shapes here, the arithmetic in kernels/reduce.h. Axes come from the attribute,
// or from the optional input (ReduceSum at opset >= 13, all at >= 18).
#include <memory>

#include "lowbit/kernels/reduce.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

using kernels::Reduction;

// The element types kernels/reduce.h is built for (the ones reduce_infer and arg_infer admit).
template <typename T>
constexpr bool kReducible = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t> ||
                            std::is_same_v<T, int32_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>;

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

// A 4-d input may be read channels-last when the kept axes come out in the same order from the
// [N, H, W, C] storage: C reduced, or C kept with H and W both reduced (ShuffleNet's and
// RegNet's mean over H, W). Each output then sums the same inputs in the same order, and a 4-d
// output ([N, C, 1, 1] or [N, 1, H, W]) has the same bytes in both layouts.
uint64_t reduce_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4) return 0;
  const auto mask = reduced_axes(ctx, 4);
  return mask && (!(*mask)[1] ? (*mask)[2] && (*mask)[3] : true) ? 1 : 0;
}

OpDef reduce_op(std::string_view name, Reduction r) {
  OpDef op{"", name, 1, {"axes", "keepdims", "noop_with_empty_axes"}, reduce_infer, nullptr};
  op.channels_last = reduce_channels_last;
  op.run = [r](RunCtx& ctx) {
    const Array& x = ctx.input(0);
    const size_t rank = x.shape().size();
    std::vector<bool> mask = *reduced_axes(infer_ctx_for(ctx), rank);
    Shape shape = x.shape();
    if (ctx.nhwc_inputs & 1) {  // reduce the [N, H, W, C] storage
      shape = {shape[0], shape[2], shape[3], shape[1]};
      mask = {mask[0], mask[2], mask[3], mask[1]};
    }
    auto flags = std::make_unique<bool[]>(rank);
    std::copy(mask.begin(), mask.end(), flags.get());
    dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
      using T = decltype(t);
      if constexpr (kReducible<T>) kernels::reduce<T>(r, shape, {flags.get(), rank}, x.data<T>(), ctx.out[0]->data<T>());
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
  dispatch_numeric(x.type(), ctx.node.op_type, [&](auto t) {
    using T = decltype(t);
    if constexpr (kReducible<T>)
      kernels::arg_extreme<T>(is_max, last, outer, D, inner, x.data<T>(), ctx.out[0]->data<int64_t>());
  });
}

}  // namespace

void add_reduce_ops(OpList& ops) {
  const std::pair<std::string_view, Reduction> reds[] = {
      {"ReduceMean", Reduction::mean},   {"ReduceSum", Reduction::sum},
      {"ReduceMax", Reduction::max},     {"ReduceMin", Reduction::min},
      {"ReduceProd", Reduction::prod},   {"ReduceSumSquare", Reduction::sum_square},
      {"ReduceL1", Reduction::l1},       {"ReduceL2", Reduction::l2},
      {"ReduceLogSum", Reduction::log_sum}, {"ReduceLogSumExp", Reduction::log_sum_exp}};
  for (const auto& [name, r] : reds) ops.push_back(reduce_op(name, r));
  ops.push_back(OpDef{"", "ArgMax", 1, {"axis", "keepdims", "select_last_index"}, arg_infer, arg_run});
  ops.push_back(OpDef{"", "ArgMin", 1, {"axis", "keepdims", "select_last_index"}, arg_infer, arg_run});
}

}  // namespace lowbit::onnx
