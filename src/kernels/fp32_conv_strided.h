// Internal: stride-2 (any stride) 1×1 convolutions as a gather of the sampled pixels into a
// packed (N·OH·OW, C) panel plus one GEMM over it (a MatmulPlan behind ConvPlan). Only data
// movement here; the arithmetic is MatmulPlan's. Reference: ref::conv2d_forward (fp32_conv_plan_test.cc).
#pragma once

#include "lowbit/kernels/fp32_conv_plan.h"

namespace lowbit::kernels::detail {

// Dense (groups 1) rank-2 1×1 convs with a stride above 1 in either direction and no padding,
// x and y channels-last, fp32: y (N·OH·OW, K) = gather(x) (N·OH·OW, C) · w (K, C)^T.
bool strided_1x1_applies(const ConvGeom& s, ConvLayout x_layout, ConvLayout y_layout, PlanMath math);

// The measured rule (docs/BENCHMARKS.md, "Stride-2 1×1 convs as gather + GEMM"): whether this
// form beats oneDNN's convolution; LOWBIT_CONV=gemm takes it wherever it applies.
bool strided_1x1_preferred(const ConvGeom& s);

// xs (N·OH·OW, C) = x (N, H, W, C) at rows oh·stride_h and columns ow·stride_w; splits the
// output rows over lowbit::parallel_for.
void gather_strided_pixels(const ConvGeom& s, const float* x, float* xs);

}  // namespace lowbit::kernels::detail
