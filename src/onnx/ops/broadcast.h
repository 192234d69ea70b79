// The ONNX engine's view of kernels/broadcast.h: Array adapters for the broadcasting loops.
#pragma once

#include <array>

#include "lowbit/kernels/broadcast.h"
#include "ops/op.h"

namespace lowbit::onnx {

using kernels::BroadcastPlan;
using kernels::for_each_row;
using kernels::make_plan;

// out[i] = f(a[i], b[i]) with broadcasting; out already has the broadcast shape. For rules that
// are not kernels' own (the gradient rules of vjp_pointwise.cc); the ops call kernels::binary.
template <typename TA, typename TB, typename TO, typename F>
void binary_broadcast(const Array& a, const Array& b, Array& out, F f) {
  kernels::binary_broadcast<TA, TB, TO>(a.data<TA>(), a.shape(), b.data<TB>(), b.shape(), out.data<TO>(), out.shape(), f);
}

// Copies `in` broadcast to out's shape (Expand, and the first operand of variadic ops).
void broadcast_copy(const Array& in, Array& out);

}  // namespace lowbit::onnx
