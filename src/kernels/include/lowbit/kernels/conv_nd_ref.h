// Plain-loop N-d convolutions and pools (any spatial rank, groups, dilation, asymmetric pads; ConvGeom):
// the specification the 2-d fast path is tested against (tests/kernels/conv_nd_test.cc) and the
// ONNX engine's implementation for what the fast path does not cover (3-d, ConvTranspose,
// ConvInteger / QLinearConv). Accumulation in double (float) or int32 (integer, exact).
#pragma once

#include <cstdint>

#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels::ref {

// N, C, M = g.K and group = g.groups come from the geometry.
// y (N, M, out...) = conv(x (N, C, in...), w (M, C/group, kernel...)) + bias (M, may be null).
void conv_nd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y);

// ConvTranspose: x (N, C, in...), w (C, M/group, kernel...), y (N, M, out...); each input
// element scatters through the kernel to out = in * stride + k * dilation - pad_begin.
void conv_transpose_nd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y);

// ONNX ConvInteger: y = sum (x - x_zp) * (w - w_zp) in int32 over the same windows; padding
// contributes zero *after* the zero-point subtraction. uint8 or int8 x and w.
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const uint8_t* w, int32_t w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const uint8_t* w, int32_t w_zp, int32_t* y);
// The same with a weight zero point per output channel (w_zp holds g.K values).
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const int8_t* w, const int32_t* w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const uint8_t* w, const int32_t* w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const int8_t* w, const int32_t* w_zp, int32_t* y);
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const uint8_t* w, const int32_t* w_zp, int32_t* y);

// ONNX MaxPool / AveragePool over any rank (ref/pool_nd_ref.cc): x (g.N·g.C planes of g.in),
// y (planes of g.out, ceil_mode already in g.out). Max: the largest in-window value (the
// type's lowest for integers, -inf for floats, when the window lies wholly in the padding);
// indices (may be null) receives plane·in_size + offset of the first maximum. Average: the
// in-window sum (in double) over the count of in-bounds positions, or with include_pad of the
// positions inside input plus pads. Planes split with lowbit::parallel_for.
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const float* x, float* y, int64_t* indices);
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const double* x, double* y, int64_t* indices);
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const uint8_t* x, uint8_t* y, int64_t* indices);
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const int8_t* x, int8_t* y, int64_t* indices);

}  // namespace lowbit::kernels::ref
