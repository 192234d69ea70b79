// GridSample (opset 16, 2-d): Y[n, c, h, w] = X[n, c] sampled at grid[n, h, w] = (x, y) in
// [-1, 1] — bilinear, nearest (ties to even) or bicubic (A = -0.75), with zeros, border or
// reflection padding and either corner convention, as PyTorch's grid_sample (which the ONNX
// reference follows): bilinear and nearest move the coordinate into range first, bicubic pads
// each of its 16 taps.
#include <algorithm>
#include <cmath>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

enum class Mode { bilinear, nearest, bicubic };
enum class Padding { zeros, border, reflection };

struct Sampler {
  Mode mode;
  Padding padding;
  bool align;
  int64_t H, W;

  double unnormalize(double c, int64_t size) const {
    return align ? (c + 1) / 2 * static_cast<double>(size - 1) : ((c + 1) * static_cast<double>(size) - 1) / 2;
  }
  // Reflect x into [low, high] given as twice their values (so half-pixel borders stay exact).
  static double reflect(double x, double twice_low, double twice_high) {
    if (twice_low == twice_high) return 0;
    const double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
    x = std::fabs(x - lo);
    const double extra = std::fmod(x, span);
    const auto flips = static_cast<int64_t>(std::floor(x / span));
    return flips % 2 == 0 ? extra + lo : span - extra + lo;
  }
  double pad_coordinate(double x, int64_t size) const {
    const double hi = static_cast<double>(size - 1);
    if (padding == Padding::border) return std::clamp(x, 0.0, hi);
    if (padding == Padding::reflection) {
      x = align ? reflect(x, 0, 2 * hi) : reflect(x, -1, 2 * static_cast<double>(size) - 1);
      return std::clamp(x, 0.0, hi);
    }
    return x;
  }
  template <typename T>
  double at(const T* img, int64_t y, int64_t x) const {
    return (y >= 0 && y < H && x >= 0 && x < W) ? static_cast<double>(img[y * W + x]) : 0.0;
  }
  template <typename T>
  double padded_at(const T* img, int64_t y, int64_t x) const {  // bicubic taps
    if (padding != Padding::zeros) {
      x = static_cast<int64_t>(pad_coordinate(static_cast<double>(x), W));
      y = static_cast<int64_t>(pad_coordinate(static_cast<double>(y), H));
    }
    return at(img, y, x);
  }
  static void cubic_weights(double t, double w[4]) {
    constexpr double A = -0.75;
    auto near = [](double d) { return ((A + 2) * d - (A + 3)) * d * d + 1; };        // |d| <= 1
    auto far = [](double d) { return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; };  // 1 < |d| < 2
    w[0] = far(t + 1), w[1] = near(t), w[2] = near(1 - t), w[3] = far(2 - t);
  }
  template <typename T>
  double sample(const T* img, double gx, double gy) const {
    if (!std::isfinite(gx) || !std::isfinite(gy)) return 0;
    // Far-out coordinates are clamped where every padding mode gives what it gives at infinity
    // (zero, the border, a reflection), keeping the integer casts below defined.
    constexpr double kFar = 1e15;
    double x = std::clamp(unnormalize(gx, W), -kFar, kFar), y = std::clamp(unnormalize(gy, H), -kFar, kFar);
    if (mode == Mode::bicubic) {
      const double x0 = std::floor(x), y0 = std::floor(y);
      double wx[4], wy[4];
      cubic_weights(x - x0, wx);
      cubic_weights(y - y0, wy);
      double sum = 0;
      for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 4; ++i)
          sum += wy[j] * wx[i] * padded_at(img, static_cast<int64_t>(y0) - 1 + j, static_cast<int64_t>(x0) - 1 + i);
      return sum;
    }
    x = pad_coordinate(x, W);
    y = pad_coordinate(y, H);
    if (mode == Mode::nearest)
      return at(img, static_cast<int64_t>(std::nearbyint(y)), static_cast<int64_t>(std::nearbyint(x)));
    const double x0 = std::floor(x), y0 = std::floor(y), tx = x - x0, ty = y - y0;
    const auto ix = static_cast<int64_t>(x0), iy = static_cast<int64_t>(y0);
    return (1 - ty) * ((1 - tx) * at(img, iy, ix) + tx * at(img, iy, ix + 1)) +
           ty * ((1 - tx) * at(img, iy + 1, ix) + tx * at(img, iy + 1, ix + 1));
  }
};

Sampler sampler_for(const InferCtx& ctx) {
  const std::string mode = ctx.node.attr_s("mode", "bilinear"), pad = ctx.node.attr_s("padding_mode", "zeros");
  Sampler s{};
  if (mode == "bilinear" || mode == "linear") s.mode = Mode::bilinear;
  else if (mode == "nearest") s.mode = Mode::nearest;
  else if (mode == "bicubic" || mode == "cubic") s.mode = Mode::bicubic;
  else node_fail(ctx.node, ctx.opset, "mode must be bilinear, nearest or bicubic, got '{}'", mode);
  if (pad == "zeros") s.padding = Padding::zeros;
  else if (pad == "border") s.padding = Padding::border;
  else if (pad == "reflection") s.padding = Padding::reflection;
  else node_fail(ctx.node, ctx.opset, "padding_mode must be zeros, border or reflection, got '{}'", pad);
  s.align = ctx.node.attr_i("align_corners", 0) != 0;
  return s;
}

void grid_sample_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.in[1].elem == ctx.in[0].elem, ctx, "grid must have X's type {}, got {}",
                      elem_name(ctx.in[0].elem), elem_name(ctx.in[1].elem));
  sampler_for(ctx);
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &x = ctx.shape(0), &g = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(x.size() == 4, ctx, "X must be (N, C, H, W), got {}", shape_str(x));
  LOWBIT_NODE_REQUIRE(g.size() == 4 && g[0] == x[0] && g[3] == 2, ctx, "grid must be (N={}, H_out, W_out, 2), got {}",
                      x[0], shape_str(g));
  ctx.set_out(0, ctx.in[0].elem, {x[0], x[1], g[1], g[2]});
}

template <typename T>
void grid_sample_typed(const Sampler& s, const Array& x, const Array& grid, Array& y) {
  const int64_t N = x.shape()[0], C = x.shape()[1], Ho = grid.shape()[1], Wo = grid.shape()[2];
  const T* px = x.data<T>();
  const T* pg = grid.data<T>();
  T* py = y.data<T>();
  parallel_for(N * C, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / C;
      const T* img = px + r * s.H * s.W;
      for (int64_t p = 0; p < Ho * Wo; ++p) {
        const T* g = pg + (n * Ho * Wo + p) * 2;
        py[r * Ho * Wo + p] = static_cast<T>(s.sample(img, static_cast<double>(g[0]), static_cast<double>(g[1])));
      }
    }
  });
}

void grid_sample_run(RunCtx& ctx) {
  Sampler s = sampler_for(infer_ctx_for(ctx));
  const Array &x = ctx.input(0), &grid = ctx.input(1);
  s.H = x.shape()[2];
  s.W = x.shape()[3];
  if (x.type() == ElemType::f32) grid_sample_typed<float>(s, x, grid, *ctx.out[0]);
  else grid_sample_typed<double>(s, x, grid, *ctx.out[0]);
}

}  // namespace

void add_grid_sample_ops(OpList& ops) {
  ops.push_back(OpDef{"", "GridSample", 16, {"align_corners", "mode", "padding_mode"}, grid_sample_infer, grid_sample_run});
}

}  // namespace lowbit::onnx
