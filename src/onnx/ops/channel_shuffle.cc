// lowbit.ChannelShuffle (passes_shuffle.cc): ShuffleNet's Reshape(x, split) ->
// Transpose(0,2,1,3,4) -> Reshape(., merged) as one node, the same values for any shapes:
//   inputs: x (any fixed-size element type), split and merged (int64 shapes, as the Reshapes'
//           second inputs; 0 and -1 resolve as in Reshape with allowzero = 0)
//   output: x viewed as split = [a, b, c, d, e], axes 1 and 2 swapped, viewed as merged.
// On a 4-d x = [N, C, H, W] with split = [N, g, C/g, H, W] and merged resolving to x's shape (the
// channel shuffle proper) it reads and writes channels-last when its neighbours do.
// lowbit.ConcatShuffleSlice (passes_shuffle.cc): Concat(parts, axis 1) -> ChannelShuffle ->
// Slice(axes = [1]) as one node, which reads the parts and writes the slice in one pass:
//   inputs: split, merged (as ChannelShuffle's), starts, ends (one entry each, as the Slice's),
//           parts... (the Concat's inputs)
//   output: the Slice of the shuffled Concat along axis 1, step 1.
// On the channel shuffle proper each output channel is one channel of one part: an index map
// (kernels::gather_channels), channels-last when its neighbours are; any other view runs the
// three steps through scratch arrays, NCHW.
#include <algorithm>
#include <optional>
#include <vector>

#include "lowbit/kernels/channel_shuffle.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

// The resolved [a, b, c, d, e] view of x (shape `x`; split and merged shapes the inputs at
// `shapes` and `shapes + 1`), or nullopt while either shape is unknown.
std::optional<Shape> split_view(const InferCtx& ctx, const Shape& x, size_t shapes) {
  if (!ctx.value(shapes) || !ctx.value(shapes + 1)) return std::nullopt;
  Shape split = reshape_target(ctx, x, int_list(*ctx.value(shapes)), false);
  LOWBIT_NODE_REQUIRE(split.size() == 5, ctx, "split shape {} must have rank 5 (the Transpose swaps axes 1 and 2 of it)",
                      shape_str(split));
  return split;
}

std::optional<Shape> split_view(const InferCtx& ctx) {
  if (!ctx.shape_known(0)) return std::nullopt;
  return split_view(ctx, ctx.shape(0), 1);
}

Shape merged_shape(const InferCtx& ctx, const Shape& split, size_t merged = 2) {
  return reshape_target(ctx, {split[0], split[2], split[1], split[3], split[4]}, int_list(*ctx.value(merged)), false);
}

// The split view of a 4-d x is [N, g, C/g, H, W]: the channel shuffle proper.
bool shuffles_channels(const Shape& x, const Shape& s) {
  return x.size() == 4 && s[0] == x[0] && s[1] * s[2] == x[1] && s[3] == x[2] && s[4] == x[3];
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
  return shuffles_channels(ctx.shape(0), *split) && merged_shape(ctx, *split) == ctx.shape(0) ? (1 | kTiedLayout) : 0;
}

void shuffle_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const Shape s = *split_view(infer_ctx_for(ctx));
  const size_t es = elem_size(x.type());
  if (ctx.nhwc_outputs & 1)  // x and y [N, H, W, C]: each pixel's channels as a g × C/g matrix
    return kernels::channel_shuffle(s[0] * s[3] * s[4], s[1], s[2], 1, es, x.raw(), ctx.out[0]->raw());
  kernels::channel_shuffle(s[0], s[1], s[2], s[3] * s[4], es, x.raw(), ctx.out[0]->raw());
}

// ---- lowbit.ConcatShuffleSlice ----

constexpr size_t kFirstPart = 4;  // inputs: split, merged, starts, ends, parts...

