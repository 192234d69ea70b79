// Resize (opsets 10-18: nearest / linear / cubic, every coordinate transformation mode; 18's
// keep_aspect_ratio_policy, not antialias) and Upsample (7, 9): attributes, output sizes and
// validation here; the taps and the interpolation are kernels/resize.h's. Upsample and
// Resize-10 are asymmetric, nearest by floor (upsampling) or ceil (downsampling), like ONNX
// Runtime.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/kernels/resize.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct ResizeSpec {
  Shape out;
  std::vector<double> scale;  // output / input per axis
};

bool legacy(const InferCtx& ctx) { return ctx.node.op_type == "Upsample" || ctx.opset < 11; }

// Scales from the 'scales' attribute (Upsample-7), else an input; sizes (Resize >= 11) win.
std::optional<ResizeSpec> resize_spec(const InferCtx& ctx, const Shape& in) {
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (ctx.node.op_type == "Upsample" && ctx.opset < 9) {
    scales = ctx.node.attr_floats("scales");
  } else {
    const size_t scales_at = legacy(ctx) ? 1 : 2;
    if (ctx.has(scales_at)) {
      if (!ctx.value(scales_at)) return std::nullopt;
      for (int64_t i = 0; i < ctx.value(scales_at)->numel(); ++i) scales.push_back(ctx.value(scales_at)->get_f64(i));
    }
    if (!legacy(ctx) && ctx.has(3)) {
      if (!ctx.value(3)) return std::nullopt;
      sizes = int_list(*ctx.value(3));
    }
  }
  LOWBIT_NODE_REQUIRE(scales.empty() != sizes.empty(), ctx, "exactly one of scales and sizes must be given (got {} and {} values)",
                      scales.size(), sizes.size());
  ResizeSpec sp{in, {}};
  for (size_t d = 0; d < in.size(); ++d) {
    if (!sizes.empty()) {
      LOWBIT_NODE_REQUIRE(sizes.size() == in.size(), ctx, "sizes has {} values for input rank {}", sizes.size(), in.size());
      LOWBIT_NODE_REQUIRE(sizes[d] >= 0 && sizes[d] <= (int64_t{1} << 24), ctx, "size {} out of range", sizes[d]);
      sp.out[d] = sizes[d];
      sp.scale.push_back(in[d] ? static_cast<double>(sizes[d]) / static_cast<double>(in[d]) : 1.0);
    } else {
      LOWBIT_NODE_REQUIRE(scales.size() == in.size(), ctx, "scales has {} values for input rank {}", scales.size(), in.size());
      LOWBIT_NODE_REQUIRE(scales[d] > 0 && scales[d] <= (1 << 16), ctx, "scale {} out of range (0, 65536]", scales[d]);
      sp.out[d] = static_cast<int64_t>(std::floor(static_cast<double>(in[d]) * scales[d]));
      sp.scale.push_back(scales[d]);
    }
  }
  // Resize-18 keep_aspect_ratio_policy (with sizes): one scale for every axis, the smallest
  // (not_larger) or largest (not_smaller) sizes/in ratio; out = round-half-up(scale * in).
  const std::string policy = ctx.node.attr_s("keep_aspect_ratio_policy", "stretch");
  if (!sizes.empty() && policy != "stretch") {
    double s = policy == "not_larger" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    for (size_t d = 0; d < in.size(); ++d) {
      LOWBIT_NODE_REQUIRE(in[d] > 0, ctx, "keep_aspect_ratio_policy '{}' needs non-empty input axes (axis {} is 0)", policy, d);
      s = policy == "not_larger" ? std::min(s, sp.scale[d]) : std::max(s, sp.scale[d]);
    }
    for (size_t d = 0; d < in.size(); ++d) {
      sp.out[d] = static_cast<int64_t>(std::floor(s * static_cast<double>(in[d]) + 0.5));
      sp.scale[d] = s;
    }
  }
  checked_numel(sp.out, "Resize");
  return sp;
}

void resize_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64, ElemType::u8, ElemType::i8});
  std::string mode = ctx.node.attr_s("mode", "nearest");
  if (mode == "bilinear") mode = "linear";  // Upsample-7's spelling
  LOWBIT_NODE_REQUIRE(mode == "nearest" || mode == "linear" || (mode == "cubic" && !legacy(ctx)), ctx,
                      "mode '{}' is not supported (nearest, linear{})", mode, legacy(ctx) ? "" : ", cubic");
  // Resize-18 attributes: only their defaults are implemented.
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("antialias", 0) == 0, ctx, "antialias=1 is not supported (only antialias=0)");
  const std::string policy = ctx.node.attr_s("keep_aspect_ratio_policy", "stretch");
  LOWBIT_NODE_REQUIRE(policy == "stretch" || policy == "not_larger" || policy == "not_smaller", ctx,
                      "keep_aspect_ratio_policy '{}' is not supported (stretch, not_larger, not_smaller)", policy);
  LOWBIT_NODE_REQUIRE(!ctx.node.find("axes"), ctx, "the 'axes' attribute is not supported (scales/sizes must cover every axis)");
  LOWBIT_NODE_REQUIRE(mode == "nearest" || is_float(ctx.in[0].elem), ctx, "mode '{}' needs float input, got {}", mode,
                      elem_name(ctx.in[0].elem));
  if (!legacy(ctx)) {
    const std::string ctm = ctx.node.attr_s("coordinate_transformation_mode", "half_pixel");
    LOWBIT_NODE_REQUIRE(ctm == "half_pixel" || ctm == "pytorch_half_pixel" || ctm == "align_corners" ||
                            ctm == "asymmetric" || ctm == "tf_half_pixel_for_nn" || ctm == "tf_crop_and_resize",
                        ctx, "coordinate_transformation_mode '{}' is not supported", ctm);
    const std::string nm = ctx.node.attr_s("nearest_mode", "round_prefer_floor");
    LOWBIT_NODE_REQUIRE(nm == "round_prefer_floor" || nm == "round_prefer_ceil" || nm == "floor" || nm == "ceil", ctx,
                        "nearest_mode '{}' is not supported", nm);
  }
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const auto sp = resize_spec(ctx, ctx.shape(0));
  if (!sp) return ctx.set_out_unknown(0, ctx.in[0].elem);
  ctx.set_out(0, ctx.in[0].elem, sp->out);
}

