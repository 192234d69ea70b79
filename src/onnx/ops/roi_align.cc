// RoiAlign (opset 10/16): for each region (x1, y1, x2, y2) of image batch_indices[r], an
// output_height × output_width grid of bins, each the average (or max) of sampling_ratio² (or
// ceil(roi/bins)²) bilinear samples of X, as in Mask R-CNN and ONNX Runtime: "half_pixel" shifts
// coordinates by half a pixel (opset 16's default), "output_half_pixel" does not and keeps
// regions at least one pixel wide. Max mode takes, per sample, the largest weighted corner.
#include <algorithm>
#include <cmath>

#include "lowbit/core/threads.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct RoiParams {
  int64_t out_h = 1, out_w = 1, sampling = 0;
  double scale = 1;
  bool half_pixel = true, max_mode = false;
};

RoiParams roi_params(const InferCtx& ctx) {
  RoiParams p;
  p.out_h = ctx.node.attr_i("output_height", 1);
  p.out_w = ctx.node.attr_i("output_width", 1);
  p.sampling = ctx.node.attr_i("sampling_ratio", 0);
  p.scale = ctx.node.attr_f("spatial_scale", 1.0);
  const std::string ctm = ctx.node.attr_s("coordinate_transformation_mode", ctx.opset >= 16 ? "half_pixel" : "output_half_pixel");
  const std::string mode = ctx.node.attr_s("mode", "avg");
  LOWBIT_NODE_REQUIRE(p.out_h >= 1 && p.out_w >= 1 && p.out_h <= 4096 && p.out_w <= 4096, ctx,
                      "output_height and output_width must be in [1, 4096], got {} and {}", p.out_h, p.out_w);
  LOWBIT_NODE_REQUIRE(p.sampling >= 0 && p.sampling <= 64, ctx, "sampling_ratio must be in [0, 64], got {}", p.sampling);
  LOWBIT_NODE_REQUIRE(std::isfinite(p.scale) && p.scale > 0, ctx, "spatial_scale must be positive, got {}", p.scale);
  LOWBIT_NODE_REQUIRE(ctm == "half_pixel" || ctm == "output_half_pixel", ctx,
                      "coordinate_transformation_mode must be half_pixel or output_half_pixel, got '{}'", ctm);
  LOWBIT_NODE_REQUIRE(mode == "avg" || mode == "max", ctx, "mode must be avg or max, got '{}'", mode);
  p.half_pixel = ctm == "half_pixel";
  p.max_mode = mode == "max";
  return p;
}

void roi_align_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  LOWBIT_NODE_REQUIRE(ctx.in[1].elem == ctx.in[0].elem, ctx, "rois must have X's type");
  require_type(ctx, 2, {ElemType::i64});
  const RoiParams p = roi_params(ctx);
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape &x = ctx.shape(0), &r = ctx.shape(1);
  LOWBIT_NODE_REQUIRE(x.size() == 4, ctx, "X must be (N, C, H, W), got {}", shape_str(x));
  LOWBIT_NODE_REQUIRE(r.size() == 2 && r[1] == 4, ctx, "rois must be (num_rois, 4), got {}", shape_str(r));
  if (ctx.shape_known(2))
    LOWBIT_NODE_REQUIRE(ctx.shape(2) == Shape{r[0]}, ctx, "batch_indices must have shape [{}], got {}", r[0],
                        shape_str(ctx.shape(2)));
  ctx.set_out(0, ctx.in[0].elem, {r[0], x[1], p.out_h, p.out_w});
}

// The four corners and weights of a bilinear sample at (y, x); false when it falls outside
// [-1, H] × [-1, W] (it then contributes zero but still counts).
bool bilinear_taps(double y, double x, int64_t H, int64_t W, int64_t idx[4], double w[4]) {
  if (!(y >= -1.0 && y <= static_cast<double>(H) && x >= -1.0 && x <= static_cast<double>(W))) return false;  // NaN too
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto lo_hi = [](double& v, int64_t n, int64_t& lo, int64_t& hi) {
    lo = static_cast<int64_t>(v);
    if (lo >= n - 1) lo = hi = n - 1, v = static_cast<double>(lo);
    else hi = lo + 1;
  };
  int64_t y0, y1, x0, x1;
  lo_hi(y, H, y0, y1);
  lo_hi(x, W, x0, x1);
  const double ly = y - static_cast<double>(y0), lx = x - static_cast<double>(x0), hy = 1 - ly, hx = 1 - lx;
  idx[0] = y0 * W + x0, idx[1] = y0 * W + x1, idx[2] = y1 * W + x0, idx[3] = y1 * W + x1;
  w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
  return true;
}

