// Spatial geometry shared by Conv, ConvTranspose, the pools and the integer convs, resolved from
// attributes (auto_pad included) and the input shape. The type is the kernels' one N-d geometry
// (kernels::ConvGeom); input is (N, C, D1..Dr).
#pragma once

#include "lowbit/kernels/conv_geom.h"
#include "ops/op.h"

namespace lowbit::onnx {

using SpatialGeom = kernels::ConvGeom;

// Resolves Conv/pool geometry: N, C and the spatial axes from x, K = C (a convolution sets its
// output channels and groups). kernel_spatial is the kernel's spatial shape (from the weight
// for convs, from kernel_shape for pools). ceil_mode rounds output sizes up (pools only).
SpatialGeom resolve_geom(const InferCtx& ctx, const Shape& x_shape, const Shape& kernel_spatial, bool ceil_mode);

// Same for ConvTranspose (output_padding / output_shape attributes); in/out are the
// transposed convolution's input and output extents.
SpatialGeom resolve_transpose_geom(const InferCtx& ctx, const Shape& x_shape, const Shape& kernel_spatial);

// The output extents out[0..rank) as a Shape.
inline Shape spatial_out(const SpatialGeom& g) { return Shape(g.out.begin(), g.out.begin() + g.rank); }

}  // namespace lowbit::onnx
