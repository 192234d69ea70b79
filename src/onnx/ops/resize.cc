// Resize (opsets 10-18: nearest / linear / cubic, every coordinate transformation mode; 18's
// keep_aspect_ratio_policy, not antialias) and
// Upsample (7, 9). Separable per axis: each output coordinate gets its source taps (index
// clamped to the edge, weight) from the ONNX reference's rules, and an output element is the
// sum over the taps of every axis. Upsample and Resize-10 are asymmetric, nearest by floor
// (upsampling) or ceil (downsampling), like ONNX Runtime.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct Taps {
  std::vector<std::vector<std::pair<int64_t, double>>> at;  // per output coordinate: (input index, weight)
  std::vector<bool> outside;                              // tf_crop_and_resize: extrapolate
};

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

// The ONNX reference's weights for a fractional position `r` in [0, 1] (r = 1 at integers).
std::vector<double> coeffs(const std::string& mode, const std::string& nearest, double r, double a) {
  if (mode == "linear") return {1 - r, r};
  if (mode == "cubic") {
    const double s = 1 - r;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * s - (a + 3)) * s * s + 1, ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
  }
  if (r == 1) return {0, 1};
  if (nearest == "round_prefer_floor") return {r <= 0.5 ? 1.0 : 0.0, r > 0.5 ? 1.0 : 0.0};
  if (nearest == "round_prefer_ceil") return {r < 0.5 ? 1.0 : 0.0, r >= 0.5 ? 1.0 : 0.0};
  if (nearest == "floor") return {1, 0};
  return {0, 1};
}

Taps axis_taps(const InferCtx& ctx, int64_t in, int64_t out, double scale, double roi_start, double roi_end) {
  std::string mode = ctx.node.attr_s("mode", "nearest");
  if (mode == "bilinear") mode = "linear";
  const bool old = legacy(ctx);
  const std::string ctm = old ? "asymmetric" : ctx.node.attr_s("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = old ? (scale >= 1 ? "floor" : "ceil") : ctx.node.attr_s("nearest_mode", "round_prefer_floor");
  const double a = ctx.node.attr_f("cubic_coeff_a", -0.75);
  const bool exclude = ctx.node.attr_i("exclude_outside", 0) != 0;
  Taps t;
  t.at.resize(static_cast<size_t>(out));
  t.outside.assign(static_cast<size_t>(out), false);
  // The reference measures the output axis as in * scale, not truncated (downsampling with
  // align_corners depends on it); with sizes given that is the size itself.
  const double len = static_cast<double>(in) * scale;
  for (int64_t o = 0; o < out; ++o) {
    const auto x = static_cast<double>(o);
    double src = x / scale;
    if (ctm == "half_pixel") src = (x + 0.5) / scale - 0.5;
    else if (ctm == "pytorch_half_pixel") src = len > 1 ? (x + 0.5) / scale - 0.5 : 0;
    else if (ctm == "align_corners") src = len == 1 ? 0 : x * static_cast<double>(in - 1) / (len - 1);
    else if (ctm == "tf_half_pixel_for_nn") src = (x + 0.5) / scale;
    else if (ctm == "tf_crop_and_resize") {
      const auto span = static_cast<double>(in - 1);
      src = len > 1 ? roi_start * span + x * (roi_end - roi_start) * span / (len - 1)
                    : 0.5 * (roi_start + roi_end) * span;
      if (src < 0 || src > span) {
        t.outside[static_cast<size_t>(o)] = true;
        continue;
      }
    }
    double base = std::floor(src), r = src - base;
    if (r == 0) base -= 1, r = 1;  // the reference's tie rule: an exact hit is the right tap
    const std::vector<double> w = coeffs(mode, nearest, r, a);
    const int64_t first = static_cast<int64_t>(base) - (static_cast<int64_t>(w.size()) / 2 - 1);
    double sum = 0;
    auto& taps = t.at[static_cast<size_t>(o)];
    for (size_t k = 0; k < w.size(); ++k) {
      const int64_t i = first + static_cast<int64_t>(k);
      if (exclude && (i < 0 || i >= in)) continue;
      sum += w[k];
      if (w[k] != 0) taps.push_back({std::clamp<int64_t>(i, 0, in - 1), w[k]});
    }
    if (exclude && sum != 0)
      for (auto& [i, wk] : taps) wk /= sum;
  }
  return t;
}

// Rows of the last output axis are split over threads; each keeps its own output position.
template <typename T>
void resize_typed(const Array& x, Array& y, const std::vector<Taps>& taps, double extrapolation) {
  const Shape st = contiguous_strides(x.shape());
  const size_t rank = x.shape().size();
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const int64_t row = y.shape()[rank - 1];
  parallel_for(y.numel() / row, std::max<int64_t>(1, 4096 / row), [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> pos(rank, 0);
    // Sum over the taps of axes d.. for the output position `pos`, input offset `off` so far.
    auto value = [&](auto&& self, size_t d, int64_t off) -> double {
      if (d == rank) return static_cast<double>(px[off]);
      const auto o = static_cast<size_t>(pos[d]);
      if (taps[d].outside[o]) return extrapolation;
      double acc = 0;
      for (const auto& [i, w] : taps[d].at[o]) acc += w * self(self, d + 1, off + i * st[d]);
      return acc;
    };
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r;
      for (size_t d = rank - 1; d-- > 0;) pos[d] = rem % y.shape()[d], rem /= y.shape()[d];
      for (int64_t c = 0; c < row; ++c) {
        pos[rank - 1] = c;
        const double v = value(value, 0, 0);
        if constexpr (std::is_integral_v<T>)
          py[r * row + c] = static_cast<T>(std::clamp(std::nearbyint(v), double(std::numeric_limits<T>::lowest()),
                                                      double(std::numeric_limits<T>::max())));
        else py[r * row + c] = static_cast<T>(v);
      }
    }
  });
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
  std::vector<Taps> taps;
  for (size_t d = 0; d < rank; ++d)
    taps.push_back(axis_taps(ic, x.shape()[d], sp.out[d], sp.scale[d], crop ? roi[d] : 0, crop ? roi[d + rank] : 1));
  const double extrapolation = ctx.node.attr_f("extrapolation_value", 0.0);
  dispatch_numeric(x.type(), "Resize", [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, uint8_t> ||
                  std::is_same_v<T, int8_t>)
      resize_typed<T>(x, y, taps, extrapolation);
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
