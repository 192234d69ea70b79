// Internal: the convolution paths behind conv2d_* (fp32_conv.cc dispatches between them).
// Same contracts as fp32.h; each must match the reference within the derived tolerance.
#pragma once

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_tuning.h"

namespace lowbit::kernels::detail {

// oneDNN primitives; blocked = let oneDNN choose its layouts and reorder around them.
void dnnl_conv_forward(const Conv2dShape& s, bool blocked, const float* x, const float* w,
                       const float* bias, float* y);
void dnnl_conv_backward_data(const Conv2dShape& s, bool blocked, const float* dy, const float* w, float* dx);
void dnnl_conv_backward_weight(const Conv2dShape& s, bool blocked, const float* x, const float* dy,
                               float* dw, float* dbias);

// im2col + sgemm, parallel over images; backward weight sums fixed batch chunks in a fixed order.
void im2col_conv_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y);
void im2col_conv_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void im2col_conv_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                                 float* dbias);

}  // namespace lowbit::kernels::detail
