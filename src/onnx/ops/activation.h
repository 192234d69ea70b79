// Pointwise activations on f32 buffers, shared by the activation ops and by fused Conv/Gemm
// (the fusion pass stores the activation in the node's "lowbit_act*" attributes).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace lowbit::onnx {

enum class Act { none, relu, clip, sigmoid, tanh, hardswish, hardsigmoid, leaky_relu, gelu, gelu_tanh };

struct Activation {
  Act kind = Act::none;
  float a = 0, b = 0;  // clip: [a, b]; leaky_relu: slope a; hardsigmoid: alpha a, beta b
};

inline float act_apply(const Activation& act, float x) {
  switch (act.kind) {
    case Act::none: return x;
    case Act::relu: return x > 0 ? x : 0.0f;
    case Act::clip: return std::min(std::max(x, act.a), act.b);
    case Act::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Act::tanh: return std::tanh(x);
    case Act::hardswish: return x * std::min(std::max(x / 6.0f + 0.5f, 0.0f), 1.0f);
    case Act::hardsigmoid: return std::min(std::max(act.a * x + act.b, 0.0f), 1.0f);
    case Act::leaky_relu: return x >= 0 ? x : act.a * x;
    case Act::gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Act::gelu_tanh:
      return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  }
  return x;
}

// y[i] = act(x[i]) over n elements (x may alias y); splits over lowbit::parallel_for.
void act_apply_n(const Activation& act, int64_t n, const float* x, float* y);

}  // namespace lowbit::onnx