template <typename T>
void roi_align_typed(const RoiParams& p, const Array& x, const Array& rois, const Array& batch, Array& y,
                     const InferCtx& ctx) {
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3], R = rois.shape()[0];
  for (int64_t r = 0; r < R; ++r) {
    const int64_t b = batch.get_i64(r);
    LOWBIT_NODE_REQUIRE(b >= 0 && b < N, ctx, "batch_indices[{}] = {} is outside [0, {})", r, b, N);
  }
  const T* px = x.data<T>();
  const T* pr = rois.data<T>();
  T* py = y.data<T>();
  const double off = p.half_pixel ? 0.5 : 0.0;
  parallel_for(R * C, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r = t / C, c = t % C;
      const T* img = px + (batch.get_i64(r) * C + c) * H * W;
      const double x1 = static_cast<double>(pr[r * 4]) * p.scale - off, y1 = static_cast<double>(pr[r * 4 + 1]) * p.scale - off;
      double rw = static_cast<double>(pr[r * 4 + 2]) * p.scale - off - x1;
      double rh = static_cast<double>(pr[r * 4 + 3]) * p.scale - off - y1;
      if (!p.half_pixel) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
      const double bin_h = rh / static_cast<double>(p.out_h), bin_w = rw / static_cast<double>(p.out_w);
      // ceil of a non-finite or huge size is capped: a corrupt roi must not request 2^60 samples.
      auto grid = [&](double extent, int64_t bins) {
        const double g = std::ceil(extent / static_cast<double>(bins));
        return p.sampling > 0 ? p.sampling : std::isfinite(g) ? std::clamp<int64_t>(static_cast<int64_t>(std::min(g, 64.0)), 1, 64) : 1;
      };
      const int64_t gh = grid(rh, p.out_h), gw = grid(rw, p.out_w);
      const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
      for (int64_t ph = 0; ph < p.out_h; ++ph)
        for (int64_t pw = 0; pw < p.out_w; ++pw) {
          double acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; ++iy) {
            const double sy = y1 + static_cast<double>(ph) * bin_h + (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(gh);
            for (int64_t ix = 0; ix < gw; ++ix) {
              const double sx = x1 + static_cast<double>(pw) * bin_w + (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(gw);
              int64_t idx[4];
              double w[4];
              double v = 0;
              if (bilinear_taps(sy, sx, H, W, idx, w)) {
                if (p.max_mode) {
                  v = w[0] * static_cast<double>(img[idx[0]]);
                  for (int k = 1; k < 4; ++k) v = std::max(v, w[k] * static_cast<double>(img[idx[k]]));
                } else {
                  for (int k = 0; k < 4; ++k) v += w[k] * static_cast<double>(img[idx[k]]);
                }
              }
              if (p.max_mode) acc = first ? v : std::max(acc, v);
              else acc += v;
              first = false;
            }
          }
          py[(t * p.out_h + ph) * p.out_w + pw] = static_cast<T>(p.max_mode ? acc : acc / count);
        }
    }
  });
}

void roi_align_run(RunCtx& ctx) {
  const InferCtx ic = infer_ctx_for(ctx);
  const RoiParams p = roi_params(ic);
  if (ctx.input(0).type() == ElemType::f32) roi_align_typed<float>(p, ctx.input(0), ctx.input(1), ctx.input(2), *ctx.out[0], ic);
  else roi_align_typed<double>(p, ctx.input(0), ctx.input(1), ctx.input(2), *ctx.out[0], ic);
}

}  // namespace

void add_roi_align_ops(OpList& ops) {
  ops.push_back(OpDef{"", "RoiAlign", 10,
                      {"coordinate_transformation_mode", "mode", "output_height", "output_width", "sampling_ratio", "spatial_scale"},
                      roi_align_infer, roi_align_run});
}

}  // namespace lowbit::onnx
