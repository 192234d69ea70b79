// The fused epilogue of the inference plans: what ConvPlan (fp32_conv_plan.h) and MatmulPlan
// (fp32_matmul_plan.h) do to the product plus bias before it is stored. One type for both, so a
// 1×1 convolution planned as a GEMM keeps its residual sum and activation unchanged.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// What happens to conv(x, w) + bias (or x W^T + bias) before it is stored, in this order.
struct ConvEpilogue {
  bool sum = false;  // add the value y holds on entry (a residual), same layout and shape as y
  // hardswish: x · min(max(x + 3, 0), 6) / 6; silu: x · sigmoid(x). oneDNN (as post-ops) and the
  // direct kernels apply every kind in their store; the plain fallbacks call apply_epilogue_act.
  enum class Act { none, relu, clip, hardswish, silu } act = Act::none;
  float lo = 0, hi = 0;  // clip bounds (either may be infinite)
};

// The activation part of `ep` in place on y[0, n), for the plain-loop fallbacks (the sum is the
// caller's): ReLU and Clip as max/min, hardswish and silu with activation_forward (fp32_act.h).
void apply_epilogue_act(const ConvEpilogue& ep, int64_t n, float* y);

}  // namespace lowbit::kernels
