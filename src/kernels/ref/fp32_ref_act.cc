// Reference activations: the textbook formulas in double with libm, rounded once to T.
#include <algorithm>
#include <cmath>

#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels::ref {
namespace {

double act_f64(const Activation& act, double x) {
  const double a = act.a, b = act.b;
  switch (act.kind) {
    case Act::none: return x;
    case Act::relu: return x > 0 ? x : 0.0;
    case Act::clip: return std::min(std::max(x, a), b);
    case Act::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Act::tanh: return std::tanh(x);
    case Act::hardswish: return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0);
    case Act::hardsigmoid: return std::min(std::max(a * x + b, 0.0), 1.0);
    case Act::leaky_relu: return x >= 0 ? x : a * x;
    case Act::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Act::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case Act::silu: return x / (1.0 + std::exp(-x));
    case Act::elu: return x < 0 ? a * std::expm1(x) : x;
    case Act::selu: return x <= 0 ? b * a * std::expm1(x) : b * x;
    case Act::celu: return std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a));
    case Act::mish: return x * std::tanh(std::log1p(std::exp(x)));  // overflows to inf (then x) past ~709
    case Act::thresholded_relu: return x > a ? x : 0.0;
    case Act::shrink: return x < -b ? x + a : (x > b ? x - a : 0.0);
  }
  return x;
}

double clamp_gate(double x, double clip) { return clip > 0 ? std::clamp(x, -clip, clip) : x; }

}  // namespace

template <typename T>
void activation_forward(const Activation& act, int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(act_f64(act, double(x[i])));
}

template <typename T>
void sigmoid_inplace(int64_t n, T* v, Scalar<T> clip) {
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(1.0 / (1.0 + std::exp(-clamp_gate(v[i], clip))));
}

template <typename T>
void tanh_inplace(int64_t n, T* v, Scalar<T> clip) {
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(std::tanh(clamp_gate(v[i], clip)));
}

template void activation_forward<float>(const Activation&, int64_t, const float*, float*);
template void activation_forward<double>(const Activation&, int64_t, const double*, double*);
template void sigmoid_inplace<float>(int64_t, float*, float);
template void sigmoid_inplace<double>(int64_t, double*, double);
template void tanh_inplace<float>(int64_t, float*, float);
template void tanh_inplace<double>(int64_t, double*, double);

}  // namespace lowbit::kernels::ref
