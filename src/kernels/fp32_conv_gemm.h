// Internal: the convolutions that are exactly one GEMM, run on a MatmulPlan behind ConvPlan:
// which geometries take which form, the measured rules for when that beats oneDNN's
// convolution, and the weight matrices. Reference: ref::conv2d_forward (fp32_conv_plan_test.cc).
#pragma once

#include "lowbit/kernels/fp32_conv_plan.h"
#include "lowbit/kernels/fp32_matmul_plan.h"

namespace lowbit::kernels::detail {

// The two ways a dense (groups 1) channels-last conv is one GEMM with the conv's epilogue:
//  pixels: 1×1, stride 1, unpadded: y (N·H·W, K) = x (N·H·W, C) · w (K, C)^T.
//  images: every output pixel's window covers the whole input plane (a 3×3 pad-1 conv on a
//          2×2 plane, any padded conv on a 1×1 plane): y (N, OH·OW·K) = x (N, H·W·C) · U^T
//          with U (OH·OW·K, H·W·C) the conv unrolled: block (p, q) is w[:, :, tap(p, q)].
enum class ConvGemm { none, pixels, images };

constexpr int64_t kMaxUnrolledWeights = int64_t{1} << 22;  // floats of U (16 MiB), the largest measured

// The form the geometry allows: x and y channels-last, fp32, groups 1 (none otherwise); images
// only up to kMaxUnrolledWeights. pixels when both apply (a 1×1 conv on a 1×1 plane).
ConvGemm conv_gemm_form(const ConvGeom& s, ConvLayout x_layout, ConvLayout y_layout, PlanMath math);

// The measured rule (docs/BENCHMARKS.md, "Convolutions as one GEMM"): whether that form beats
// oneDNN's convolution on this geometry.
bool conv_gemm_preferred(const ConvGeom& s, ConvGemm form);

// The plan of that form (form != none); without a oneDNN primitive (uses_onednn() false) the
// caller keeps the convolution instead.
MatmulPlan conv_gemm_plan(const ConvGeom& s, ConvGemm form, const float* w, const float* bias, const ConvEpilogue& ep);

}  // namespace lowbit::kernels::detail
