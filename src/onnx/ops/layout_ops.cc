// Layout ops that rearrange whole blocks: Tile (repeat along each axis), DepthToSpace (DCR and
// CRD modes), SpaceToDepth (a 6-d reshape + transpose, done as one strided byte copy) and
// ReverseSequence (the first len[b] steps of each sequence reversed); every element type works.
#include <cstring>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

std::optional<std::vector<int64_t>> repeats_of(const InferCtx& ctx, size_t rank) {
  if (!ctx.value(1)) return std::nullopt;
  std::vector<int64_t> reps = int_list(*ctx.value(1));
  LOWBIT_NODE_REQUIRE(reps.size() == rank, ctx, "repeats has {} values for input rank {}", reps.size(), rank);
  for (int64_t r : reps) LOWBIT_NODE_REQUIRE(r >= 0 && r <= (int64_t{1} << 24), ctx, "repeat {} out of range (0 to 2^24)", r);
  return reps;
}

void tile_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const auto reps = repeats_of(ctx, ctx.shape(0).size());
  if (!reps) return ctx.set_out_unknown(0, ctx.in[0].elem);
  Shape out = ctx.shape(0);
  for (size_t d = 0; d < out.size(); ++d) out[d] *= (*reps)[d];
  checked_numel(out, "Tile");
  ctx.set_out(0, ctx.in[0].elem, out);
}

// y[i0, .., ir] = x[i0 % d0, .., ir % dr]; rows of the last axis are copied whole, repeated.
void tile_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  if (y.numel() == 0) return;
  const size_t rank = x.shape().size();
  const auto es = static_cast<int64_t>(elem_size(x.type()));
  if (rank == 0) return (void)std::memcpy(y.raw(), x.raw(), x.nbytes());
  const Shape st = contiguous_strides(x.shape());
  const int64_t in_row = x.shape()[rank - 1], out_row = y.shape()[rank - 1];
  for (int64_t r = 0; r < y.numel() / out_row; ++r) {
    int64_t off = 0, rem = r;
    for (size_t d = rank - 1; d-- > 0;) {
      off += (rem % y.shape()[d]) % x.shape()[d] * st[d];
      rem /= y.shape()[d];
    }
    std::byte* dst = y.raw() + r * out_row * es;
    for (int64_t c = 0; c < out_row; c += in_row)
      std::memcpy(dst + c * es, x.raw() + off * es, static_cast<size_t>(in_row * es));
  }
}

// The 6-d view of the input and the permutation that yields the output (ONNX reference).
struct BlockMove {
  Shape view, perm, out;
};

BlockMove block_move(const InferCtx& ctx, const Shape& x) {
  const int64_t bs = ctx.node.attr_i("blocksize", 0);
  LOWBIT_NODE_REQUIRE(bs >= 1 && bs <= 4096, ctx, "attribute 'blocksize' is {}, expected 1 to 4096", bs);
  LOWBIT_NODE_REQUIRE(x.size() == 4, ctx, "input must be (N, C, H, W), got {}", shape_str(x));
  const int64_t n = x[0], c = x[1], h = x[2], w = x[3];
  if (ctx.node.op_type == "SpaceToDepth") {
    LOWBIT_NODE_REQUIRE(h % bs == 0 && w % bs == 0, ctx, "H {} and W {} must be multiples of blocksize {}", h, w, bs);
    return {{n, c, h / bs, bs, w / bs, bs}, {0, 3, 5, 1, 2, 4}, {n, c * bs * bs, h / bs, w / bs}};
  }
  const std::string mode = ctx.node.attr_s("mode", "DCR");
  LOWBIT_NODE_REQUIRE(mode == "DCR" || mode == "CRD", ctx, "attribute 'mode' is '{}', expected DCR or CRD", mode);
  LOWBIT_NODE_REQUIRE(c % (bs * bs) == 0, ctx, "C {} must be a multiple of blocksize^2 ({})", c, bs * bs);
  const int64_t oc = c / (bs * bs);
  const Shape out{n, oc, h * bs, w * bs};
  if (mode == "DCR") return {{n, bs, bs, oc, h, w}, {0, 3, 4, 1, 5, 2}, out};
  return {{n, oc, bs, bs, h, w}, {0, 1, 4, 2, 5, 3}, out};
}

void block_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, block_move(ctx, ctx.shape(0)).out);
}

void block_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const BlockMove mv = block_move(infer_ctx_for(ctx), x.shape());
  if (x.numel() == 0) return;
  const Shape st = contiguous_strides(mv.view);
  Shape out6(6);
  std::vector<int64_t> in_st(6);
  for (size_t k = 0; k < 6; ++k) {
    out6[k] = mv.view[static_cast<size_t>(mv.perm[k])];
    in_st[k] = st[static_cast<size_t>(mv.perm[k])];
  }
  strided_copy_bytes(x.raw(), ctx.out[0]->raw(), out6, in_st, elem_size(x.type()));
}

void reverse_sequence_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  const int64_t batch_axis = ctx.node.attr_i("batch_axis", 1), time_axis = ctx.node.attr_i("time_axis", 0);
  LOWBIT_NODE_REQUIRE((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0), ctx,
                      "batch_axis and time_axis must be 0 and 1 in some order, got {} and {}", batch_axis, time_axis);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() >= 2, ctx, "input must have rank >= 2, got {}", shape_str(x));
  if (ctx.shape_known(1))
    LOWBIT_NODE_REQUIRE(ctx.shape(1) == Shape{x[static_cast<size_t>(batch_axis)]}, ctx,
                        "sequence_lens must have shape [{}] (the batch), got {}", x[static_cast<size_t>(batch_axis)],
                        shape_str(ctx.shape(1)));
  ctx.set_out(0, ctx.in[0].elem, x);
}

void reverse_sequence_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const Array& lens = ctx.input(1);
  const bool batch_first = ctx.node.attr_i("batch_axis", 1) == 0;
  const int64_t B = x.shape()[batch_first ? 0 : 1], T = x.shape()[batch_first ? 1 : 0];
  const size_t inner = static_cast<size_t>(x.numel() / std::max<int64_t>(B * T, 1)) * elem_size(x.type());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(ctx.out[0]->raw());
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = lens.get_i64(b);
    LOWBIT_NODE_REQUIRE(len >= 0 && len <= T, infer_ctx_for(ctx), "sequence_lens[{}] = {} is outside [0, {}]", b, len, T);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t from = t < len ? len - 1 - t : t;
      auto at = [&](int64_t step) { return static_cast<size_t>(batch_first ? b * T + step : step * B + b) * inner; };
      std::memcpy(dst + at(t), src + at(from), inner);
    }
  }
}

}  // namespace

void add_layout_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Tile", 6, {}, tile_infer, tile_run});
  ops.push_back(OpDef{"", "DepthToSpace", 1, {"blocksize", "mode"}, block_infer, block_run});
  ops.push_back(OpDef{"", "SpaceToDepth", 1, {"blocksize"}, block_infer, block_run});
  ops.push_back(OpDef{"", "ReverseSequence", 10, {"batch_axis", "time_axis"}, reverse_sequence_infer, reverse_sequence_run});
}

}  // namespace lowbit::onnx
