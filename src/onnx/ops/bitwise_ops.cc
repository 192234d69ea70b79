// BitwiseAnd, BitwiseOr, BitwiseXor (broadcasting) and BitwiseNot, new in opset 18: integer
// tensors only (ONNX's T is int8..int64, uint8..uint64); the arithmetic is kernels/elementwise.h's.
#include "lowbit/kernels/elementwise.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

constexpr std::initializer_list<ElemType> kIntTypes = {ElemType::i8,  ElemType::u8,  ElemType::i16, ElemType::u16,
                                                      ElemType::i32, ElemType::u32, ElemType::i64, ElemType::u64};

template <typename F>
void dispatch_int(ElemType t, F&& f) {
  switch (t) {
    case ElemType::i8: return f(int8_t{});
    case ElemType::u8: return f(uint8_t{});
    case ElemType::i16: return f(int16_t{});
    case ElemType::u16: return f(uint16_t{});
    case ElemType::i32: return f(int32_t{});
    case ElemType::u32: return f(uint32_t{});
    case ElemType::i64: return f(int64_t{});
    case ElemType::u64: return f(uint64_t{});
    default: LOWBIT_CHECK(false, "bitwise op on {} (infer admits integers only)", elem_name(t));
  }
}

void binary_infer(InferCtx& ctx) {
  require_type(ctx, 0, kIntTypes);
  LOWBIT_NODE_REQUIRE(ctx.in[0].elem == ctx.in[1].elem, ctx, "inputs are {} and {} (they must have one type)",
                      elem_name(ctx.in[0].elem), elem_name(ctx.in[1].elem));
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, broadcast_shapes({ctx.shape(0), ctx.shape(1)}, ctx));
}

template <int Kind>  // 0 and, 1 or, 2 xor
void binary_run(RunCtx& ctx) {
  dispatch_int(ctx.input(0).type(), [&](auto zero) {
    using T = decltype(zero);
    constexpr auto op = Kind == 0 ? kernels::Binary::bit_and : Kind == 1 ? kernels::Binary::bit_or : kernels::Binary::bit_xor;
    const Array &a = ctx.input(0), &b = ctx.input(1);
    kernels::binary<T>(op, a.data<T>(), a.shape(), b.data<T>(), b.shape(), ctx.out[0]->data<T>(), ctx.out[0]->shape());
  });
}

void not_infer(InferCtx& ctx) {
  require_type(ctx, 0, kIntTypes);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

void not_run(RunCtx& ctx) {
  dispatch_int(ctx.input(0).type(), [&](auto zero) {
    using T = decltype(zero);
    kernels::unary<T>(kernels::Unary::bit_not, ctx.input(0).numel(), ctx.input(0).data<T>(), ctx.out[0]->data<T>());
  });
}

}  // namespace

void add_bitwise_ops(OpList& ops) {
  ops.push_back(OpDef{"", "BitwiseAnd", 18, {}, binary_infer, binary_run<0>});
  ops.push_back(OpDef{"", "BitwiseOr", 18, {}, binary_infer, binary_run<1>});
  ops.push_back(OpDef{"", "BitwiseXor", 18, {}, binary_infer, binary_run<2>});
  ops.push_back(OpDef{"", "BitwiseNot", 18, {}, not_infer, not_run});
}

}  // namespace lowbit::onnx
