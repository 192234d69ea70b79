// Channels-last (NHWC) inference kernels for the ops that sit between channels-last convs in
// DenseNet/GoogLeNet-style graphs: average pooling and batch norm (with an optional fused Relu).
#pragma once

#include <cstdint>

#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels {

// Inference average pooling on channels-last data: x is (N,H,W,C), y is (N,OH,OW,C); the same
// values as avgpool2d_forward (fp32.h: each channel sums its window in the same order, divides
// by the in-bounds count).
void avgpool2d_forward_nhwc(const ConvGeom& s, const float* x, float* y);

// Inference batch norm on channels-last data: x and y are (P, C) with P = N*H*W pixels; the same
// values as the NCHW batchnorm_forward_infer, then max(y, 0) when relu is set (a fused Relu).
void batchnorm_forward_infer_nhwc(int64_t P, int64_t C, const float* x, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, float eps, bool relu, float* y);

}  // namespace lowbit::kernels