// The Concat's output shape (parts joined along axis 1), or nullopt while a part's is unknown.
std::optional<Shape> concat_shape(const InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(ctx.n_in() > kFirstPart, ctx, "expects split, merged, starts, ends and at least one part");
  Shape x;
  for (size_t i = kFirstPart; i < ctx.n_in(); ++i) {
    LOWBIT_NODE_REQUIRE(ctx.has(i) && ctx.in[i].elem == ctx.in[kFirstPart].elem, ctx, "part {} missing or of another type",
                        i - kFirstPart);
    if (!ctx.shape_known(i)) return std::nullopt;
    const Shape& s = ctx.shape(i);
    if (i == kFirstPart) {
      LOWBIT_NODE_REQUIRE(s.size() >= 2, ctx, "parts must have rank >= 2 (concatenated along axis 1), got {}", shape_str(s));
      x = s;
      continue;
    }
    LOWBIT_NODE_REQUIRE(s.size() == x.size(), ctx, "part {} has rank {}, expected {}", i - kFirstPart, s.size(), x.size());
    for (size_t d = 0; d < s.size(); ++d)
      LOWBIT_NODE_REQUIRE(d == 1 || s[d] == x[d], ctx, "part {} shape {} differs from {} off axis 1", i - kFirstPart,
                          shape_str(s), shape_str(ctx.shape(kFirstPart)));
    x[1] += s[1];
  }
  return x;
}

// [start, start + len) along axis 1 of a dim-long axis, as Slice resolves starts/ends at step 1.
struct ChannelRange {
  int64_t start = 0, len = 0;
};

std::optional<ChannelRange> channel_range(const InferCtx& ctx, int64_t dim) {
  if (!ctx.value(2) || !ctx.value(3)) return std::nullopt;
  const std::vector<int64_t> starts = int_list(*ctx.value(2)), ends = int_list(*ctx.value(3));
  LOWBIT_NODE_REQUIRE(starts.size() == 1 && ends.size() == 1, ctx, "starts and ends must hold one entry each (axis 1), got {} and {}",
                      starts.size(), ends.size());
  const int64_t s = std::clamp<int64_t>(starts[0] < 0 ? starts[0] + dim : starts[0], 0, dim);
  const int64_t e = std::clamp<int64_t>(ends[0] < 0 ? ends[0] + dim : ends[0], 0, dim);
  return ChannelRange{s, std::max<int64_t>(0, e - s)};
}

struct ConcatShuffleSliceView {
  Shape x, split, merged;
  ChannelRange range;
};

std::optional<ConcatShuffleSliceView> css_view(const InferCtx& ctx) {
  const std::optional<Shape> x = concat_shape(ctx);
  if (!x) return std::nullopt;
  const std::optional<Shape> split = split_view(ctx, *x, 0);
  if (!split) return std::nullopt;
  Shape merged = merged_shape(ctx, *split, 1);
  LOWBIT_NODE_REQUIRE(merged.size() >= 2, ctx, "merged shape {} has no axis 1 to slice", shape_str(merged));
  const std::optional<ChannelRange> range = channel_range(ctx, merged[1]);
  if (!range) return std::nullopt;
  return ConcatShuffleSliceView{*x, *split, std::move(merged), *range};
}

void css_infer(InferCtx& ctx) {
  for (size_t i = 0; i < kFirstPart; ++i) {
    LOWBIT_NODE_REQUIRE(ctx.has(i), ctx, "expects split, merged, starts and ends before the parts");
    if (i < 2) require_type(ctx, i, {ElemType::i64});
    else require_type(ctx, i, {ElemType::i32, ElemType::i64});
  }
  const std::optional<ConcatShuffleSliceView> v = css_view(ctx);
  const ElemType elem = ctx.in[kFirstPart].elem;
  LOWBIT_NODE_REQUIRE(elem_size(elem) > 0, ctx, "element type {} is not supported", elem_name(elem));
  if (!v) return ctx.set_out_unknown(0, elem);
  Shape out = v->merged;
  out[1] = v->range.len;
  ctx.set_out(0, elem, out);
}

