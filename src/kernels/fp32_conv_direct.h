// Internal: the hand-written direct convolution behind ConvPlan (channels-last activations,
// weights packed once into blocks of 16 output channels), its packing, the geometries it takes
// and the measured rule for when it beats oneDNN. Its reference is ref::conv2d_forward.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/kernels/fp32_conv_plan.h"

namespace lowbit::kernels {
namespace detail {

constexpr int64_t kDirectBlock = 16;  // output channels per packed block (one zmm)

// Rank-2, dilation 1, column stride 1 or 2 (any row stride), and either dense (groups 1) or depthwise (groups = C = K).
bool direct_conv_supports(const ConvGeom& s);
inline bool direct_is_depthwise(const ConvGeom& s) { return s.groups > 1; }

// Packed weights. Dense: [K/16 blocks][R][C/16 blocks][S][16 c][16 k]; depthwise: [C/16 blocks][R][S][16];
// output channels past K are zero. Bias padded the same way (zeros when there is none).
std::vector<float> direct_conv_pack_weights(const ConvGeom& s, const float* w);
std::vector<float> direct_conv_pack_bias(const ConvGeom& s, const float* bias);

// The rule from docs/BENCHMARKS.md ("Direct convolution vs oneDNN, per layer"): whether the
// direct kernel is the faster choice for this geometry.
bool direct_conv_preferred(const ConvGeom& s);

// y = epilogue(conv(x) + bias) with x (N, H, W, C) and y (N, OH, OW, K), both channels last;
// w and bias as packed above. Splits batch × output rows over lowbit::parallel_for.
using DirectConvFn = void (*)(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep,
                              const float* x, float* y);
// dispatch.cc: the AVX-512 kernel when the active ISA has it, else null (ConvPlan keeps oneDNN).
DirectConvFn direct_conv_kernel();

}  // namespace detail

namespace avx512 {
void conv_direct_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep, const float* x,
                      float* y);
// The depthwise half (groups = C = K), no slab copy; conv_direct_nhwc forwards depthwise geometries here.
void conv_dw_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep, const float* x,
                  float* y);
}  // namespace avx512

}  // namespace lowbit::kernels
