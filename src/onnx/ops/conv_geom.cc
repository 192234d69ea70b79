// Resolution of pads/strides/dilations/auto_pad into concrete per-axis geometry.
#include "ops/conv_geom.h"

namespace lowbit::onnx {
namespace {

std::vector<int64_t> per_axis(const InferCtx& ctx, const char* key, int64_t rank, int64_t dflt) {
  std::vector<int64_t> v = ctx.node.attr_ints(key, std::vector<int64_t>(static_cast<size_t>(rank), dflt));
  LOWBIT_NODE_REQUIRE(static_cast<int64_t>(v.size()) == rank, ctx, "'{}' has {} values for {} spatial axes", key,
                      v.size(), rank);
  for (int64_t x : v) LOWBIT_NODE_REQUIRE(x >= 1 && x <= (int64_t{1} << 20), ctx, "'{}' value {} out of range", key, x);
  return v;
}

void read_pads(const InferCtx& ctx, SpatialGeom& g) {
  const auto r = static_cast<size_t>(g.rank);
  const std::vector<int64_t> pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  LOWBIT_NODE_REQUIRE(pads.size() == 2 * r, ctx, "'pads' has {} values, expected {}", pads.size(), 2 * r);
  for (int64_t p : pads) LOWBIT_NODE_REQUIRE(p >= 0 && p <= (int64_t{1} << 20), ctx, "pad {} out of range", p);
  for (size_t i = 0; i < r; ++i) g.pad_begin[i] = pads[i], g.pad_end[i] = pads[r + i];
}

// The first rank values of v into axes a.
void set_axes(SpatialGeom::Axes& a, const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) a[i] = v[i];
}

// x is (N, C, spatial...) with 1 <= spatial rank <= kMaxRank, matched by the kernel's rank.
void set_input(const InferCtx& ctx, SpatialGeom& g, const Shape& x, const Shape& kernel) {
  LOWBIT_NODE_REQUIRE(x.size() >= 3, ctx, "input must be (N, C, spatial...), got {}", shape_str(x));
  g.rank = static_cast<int64_t>(x.size()) - 2;
  LOWBIT_NODE_REQUIRE(g.rank <= SpatialGeom::kMaxRank, ctx, "{} spatial axes; at most {} are supported", g.rank,
                      SpatialGeom::kMaxRank);
  LOWBIT_NODE_REQUIRE(static_cast<int64_t>(kernel.size()) == g.rank, ctx, "kernel rank {} != spatial rank {}",
                      kernel.size(), g.rank);
  g.N = x[0], g.C = x[1];
  set_axes(g.in, Shape(x.begin() + 2, x.end()));
  set_axes(g.kernel, kernel);
  set_axes(g.stride, per_axis(ctx, "strides", g.rank, 1));
  set_axes(g.dilation, per_axis(ctx, "dilations", g.rank, 1));
}

}  // namespace

InferCtx infer_ctx_for(const RunCtx& run) {
  InferCtx ctx{run.node, run.opset, {}, {}, {}};
  for (const Array* a : run.in) {
    ctx.in.push_back(a ? ValueType{a->type(), a->shape(), true} : ValueType{});
    ctx.values.push_back(a);
  }
  return ctx;
}

SpatialGeom resolve_geom(const InferCtx& ctx, const Shape& x, const Shape& kernel, bool ceil_mode) {
  SpatialGeom g;
  set_input(ctx, g, x, kernel);
  g.K = g.C;  // a pool's; convolutions set their output channels
  const std::string auto_pad = ctx.node.attr_s("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    read_pads(ctx, g);
  } else {
    LOWBIT_NODE_REQUIRE(auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" || auto_pad == "VALID", ctx,
                        "unsupported auto_pad '{}'", auto_pad);
  }
  for (size_t i = 0; i < static_cast<size_t>(g.rank); ++i) {
    LOWBIT_NODE_REQUIRE(g.kernel[i] >= 1, ctx, "kernel size {} must be positive", g.kernel[i]);
    const int64_t span = g.dilation[i] * (g.kernel[i] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (g.in[i] + g.stride[i] - 1) / g.stride[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.stride[i] + span - g.in[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    }
    const int64_t padded = g.in[i] + g.pad_begin[i] + g.pad_end[i];
    LOWBIT_NODE_REQUIRE(padded >= span, ctx, "kernel span {} exceeds padded input {} on axis {}", span, padded, i);
    int64_t out = ceil_mode ? (padded - span + g.stride[i] - 1) / g.stride[i] + 1 : (padded - span) / g.stride[i] + 1;
    // With ceil_mode the last window must start inside the input or left padding.
    if (ceil_mode && (out - 1) * g.stride[i] >= g.in[i] + g.pad_begin[i]) --out;
    g.out[i] = out;
  }
  return g;
}

SpatialGeom resolve_transpose_geom(const InferCtx& ctx, const Shape& x, const Shape& kernel) {
  SpatialGeom g;
  set_input(ctx, g, x, kernel);
  const auto r = static_cast<size_t>(g.rank);
  std::vector<int64_t> out_pad = ctx.node.attr_ints("output_padding", std::vector<int64_t>(r, 0));
  LOWBIT_NODE_REQUIRE(out_pad.size() == r, ctx, "'output_padding' needs {} values", r);
  const std::vector<int64_t> out_shape = ctx.node.attr_ints("output_shape");
  const std::string auto_pad = ctx.node.attr_s("auto_pad", "NOTSET");
  LOWBIT_NODE_REQUIRE(auto_pad == "NOTSET" || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" || auto_pad == "VALID",
                      ctx, "unsupported auto_pad '{}'", auto_pad);
  read_pads(ctx, g);
  for (size_t i = 0; i < r; ++i) {
    const int64_t full = g.stride[i] * (g.in[i] - 1) + out_pad[i] + (g.kernel[i] - 1) * g.dilation[i] + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t target = g.in[i] * g.stride[i];
      if (!out_shape.empty()) {
        LOWBIT_NODE_REQUIRE(out_shape.size() == r || out_shape.size() == r + 2, ctx, "bad 'output_shape'");
        target = out_shape[out_shape.size() - r + i];
      }
      const int64_t total = full - target;
      LOWBIT_NODE_REQUIRE(target >= 1 && target <= full + (int64_t{1} << 20), ctx, "output_shape {} out of range", target);
      // A negative total extends the end (zeros beyond the last input's reach).
      g.pad_begin[i] = total < 0 ? 0 : (auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2);
      g.pad_end[i] = total - g.pad_begin[i];
    }
    g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    LOWBIT_NODE_REQUIRE(g.out[i] >= 1, ctx, "output size {} on axis {} is not positive", g.out[i], i);
  }
  return g;
}

}  // namespace lowbit::onnx
