// Pad (Pad-2: pads and value as attributes; opset 11+: pads and constant_value as inputs; modes
// constant, reflect, edge; negative pads crop; opset 18+: optional axes input). Each output axis gets an index map to the input (-1 = constant fill).
#include <algorithm>
#include <cstring>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

std::optional<std::vector<int64_t>> pads_of(const InferCtx& ctx, size_t rank) {
  std::vector<int64_t> pads;
  if (ctx.opset < 11) {
    pads = ctx.node.attr_ints("pads");
  } else {
    if (!ctx.value(1)) return std::nullopt;
    pads = int_list(*ctx.value(1));
  }
  if (ctx.opset >= 18 && ctx.has(3)) {  // Pad-18: pads hold begin/end values for the listed axes only
    if (!ctx.value(3)) return std::nullopt;
    const std::vector<int64_t> axes = int_list(*ctx.value(3));
    LOWBIT_NODE_REQUIRE(pads.size() == 2 * axes.size(), ctx, "pads has {} values for {} axes", pads.size(), axes.size());
    std::vector<int64_t> full(2 * rank, 0);
    std::vector<bool> seen(rank, false);
    for (size_t k = 0; k < axes.size(); ++k) {
      const auto a = static_cast<size_t>(normalize_axis(axes[k], static_cast<int64_t>(rank), ctx));
      LOWBIT_NODE_REQUIRE(!seen[a], ctx, "axes lists axis {} twice", a);
      seen[a] = true;
      full[a] = pads[k];
      full[a + rank] = pads[k + axes.size()];
    }
    pads = std::move(full);
  }
  LOWBIT_NODE_REQUIRE(pads.size() == 2 * rank, ctx, "pads has {} values for rank {}", pads.size(), rank);
  for (int64_t p : pads) LOWBIT_NODE_REQUIRE(p >= -(int64_t{1} << 40) && p <= (int64_t{1} << 32), ctx, "pad {} out of range", p);
  return pads;
}

void pad_infer(InferCtx& ctx) {
  require_type(ctx, 1, {ElemType::i64});
  const std::string mode = ctx.node.attr_s("mode", "constant");
  LOWBIT_NODE_REQUIRE(mode == "constant" || mode == "reflect" || mode == "edge", ctx, "unsupported mode '{}'", mode);
  LOWBIT_NODE_REQUIRE(!ctx.has(3) || ctx.opset >= 18, ctx, "the 'axes' input belongs to Pad-18");
  if (ctx.has(3)) require_type(ctx, 3, {ElemType::i32, ElemType::i64});
  if (ctx.opset < 11) {
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 1, ctx, "Pad-2 takes pads/value as attributes, got {} inputs", ctx.n_in());
    require_type(ctx, 0, {ElemType::f32, ElemType::f64});  // the float 'value' is cast to X's type
  } else {
    LOWBIT_NODE_REQUIRE(!ctx.node.find("pads") && !ctx.node.find("value"), ctx,
                        "pads/value attributes belong to Pad-2; from opset 11 they are inputs");
  }
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& in = ctx.shape(0);
  const auto pads = pads_of(ctx, in.size());
  if (!pads) return ctx.set_out_unknown(0, ctx.in[0].elem);
  Shape out = in;
  for (size_t d = 0; d < in.size(); ++d) {
    out[d] = in[d] + (*pads)[d] + (*pads)[d + in.size()];
    LOWBIT_NODE_REQUIRE(out[d] >= 0, ctx, "pads crop axis {} below zero", d);
    if (mode != "constant" && out[d] > 0)
      LOWBIT_NODE_REQUIRE(in[d] > 0, ctx, "mode '{}' needs a non-empty axis {}", mode, d);
  }
  ctx.set_out(0, ctx.in[0].elem, out);
}

bool all_zero(const std::vector<int64_t>& pads) {
  return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
}

