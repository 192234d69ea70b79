// Spatial geometry shared by Conv, ConvTranspose, the pools and the integer convs: kernel,
// strides, dilations and begin/end pads per spatial axis, resolved from attributes (auto_pad
// included) and the input shape. Input is (N, C, D1..Dr).
#pragma once

#include "ops/op.h"

namespace lowbit::onnx {

struct SpatialGeom {
  int64_t rank = 0;                      // number of spatial axes r
  Shape in, kernel, stride, dilation, pad_begin, pad_end, out;
  bool symmetric() const { return pad_begin == pad_end; }
};

// Resolves Conv/pool geometry. kernel_spatial is the kernel's spatial shape (from the weight
// for convs, from kernel_shape for pools). ceil_mode rounds output sizes up (pools only).
SpatialGeom resolve_geom(const InferCtx& ctx, const Shape& x_shape, const Shape& kernel_spatial, bool ceil_mode);

// Same for ConvTranspose (output_padding / output_shape attributes).
SpatialGeom resolve_transpose_geom(const InferCtx& ctx, const Shape& x_shape, const Shape& kernel_spatial);

}  // namespace lowbit::onnx
