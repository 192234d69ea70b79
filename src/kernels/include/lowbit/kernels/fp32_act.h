// Pointwise fp32 activations, one kernel for both engines: the ONNX activation ops, the epilogues
// of fused Conv/Gemm, the RNN gates and (through relu_forward) the training engine's ReLU. The
// branch-free exp/erf below are what the fast path uses; ref::activation_forward (fp32_ref.h),
// evaluated in double with libm, is the specification the tests hold it to.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace lowbit::kernels {

enum class Act {
  none, relu, clip, sigmoid, tanh, hardswish, hardsigmoid, leaky_relu, gelu, gelu_tanh,
  silu,  // x · sigmoid(x) (Swish-1): the Conv → Sigmoid → Mul chains of EfficientNet, fused
  // Evaluated in double per element, rounded once (the ONNX engine's less common activations):
  elu, selu, celu, mish, thresholded_relu, shrink
};

struct Activation {
  Act kind = Act::none;
  // clip: [a, b]; leaky_relu: slope a; hardsigmoid: alpha a, beta b; elu, celu: alpha a;
  // selu: alpha a, gamma b; thresholded_relu: alpha a; shrink: bias a, lambd b
  float a = 0, b = 0;
};

// The double-precision kinds (elu .. shrink) at one element: x in double, libm (expm1, log1p).
inline double act_value_f64_extra(const Activation& act, double x) {
  const double a = act.a, b = act.b;
  switch (act.kind) {
    case Act::elu: return x < 0 ? a * std::expm1(x) : x;
    case Act::selu: return x <= 0 ? b * a * std::expm1(x) : b * x;
    case Act::celu: return std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a));
    // x · tanh(softplus(x)); log1p(exp(x)) written to stay finite for large x.
    case Act::mish: return x * std::tanh(x > 30 ? x : std::log1p(std::exp(x)));
    case Act::thresholded_relu: return x > a ? x : 0.0;
    case Act::shrink: return x < -b ? x + a : (x > b ? x - a : 0.0);
    default: return x;
  }
}

// Branch-free float exp that compilers vectorize (plain arithmetic, no libm call): Cephes' expf
// (range reduction by ln 2, degree-6 polynomial), relative error <= 2 ulp on [-87, 88]; the
// argument is clamped to [-87.3, 88.7], so tiny results stay normal (never 0) and large ones
// become +inf (from x ~ 88.4, where round(x / ln 2) = 128), never NaN.
inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  // n = round(x / ln 2) via the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln 2 split in hi + lo
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = std::bit_cast<int32_t>(shifted);
  // Integer n, biased, into the exponent field.
  return p * std::bit_cast<float>((bits - 0x4B400000 + 127) << 23);
}

// Abramowitz & Stegun 7.1.26: absolute error <= 1.5e-7 for the formula plus ~12 float roundings
// (< 9e-7 in all), a few ulp of 1 + erf(x), the quantity Gelu uses.
inline float fast_erf(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const float y = 1.0f - poly * t * fast_exp(-a * a);
  return std::copysign(y, x);
}

// One element in float with libm: the kinds without a vectorized form in activation_forward.
inline float act_value(const Activation& act, float x) {
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
    case Act::silu: return x / (1.0f + std::exp(-x));
    case Act::elu: case Act::selu: case Act::celu: case Act::mish: case Act::thresholded_relu: case Act::shrink:
      return static_cast<float>(act_value_f64_extra(act, x));
  }
  return x;
}

// y[i] = act(x[i]) over n elements (x may alias y), split over lowbit::parallel_for. Relu is
// relu_forward (fp32.h); sigmoid and silu use fast_exp, gelu fast_erf; the rest act_value.
void activation_forward(const Activation& act, int64_t n, const float* x, float* y);
// The same in double precision with libm throughout (the ONNX engine's f64 tensors).
void activation_forward(const Activation& act, int64_t n, const double* x, double* y);

// RNN gates in place over n pre-activations, first clamped to [-clip, clip] when clip > 0:
// v = sigmoid(v) (fast_exp), v = tanh(v) = 1 - 2 / (e^{2v} + 1) (absolute error a few ulp of 1).
void sigmoid_inplace(int64_t n, float* v, float clip);
void tanh_inplace(int64_t n, float* v, float clip);

}  // namespace lowbit::kernels