// A Pad whose pads are all zero (PyTorch exports one before DenseNet's AveragePools) copies its
// input in any layout, so it may sit in a channels-last chain.
uint64_t pad_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4) return 0;
  const auto pads = pads_of(ctx, 4);
  return pads && all_zero(*pads) ? 1 | kTiedLayout : 0;
}

void pad_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const std::string mode = ctx.node.attr_s("mode", "constant");
  const size_t rank = x.shape().size();
  if (rank == 0) return (void)std::memcpy(y.raw(), x.raw(), x.nbytes());
  const std::vector<int64_t> pads = *pads_of(infer_ctx_for(ctx), rank);
  if (all_zero(pads)) return (void)std::memcpy(y.raw(), x.raw(), x.nbytes());
  std::vector<std::vector<int64_t>> maps(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = x.shape()[d];
    for (int64_t o = 0; o < y.shape()[d]; ++o) {
      int64_t i = o - pads[d];
      if (i < 0 || i >= n) {
        if (mode == "constant") i = -1;
        else if (mode == "edge") i = std::clamp<int64_t>(i, 0, n - 1);
        else if (n == 1) i = 0;
        else {  // reflect without repeating the edge: period 2(n-1)
          const int64_t period = 2 * (n - 1);
          i = ((i % period) + period) % period;
          if (i >= n) i = period - i;
        }
      }
      maps[d].push_back(i);
    }
  }
  const size_t es = elem_size(x.type());
  std::vector<std::byte> fill(es, std::byte{0});
  if (ctx.has(2) && ctx.input(2).numel() > 0) std::memcpy(fill.data(), ctx.input(2).raw(), es);
  if (ctx.opset < 11) {
    const double v = ctx.node.attr_f("value", 0.0);
    if (x.type() == ElemType::f32) {
      const auto f = static_cast<float>(v);
      std::memcpy(fill.data(), &f, es);
    } else {
      std::memcpy(fill.data(), &v, es);
    }
  }
  const Shape in_st = contiguous_strides(x.shape());
  const int64_t total = y.numel();
  if (total == 0) return;
  const int64_t inner = rank ? y.shape()[rank - 1] : 1;
  bool last_identity = rank && x.shape()[rank - 1] == inner;  // no padding on the last axis
  for (int64_t o = 0; last_identity && o < inner; ++o) last_identity = maps[rank - 1][static_cast<size_t>(o)] == o;
  parallel_for(total / inner, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t off = 0, rem = r;
      bool outside = false;
      for (size_t d = rank - 1; d-- > 0;) {
        const int64_t i = maps[d][static_cast<size_t>(rem % y.shape()[d])];
        rem /= y.shape()[d];
        if (i < 0) outside = true;
        else off += i * in_st[d];
      }
      std::byte* dst = y.raw() + r * inner * static_cast<int64_t>(es);
      if (es == 1) {  // uint8/int8 codes of quantized models
        const auto* maps_last = maps[rank - 1].data();
        if (outside) std::memset(dst, static_cast<int>(fill[0]), static_cast<size_t>(inner));
        else if (last_identity) std::memcpy(dst, x.raw() + off, static_cast<size_t>(inner));
        else
          for (int64_t o = 0; o < inner; ++o) dst[o] = maps_last[o] < 0 ? fill[0] : x.raw()[off + maps_last[o]];
        continue;
      }
      for (int64_t o = 0; o < inner; ++o) {
        const int64_t i = rank ? maps[rank - 1][static_cast<size_t>(o)] : 0;
        const std::byte* src = (outside || i < 0) ? fill.data() : x.raw() + (off + i) * static_cast<int64_t>(es);
        std::memcpy(dst + o * static_cast<int64_t>(es), src, es);
      }
    }
  });
}

}  // namespace

void add_pad_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Pad", 2, {"mode", "pads", "value"}, pad_infer, pad_run});
  ops.back().channels_last = pad_channels_last;
}

}  // namespace lowbit::onnx
