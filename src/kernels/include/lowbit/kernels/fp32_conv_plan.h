// Inference convolution with the weights packed once: a ConvPlan holds, for one fixed geometry,
// the oneDNN primitive and the weights already reordered into its layout, plus fused post-ops
// (residual sum, ReLU/Clip). Training keeps conv2d_forward (fp32.h): its weights change per step.
#pragma once

#include <memory>

#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {

// Memory layout of the activations x and y at the plan's interface. nchw is the layout of
// fp32.h; nhwc (channels last) is what oneDNN's kernels read without a reorder, so consecutive
// planned convs that agree on nhwc exchange activations with no conversion at all.
enum class ConvLayout { nchw, nhwc };

// What happens to conv(x, w) + bias before it is stored, in this order.
struct ConvEpilogue {
  bool sum = false;  // add the value y holds on entry (a residual), same layout and shape as y
  // hardswish: x · min(max(x + 3, 0), 6) / 6; silu: x · sigmoid(x). oneDNN (as post-ops) and the
  // direct kernels apply every kind in their store; the fallback applies hardswish and silu with
  // activation_forward (fp32_act.h) after the convolution.
  enum class Act { none, relu, clip, hardswish, silu } act = Act::none;
  float lo = 0, hi = 0;  // clip bounds (either may be infinite)
};

// Which implementation new plans use. automatic: the measured per-geometry rule (the AVX-512
// direct kernel, fp32_conv_direct.h, for the small-channel and depthwise shapes where it beats
// oneDNN; oneDNN otherwise). onednn / direct force one for A/B runs (direct only where the
// geometry and CPU allow it: dense or depthwise, dilation 1, AVX-512F). The environment variable
// LOWBIT_CONV=auto|onednn|direct sets it; set_conv_plan_path overrides the environment.
enum class ConvPlanPath { automatic, onednn, direct };
void set_conv_plan_path(ConvPlanPath path);
void reset_conv_plan_path();  // drops the override: LOWBIT_CONV decides again
// The current setting; throws ValueError naming LOWBIT_CONV if the variable holds another value.
ConvPlanPath conv_plan_path();

class ConvPlan {
 public:
  // w is (K, C/groups, R, S) and bias (K) or null; both are copied (packed) here, so the caller
  // may free them afterwards. Never throws for a valid shape (only for an invalid LOWBIT_CONV):
  // if neither the direct kernel nor oneDNN takes the shape, or oneDNN cannot build a
  // primitive, run() falls back to conv2d_forward plus plain-loop epilogue and layout changes.
  // math = bf16: x and w are rounded to bfloat16 (bf16.h), the sums and y stay fp32; the
  // fallback rounds copies and runs the fp32 kernel, which is the reference of that arithmetic.
  ConvPlan(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& epilogue = {},
           ConvLayout x_layout = ConvLayout::nchw, ConvLayout y_layout = ConvLayout::nchw, PlanMath math = PlanMath::f32);
  ~ConvPlan();
  ConvPlan(ConvPlan&&) noexcept;
  ConvPlan& operator=(ConvPlan&&) noexcept;

  // y = epilogue(conv(x) + bias). x and y must not overlap. Uses lowbit::num_threads(); the
  // primitive is rebuilt (weights repacked) when that changes between calls. Not to be called
  // concurrently on one plan.
  void run(const float* x, float* y);

  const ConvGeom& shape() const;
  // Whether a oneDNN primitive backs the plan.
  bool uses_onednn() const;
  // Whether the direct kernel backs the plan (neither: the fallback path).
  bool uses_direct() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::kernels
