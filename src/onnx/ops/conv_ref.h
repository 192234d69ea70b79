// The ONNX engine's names for the N-d reference loops, which live in src/kernels
// (lowbit/kernels/conv_nd_ref.h: conv_nd, conv_transpose_nd, conv_nd_integer; for_each_pos).
#pragma once

#include "lowbit/kernels/conv_nd_ref.h"
#include "ops/conv_geom.h"

namespace lowbit::onnx {

using kernels::for_each_pos;

}  // namespace lowbit::onnx
