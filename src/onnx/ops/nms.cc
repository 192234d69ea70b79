// NonMaxSuppression (opset 10/11): per batch and class, boxes above score_threshold in order of
// decreasing score (ties: lower index first), each kept unless its IoU with a box already kept
// exceeds iou_threshold, at most max_output_boxes_per_class. Output (num_selected, 3) int64 rows
// (batch, class, box). Its size depends on the values, so shape inference runs the selection
// when the inputs are known and run() runs it again to write the rows.
#include <algorithm>
#include <array>
#include <numeric>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

using Selection = std::vector<std::array<int64_t, 3>>;

// Corners (y1, x1, y2, x2) in either diagonal order, or (x_center, y_center, w, h).
std::array<double, 4> corners(const Array& boxes, int64_t at, bool center) {
  double v[4];
  for (int k = 0; k < 4; ++k) v[k] = boxes.get_f64(at + k);
  if (center) return {v[1] - v[3] / 2, v[0] - v[2] / 2, v[1] + v[3] / 2, v[0] + v[2] / 2};
  return {std::min(v[0], v[2]), std::min(v[1], v[3]), std::max(v[0], v[2]), std::max(v[1], v[3])};
}

double iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
  if (area_a <= 0 || area_b <= 0) return 0;
  const double h = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double w = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double inter = h * w;
  return inter / (area_a + area_b - inter);
}

Selection select_boxes(const InferCtx& ctx, const Array& boxes, const Array& scores, const Array* max_out,
                       const Array* iou_thr, const Array* score_thr) {
  LOWBIT_NODE_REQUIRE(boxes.dim() == 3 && boxes.shape()[2] == 4, ctx,
                      "boxes must be (num_batches, spatial_dimension, 4), got {}", shape_str(boxes.shape()));
  LOWBIT_NODE_REQUIRE(scores.dim() == 3 && scores.shape()[0] == boxes.shape()[0] && scores.shape()[2] == boxes.shape()[1],
                      ctx, "scores must be (num_batches, num_classes, spatial_dimension) = ({}, C, {}), got {}",
                      boxes.shape()[0], boxes.shape()[1], shape_str(scores.shape()));
  for (const Array* a : {max_out, iou_thr, score_thr})
    LOWBIT_NODE_REQUIRE(!a || a->numel() == 1, ctx, "the scalar inputs must hold one value, got shape {}",
                        shape_str(a ? a->shape() : Shape{}));
  const int64_t limit = max_out ? max_out->get_i64(0) : 0;
  const double iou_max = iou_thr ? iou_thr->get_f64(0) : 0.0;
  LOWBIT_NODE_REQUIRE(iou_max >= 0 && iou_max <= 1, ctx, "iou_threshold must be in [0, 1], got {}", iou_max);
  const bool has_score_min = score_thr != nullptr;
  const double score_min = has_score_min ? score_thr->get_f64(0) : 0.0;
  const bool center = ctx.node.attr_i("center_point_box", 0) != 0;
  const int64_t B = boxes.shape()[0], N = boxes.shape()[1], C = scores.shape()[1];
  Selection out;
  if (limit <= 0) return out;
  std::vector<int64_t> order(static_cast<size_t>(N));
  std::vector<std::array<double, 4>> kept_boxes;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t base = (b * C + c) * N;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t i, int64_t j) { return scores.get_f64(base + i) > scores.get_f64(base + j); });
      kept_boxes.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept_boxes.size()) >= limit) break;
        if (has_score_min && !(scores.get_f64(base + i) > score_min)) break;  // sorted: the rest are lower
        const auto box = corners(boxes, (b * N + i) * 4, center);
        if (std::any_of(kept_boxes.begin(), kept_boxes.end(), [&](const auto& k) { return iou(k, box) > iou_max; }))
          continue;
        kept_boxes.push_back(box);
        out.push_back({b, c, i});
      }
    }
  return out;
}

const Array* optional_value(const InferCtx& ctx, size_t i) { return ctx.has(i) ? ctx.value(i) : nullptr; }

void nms_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32});
  require_type(ctx, 1, {ElemType::f32});
  if (ctx.has(2)) require_type(ctx, 2, {ElemType::i64});
  if (ctx.has(3)) require_type(ctx, 3, {ElemType::f32});
  if (ctx.has(4)) require_type(ctx, 4, {ElemType::f32});
  const bool known = ctx.value(0) && ctx.value(1) && (!ctx.has(2) || ctx.value(2)) && (!ctx.has(3) || ctx.value(3)) &&
                     (!ctx.has(4) || ctx.value(4));
  if (!known) return ctx.set_out_unknown(0, ElemType::i64);
  const Selection s = select_boxes(ctx, *ctx.value(0), *ctx.value(1), optional_value(ctx, 2), optional_value(ctx, 3),
                                   optional_value(ctx, 4));
  ctx.set_out(0, ElemType::i64, {static_cast<int64_t>(s.size()), 3});
}

void nms_run(RunCtx& ctx) {
  const InferCtx ic = infer_ctx_for(ctx);
  const Selection s = select_boxes(ic, ctx.input(0), ctx.input(1), ctx.has(2) ? &ctx.input(2) : nullptr,
                                   ctx.has(3) ? &ctx.input(3) : nullptr, ctx.has(4) ? &ctx.input(4) : nullptr);
  int64_t* y = ctx.out[0]->data<int64_t>();
  for (size_t r = 0; r < s.size(); ++r)
    for (size_t k = 0; k < 3; ++k) y[r * 3 + k] = s[r][k];
}

}  // namespace

void add_nms_ops(OpList& ops) {
  ops.push_back(OpDef{"", "NonMaxSuppression", 10, {"center_point_box"}, nms_infer, nms_run});
}

}  // namespace lowbit::onnx
