// Inference convolution with the weights packed once: a ConvPlan holds, for one fixed geometry,
// the oneDNN primitive (or the direct kernel, or for convs that are one GEMM a matmul) and the
// weights already reordered into its layout, plus fused post-ops (residual sum, activation).
// Training keeps conv2d_forward (fp32.h): its weights change per step.
#pragma once

#include <memory>

#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_epilogue.h"

namespace lowbit::kernels {

// Memory layout of the activations x and y at the plan's interface. nchw is the layout of
// fp32.h; nhwc (channels last) is what oneDNN's kernels read without a reorder, so consecutive
// planned convs that agree on nhwc exchange activations with no conversion at all.
enum class ConvLayout { nchw, nhwc };

// Which implementation new plans use. automatic: the measured per-geometry rules (the AVX-512
// direct kernel, fp32_conv_direct.h, for the small-channel shapes where it beats oneDNN's conv;
// one oneDNN matmul for the convs that are one GEMM where that is faster, fp32_conv_gemm.h: 1×1
// convs on planes of at most 4×4, and convs whose windows cover the whole input plane, such as
// 3×3 on 2×2, from batch 4; unpadded strided 1×1 convs from 32 input channels as a gather of
// the sampled pixels plus one matmul, fp32_conv_strided.h; oneDNN's convolution otherwise).
// onednn / direct / gemm force one for A/B runs where the geometry allows it (direct: dense or
// depthwise, dilation 1, AVX-512F; gemm: one of those three GEMM forms, channels-last in and
// out, fp32). The environment variable LOWBIT_CONV=auto|onednn|direct|gemm sets it;
// set_conv_plan_path overrides the environment.
enum class ConvPlanPath { automatic, onednn, direct, gemm };
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
  // Whether a oneDNN primitive (convolution, or matmul on the gemm path) backs the plan.
  bool uses_onednn() const;
  // Whether the plan runs the conv as one GEMM (a MatmulPlan, fp32_conv_gemm.h).
  bool uses_gemm() const;
  // Whether the direct kernel backs the plan (neither: the fallback path).
  bool uses_direct() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::kernels