// Channels-last with its neighbours when the shuffle is the channel shuffle proper (then the
// output's channels are channels of the parts, for any layout both sides share).
uint64_t css_channels_last(const InferCtx& ctx) {
  if (ctx.n_in() > 62) return 0;
  const std::optional<ConcatShuffleSliceView> v = css_view(ctx);
  if (!v || !shuffles_channels(v->x, v->split) || v->merged != v->x) return 0;
  return (((uint64_t{1} << ctx.n_in()) - 1) & ~((uint64_t{1} << kFirstPart) - 1)) | kTiedLayout;
}

void css_run(RunCtx& ctx) {
  const ConcatShuffleSliceView v = *css_view(infer_ctx_for(ctx));
  Array& y = *ctx.out[0];
  if (y.numel() == 0) return;
  const size_t es = elem_size(y.type());
  std::vector<const void*> parts;
  std::vector<int64_t> part_channels;
  std::vector<kernels::ChannelSource> src;
  for (size_t i = kFirstPart; i < ctx.in.size(); ++i) {
    const Array& a = ctx.input(i);
    parts.push_back(a.raw());
    part_channels.push_back(a.shape()[1]);
  }
  int64_t inner = 1;
  for (size_t d = 2; d < v.x.size(); ++d) inner *= v.x[d];
  if (shuffles_channels(v.x, v.split) && v.merged == v.x) {
    // Output channel j is shuffled channel q = start + j, which is concat channel (q % g)·(C/g) + q / g.
    const int64_t g = v.split[1], per = v.split[2];
    for (int64_t j = 0; j < v.range.len; ++j) {
      const int64_t q = v.range.start + j;
      int64_t c = (q % g) * per + q / g;
      int32_t t = 0;
      while (c >= part_channels[static_cast<size_t>(t)]) c -= part_channels[static_cast<size_t>(t++)];
      src.push_back({t, c});
    }
    if (ctx.nhwc_outputs & 1)  // every part and y [N, H, W, C]
      return kernels::gather_channels(v.x[0] * inner, 1, src.data(), v.range.len, parts.data(), part_channels.data(), es, y.raw());
    return kernels::gather_channels(v.x[0], inner, src.data(), v.range.len, parts.data(), part_channels.data(), es, y.raw());
  }
  // Any other view: Concat, ChannelShuffle and Slice in turn, NCHW.
  for (size_t t = 0; t < parts.size(); ++t)
    for (int64_t c = 0; c < part_channels[t]; ++c) src.push_back({static_cast<int32_t>(t), c});
  Array joined = Array::empty(y.type(), v.x), shuffled = Array::empty(y.type(), v.merged);
  kernels::gather_channels(v.x[0], inner, src.data(), v.x[1], parts.data(), part_channels.data(), es, joined.raw());
  const Shape& s = v.split;
  kernels::channel_shuffle(s[0], s[1], s[2], s[3] * s[4], es, joined.raw(), shuffled.raw());
  src.clear();
  for (int64_t j = 0; j < v.range.len; ++j) src.push_back({0, v.range.start + j});
  int64_t merged_inner = 1;
  for (size_t d = 2; d < v.merged.size(); ++d) merged_inner *= v.merged[d];
  const void* whole = shuffled.raw();
  const int64_t whole_channels = v.merged[1];
  kernels::gather_channels(v.merged[0], merged_inner, src.data(), v.range.len, &whole, &whole_channels, es, y.raw());
}

}  // namespace

void add_channel_shuffle_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "ChannelShuffle", 1, {}, shuffle_infer, shuffle_run});
  ops.back().channels_last = shuffle_channels_last;
  ops.push_back(OpDef{"lowbit", "ConcatShuffleSlice", 1, {}, css_infer, css_run});
  ops.back().channels_last = css_channels_last;
}

}  // namespace lowbit::onnx