// The kernel's description of axis d: mode and coordinate rule from the attributes (validated
// by resize_infer), sizes and scale from the resolved spec.
kernels::ResizeAxisSpec axis_spec(const InferCtx& ctx, int64_t in, int64_t out, double scale, double roi_start,
                                  double roi_end) {
  using kernels::NearestRounding, kernels::ResizeCoords, kernels::ResizeMode;
  kernels::ResizeAxisSpec s;
  s.in = in, s.out = out, s.scale = scale, s.roi_start = roi_start, s.roi_end = roi_end;
  const std::string mode = ctx.node.attr_s("mode", "nearest");
  s.mode = mode == "cubic" ? ResizeMode::cubic : mode == "nearest" ? ResizeMode::nearest : ResizeMode::linear;
  const bool old = legacy(ctx);
  const std::string ctm = old ? "asymmetric" : ctx.node.attr_s("coordinate_transformation_mode", "half_pixel");
  s.coords = ctm == "half_pixel"            ? ResizeCoords::half_pixel
             : ctm == "pytorch_half_pixel"  ? ResizeCoords::pytorch_half_pixel
             : ctm == "align_corners"       ? ResizeCoords::align_corners
             : ctm == "asymmetric"          ? ResizeCoords::asymmetric
             : ctm == "tf_half_pixel_for_nn" ? ResizeCoords::tf_half_pixel_for_nn
                                            : ResizeCoords::tf_crop_and_resize;
  // Upsample and Resize-10 round down when upsampling and up when downsampling (ONNX Runtime).
  const std::string nm = old ? (scale >= 1 ? "floor" : "ceil") : ctx.node.attr_s("nearest_mode", "round_prefer_floor");
  s.nearest = nm == "round_prefer_floor"  ? NearestRounding::round_prefer_floor
              : nm == "round_prefer_ceil" ? NearestRounding::round_prefer_ceil
              : nm == "floor"             ? NearestRounding::floor
                                          : NearestRounding::ceil;
  s.cubic_a = ctx.node.attr_f("cubic_coeff_a", -0.75);
  s.exclude_outside = ctx.node.attr_i("exclude_outside", 0) != 0;
  return s;
}

void resize_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  if (y.numel() == 0) return;
  const InferCtx ic = infer_ctx_for(ctx);
  const ResizeSpec sp = *resize_spec(ic, x.shape());
  const size_t rank = x.shape().size();
  std::vector<double> roi;
  const bool crop = !legacy(ic) && ctx.node.attr_s("coordinate_transformation_mode", "") == "tf_crop_and_resize";
  if (crop) {
    LOWBIT_NODE_REQUIRE(ctx.has(1) && ctx.input(1).numel() == static_cast<int64_t>(2 * rank), ic,
                        "tf_crop_and_resize needs roi with {} values", 2 * rank);
    for (int64_t i = 0; i < ctx.input(1).numel(); ++i) roi.push_back(ctx.input(1).get_f64(i));
  }
  LOWBIT_NODE_REQUIRE(x.numel() > 0, ic, "cannot resize an empty input {} to {}", shape_str(x.shape()), shape_str(sp.out));
  std::vector<kernels::ResizeTaps> taps;
  for (size_t d = 0; d < rank; ++d)
    taps.push_back(kernels::resize_taps(
        axis_spec(ic, x.shape()[d], sp.out[d], sp.scale[d], crop ? roi[d] : 0, crop ? roi[d + rank] : 1)));
  const double extrapolation = ctx.node.attr_f("extrapolation_value", 0.0);
  dispatch_numeric(x.type(), "Resize", [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, uint8_t> ||
                  std::is_same_v<T, int8_t>)
      kernels::resize<T>(x.shape(), y.shape(), taps, extrapolation, x.data<T>(), y.data<T>());
  });
}

}  // namespace

void add_resize_ops(OpList& ops) {
  ops.push_back(OpDef{"", "Resize", 10,
                      {"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                       "extrapolation_value", "antialias", "keep_aspect_ratio_policy", "axes"},
                      resize_infer, resize_run});
  ops.push_back(OpDef{"", "Upsample", 7, {"mode", "scales"}, resize_infer, resize_run});
}

}  // namespace lowbit::onnx
