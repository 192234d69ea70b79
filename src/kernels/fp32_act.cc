// Fast pointwise activations (fp32_act.h): element ranges split with parallel_for, the loops of
// relu/clip/sigmoid/gelu written so that GCC vectorizes them (fast_exp/fast_erf, no libm calls).
// Every element is independent, so results do not depend on the thread count.
#include "lowbit/kernels/fp32_act.h"

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_epilogue.h"

namespace lowbit::kernels {
namespace {

constexpr int64_t kGrain = 8192;  // elements per task

double act_value_f64(const Activation& act, double v) {
  switch (act.kind) {
    case Act::sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Act::tanh: return std::tanh(v);
    case Act::relu: return v > 0 ? v : 0;
    case Act::gelu: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Act::elu: case Act::selu: case Act::celu: case Act::mish: case Act::thresholded_relu: case Act::shrink:
      return act_value_f64_extra(act, v);
    default: return act_value(act, static_cast<float>(v));
  }
}

}  // namespace

void activation_forward(const Activation& act, int64_t n, const float* x, float* y) {
  if (act.kind == Act::none) {
    if (x != y) std::copy(x, x + n, y);
    return;
  }
  if (act.kind == Act::relu) return relu_forward(n, x, y);
  parallel_for(n, kGrain, [&act, x, y](int64_t i0, int64_t i1) {
    if (act.kind == Act::clip) {
      const float lo = act.a, hi = act.b;
      for (int64_t i = i0; i < i1; ++i) y[i] = std::min(std::max(x[i], lo), hi);
    } else if (act.kind == Act::gelu) {
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752f));
    } else if (act.kind == Act::sigmoid) {
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = 1.0f / (1.0f + fast_exp(-x[i]));
    } else if (act.kind == Act::silu) {
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = x[i] / (1.0f + fast_exp(-x[i]));
    } else if (act.kind == Act::hardswish) {  // act_value's formula, vectorized (MobileNetV3)
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = x[i] * std::min(std::max(x[i] / 6.0f + 0.5f, 0.0f), 1.0f);
    } else if (act.kind == Act::hardsigmoid) {
      const float a = act.a, b = act.b;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = std::min(std::max(a * x[i] + b, 0.0f), 1.0f);
    } else {
      for (int64_t i = i0; i < i1; ++i) y[i] = act_value(act, x[i]);
    }
  });
}

// Kept as the ONNX engine evaluated f64 before: sigmoid/tanh/relu/gelu and elu .. shrink in
// double, the rest through the float formula (the ONNX node tests' f64 cases are these).
void activation_forward(const Activation& act, int64_t n, const double* x, double* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = act_value_f64(act, x[i]);
}

void apply_epilogue_act(const ConvEpilogue& ep, int64_t n, float* y) {
  using A = ConvEpilogue::Act;
  if (ep.act == A::relu)
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0 ? y[i] : 0.0f;
  if (ep.act == A::clip)
    for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(y[i], ep.lo), ep.hi);
  if (ep.act == A::hardswish) activation_forward({Act::hardswish}, n, y, y);
  if (ep.act == A::silu) activation_forward({Act::silu}, n, y, y);
}

void sigmoid_inplace(int64_t n, float* v, float clip) {
  for (int64_t j = 0; j < n; ++j) {
    const float x = clip > 0 ? std::clamp(v[j], -clip, clip) : v[j];
    v[j] = 1.0f / (1.0f + fast_exp(-x));
  }
}

void tanh_inplace(int64_t n, float* v, float clip) {
  for (int64_t j = 0; j < n; ++j) {
    const float x = clip > 0 ? std::clamp(v[j], -clip, clip) : v[j];
    v[j] = 1.0f - 2.0f / (fast_exp(2.0f * std::clamp(x, -20.0f, 20.0f)) + 1.0f);
  }
}

}  // namespace lowbit::kernels
