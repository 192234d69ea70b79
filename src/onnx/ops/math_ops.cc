// Mod (integer remainder with Python or C sign rules; fmod on floats), BitShift (unsigned
// integers, LEFT or RIGHT, broadcasting) and CumSum (inclusive or exclusive running sums,
// forward or reversed, along one axis): validation here, the arithmetic in kernels/elementwise.h.
#include "lowbit/kernels/elementwise.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

constexpr std::initializer_list<ElemType> kModTypes = {ElemType::f32, ElemType::f64, ElemType::i8,  ElemType::u8,
                                                      ElemType::i16, ElemType::u16, ElemType::i32, ElemType::u32,
                                                      ElemType::i64, ElemType::u64};

void mod_infer(InferCtx& ctx) {
  require_type(ctx, 0, kModTypes);
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem, ctx, "A and B types differ ({} vs {})",
                      elem_name(ctx.in[0].elem), elem_name(ctx.in[1].elem));
  LOWBIT_NODE_REQUIRE(!is_float(ctx.in[0].elem) || ctx.node.attr_i("fmod", 0) == 1, ctx,
                      "floating-point inputs need fmod=1 (the ONNX spec), got fmod={}", ctx.node.attr_i("fmod", 0));
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, broadcast_shapes({ctx.shape(0), ctx.shape(1)}, ctx));
}

void mod_run(RunCtx& ctx) {
  const Array &a = ctx.input(0), &b = ctx.input(1);
  const bool c_rule = ctx.node.attr_i("fmod", 0) == 1;
  dispatch_numeric(a.type(), "Mod", [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, bool>)
      kernels::binary<T>(c_rule ? kernels::Binary::mod_fmod : kernels::Binary::mod_floor, a.data<T>(), a.shape(),
                         b.data<T>(), b.shape(), ctx.out[0]->data<T>(), ctx.out[0]->shape());
  });
}

void bitshift_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::u8, ElemType::u16, ElemType::u32, ElemType::u64});
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem, ctx, "X and Y types differ ({} vs {})",
                      elem_name(ctx.in[0].elem), elem_name(ctx.in[1].elem));
  const std::string dir = ctx.node.attr_s("direction", "");
  LOWBIT_NODE_REQUIRE(dir == "LEFT" || dir == "RIGHT", ctx, "direction must be LEFT or RIGHT, got '{}'", dir);
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, broadcast_shapes({ctx.shape(0), ctx.shape(1)}, ctx));
}

// A shift by the type's width or more gives 0 (ONNX leaves it open; C++ would be undefined).
void bitshift_run(RunCtx& ctx) {
  const auto op = ctx.node.attr_s("direction", "") == "LEFT" ? kernels::Binary::shift_left : kernels::Binary::shift_right;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const Array &a = ctx.input(0), &b = ctx.input(1);
    kernels::binary<T>(op, a.data<T>(), a.shape(), b.data<T>(), b.shape(), ctx.out[0]->data<T>(), ctx.out[0]->shape());
  };
  switch (ctx.input(0).type()) {
    case ElemType::u8: return run(uint8_t{});
    case ElemType::u16: return run(uint16_t{});
    case ElemType::u32: return run(uint32_t{});
    default: return run(uint64_t{});
  }
}

void cumsum_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::i32, ElemType::i64, ElemType::u32, ElemType::u64});
  require_type(ctx, 1, {ElemType::i32, ElemType::i64});
  LOWBIT_NODE_REQUIRE(!ctx.in[1].has_shape || ctx.in[1].shape.size() <= 1, ctx, "axis must be a scalar, got shape {}",
                      shape_str(ctx.in[1].shape));
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  if (ctx.value(1)) {
    LOWBIT_NODE_REQUIRE(ctx.value(1)->numel() == 1, ctx, "axis must hold one value, got {}", ctx.value(1)->numel());
    normalize_axis(ctx.value(1)->get_i64(0), static_cast<int64_t>(ctx.shape(0).size()), ctx);
  }
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

// x viewed as (outer, n, inner) around the axis; y[o, i, k] = sum of x[o, j, k] over j before
// (exclusive) or up to (inclusive) i, counting from the end when reversed.
void cumsum_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const InferCtx ic = infer_ctx_for(ctx);
  LOWBIT_NODE_REQUIRE(ctx.input(1).numel() == 1, ic, "axis must hold one value, got {}", ctx.input(1).numel());
  const auto rank = static_cast<int64_t>(x.shape().size());
  LOWBIT_NODE_REQUIRE(rank >= 1, ic, "input must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(ctx.input(1).get_i64(0), rank, ic));
  const bool exclusive = ctx.node.attr_i("exclusive", 0) != 0, reverse = ctx.node.attr_i("reverse", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (size_t d = axis + 1; d < x.shape().size(); ++d) inner *= x.shape()[d];
  const int64_t n = x.shape()[axis];
  dispatch_numeric(x.type(), "CumSum", [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, bool>)
      kernels::cumsum<T>(outer, n, inner, exclusive, reverse, x.data<T>(), ctx.out[0]->data<T>());
  });
}

}  // namespace

void add_math_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Mod", 10, {"fmod"}, mod_infer, mod_run});
  ops.push_back(OpDef{"", "BitShift", 11, {"direction"}, bitshift_infer, bitshift_run});
  ops.push_back(OpDef{"", "CumSum", 11, {"exclusive", "reverse"}, cumsum_infer, cumsum_run});
}

}  // namespace lowbit::onnx
