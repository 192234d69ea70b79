// The ONNX engine's names for the shared activation kernel (lowbit/kernels/fp32_act.h), used by
// the activation ops and by fused Conv/Gemm (the fusion pass stores the activation in the node's
// "lowbit_act*" attributes).
#pragma once

#include <cstdint>

#include "lowbit/kernels/fp32_act.h"

namespace lowbit::onnx {

using kernels::Act;
using kernels::Activation;

// y[i] = act(x[i]) over n elements (x may alias y).
inline void act_apply_n(const Activation& act, int64_t n, const float* x, float* y) {
  kernels::activation_forward(act, n, x, y);
}

}  // namespace lowbit::onnx
