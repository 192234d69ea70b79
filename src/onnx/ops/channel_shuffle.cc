// lowbit.ChannelShuffle (passes_shuffle.cc): ShuffleNet's Reshape(x, split) ->
// Transpose(0,2,1,3,4) -> Reshape(., merged) as one node, the same values for any shapes:
//   inputs: x (any fixed-size element type), split and merged (int64 shapes, as the Reshapes'
//           second inputs; 0 and -1 resolve as in Reshape with allowzero = 0)
//   output: x viewed as split = [a, b, c, d, e], axes 1 and 2 swapped, viewed as merged.
// On a 4-d x = [N, C, H, W] with split = [N, g, C/g, H, W] and merged resolving to x's shape (the
// channel shuffle proper) it reads and writes channels-last when its neighbours do.
#include <optional>

#include "lowbit/kernels/channel_shuffle.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// The resolved [a, b, c, d, e] view of x, or nullopt while x's shape or either shape is unknown.
std::optional<Shape> split_view(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.value(1) || !ctx.value(2)) return std::nullopt;
  Shape split = reshape_target(ctx, ctx.shape(0), int_list(*ctx.value(1)), false);
  LOWBIT_NODE_REQUIRE(split.size() == 5, ctx, "split shape {} must have rank 5 (the Transpose swaps axes 1 and 2 of it)",
                      shape_str(split));
  return split;
}

Shape merged_shape(const InferCtx& ctx, const Shape& split) {
  return reshape_target(ctx, {split[0], split[2], split[1], split[3], split[4]}, int_list(*ctx.value(2)), false);
}

void shuffle_infer(InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.n_in() == 3 && ctx.has(0) && ctx.has(1) && ctx.has(2), ctx, "expects x, split and merged shapes");
  require_type(ctx, 1, {ElemType::i64});
  require_type(ctx, 2, {ElemType::i64});
  LOWBIT_NODE_REQUIRE(elem_size(ctx.in[0].elem) > 0, ctx, "element type {} is not supported", elem_name(ctx.in[0].elem));
  const std::optional<Shape> split = split_view(ctx);
  if (!split) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, merged_shape(ctx, *split));
}

// The channel shuffle proper (see the top): then both layouts are offered, tied.
uint64_t shuffle_channels_last(const InferCtx& ctx) {
  const std::optional<Shape> split = split_view(ctx);
  if (!split || ctx.shape(0).size() != 4) return 0;
  const Shape& x = ctx.shape(0);
  const Shape& s = *split;
  const bool channels = s[0] == x[0] && s[1] * s[2] == x[1] && s[3] == x[2] && s[4] == x[3];
  return channels && merged_shape(ctx, s) == x ? (1 | kTiedLayout) : 0;
}

void shuffle_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const Shape s = *split_view(infer_ctx_for(ctx));
  const size_t es = elem_size(x.type());
  if (ctx.nhwc_outputs & 1)  // x and y [N, H, W, C]: each pixel's channels as a g × C/g matrix
    return kernels::channel_shuffle(s[0] * s[3] * s[4], s[1], s[2], 1, es, x.raw(), ctx.out[0]->raw());
  kernels::channel_shuffle(s[0], s[1], s[2], s[3] * s[4], es, x.raw(), ctx.out[0]->raw());
}

}  // namespace

void add_channel_shuffle_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "ChannelShuffle", 1, {}, shuffle_infer, shuffle_run});
  ops.back().channels_last = shuffle_channels_last;
}

}  // namespace lowbit::onnx
