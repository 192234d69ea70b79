// Plain-loop references of the ONNX engine's backward kernels (fp32.h, "Backward kernels"):
// one element or row at a time, every sum in double. The specification the fast paths in
// fp32_grad.cc are tested against, and (in double) the oracle of the finite-difference tests.
#include <cmath>

#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels::ref {

template <typename T>
void activation_backward(ActGrad kind, int64_t n, const T* x, const T* y, const T* dy, Scalar<T> a, Scalar<T> b, T* dx) {
  constexpr double kSqrt2OverPi = 0.7978845608028654, kInvSqrt2 = 0.7071067811865476;
  constexpr double kInvSqrt2Pi = 0.3989422804014327, k2OverSqrtPi = 1.1283791670955126;
  for (int64_t i = 0; i < n; ++i) {
    const double xv = x ? static_cast<double>(x[i]) : 0.0, yv = y ? static_cast<double>(y[i]) : 0.0;
    double d = 0;
    switch (kind) {
      case ActGrad::relu: d = xv > 0 ? 1 : 0; break;
      case ActGrad::leaky_relu: d = xv > 0 ? 1 : static_cast<double>(a); break;
      case ActGrad::clip: d = (xv > a && xv < b) ? 1 : 0; break;
      case ActGrad::hard_sigmoid: {
        const double t = a * xv + b;
        d = (t > 0 && t < 1) ? static_cast<double>(a) : 0;
        break;
      }
      case ActGrad::hard_swish: d = xv >= 3 ? 1 : (xv > -3 ? xv / 3 + 0.5 : 0); break;
      case ActGrad::sigmoid: d = yv * (1 - yv); break;
      case ActGrad::tanh: d = 1 - yv * yv; break;
      case ActGrad::gelu_erf: d = 0.5 * (1 + std::erf(xv * kInvSqrt2)) + xv * kInvSqrt2Pi * std::exp(-0.5 * xv * xv); break;
      case ActGrad::gelu_tanh: {
        const double t = std::tanh(kSqrt2OverPi * (xv + 0.044715 * xv * xv * xv));
        d = 0.5 * (1 + t) + 0.5 * xv * (1 - t * t) * kSqrt2OverPi * (1 + 3 * 0.044715 * xv * xv);
        break;
      }
      case ActGrad::erf: d = k2OverSqrtPi * std::exp(-xv * xv); break;
      case ActGrad::sqrt: d = 0.5 / yv; break;
      case ActGrad::pow: d = a * std::pow(xv, static_cast<double>(a) - 1); break;
    }
    dx[i] = static_cast<T>(static_cast<double>(dy[i]) * d);
  }
}

template <typename T>
void softmax_backward_axis(int64_t outer, int64_t C, int64_t inner, const T* y, const T* dy, bool log_form, T* dx) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t base = o * C * inner + j;
      double s = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = base + c * inner;
        s += log_form ? static_cast<double>(dy[i]) : static_cast<double>(dy[i]) * static_cast<double>(y[i]);
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = base + c * inner;
        const double yv = y[i], g = dy[i];
        dx[i] = static_cast<T>(log_form ? g - std::exp(yv) * s : yv * (g - s));
      }
    }
}

template <typename T>
void layernorm_backward(int64_t rows, int64_t D, const T* x, const T* gamma, Scalar<T> eps, const T* dy, T* dx,
                        NoDeduce<T*> dgamma, NoDeduce<T*> dbeta) {
  for (int64_t d = 0; d < D; ++d) {
    if (dgamma) dgamma[d] = 0;
    if (dbeta) dbeta[d] = 0;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    const T* gr = dy + r * D;
    double mean = 0, var = 0;
    for (int64_t d = 0; d < D; ++d) mean += xr[d];
    mean /= static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) var += (xr[d] - mean) * (xr[d] - mean);
    const double invstd = 1 / std::sqrt(var / static_cast<double>(D) + eps);
    // With g = dy*gamma and xhat = (x-mean)*invstd: dx = invstd * (g - mean(g) - xhat*mean(g*xhat)).
    double sg = 0, sgx = 0;
    for (int64_t d = 0; d < D; ++d) {
      const double xh = (xr[d] - mean) * invstd, g = static_cast<double>(gr[d]) * gamma[d];
      sg += g;
      sgx += g * xh;
      if (dgamma) dgamma[d] = static_cast<T>(dgamma[d] + gr[d] * xh);
      if (dbeta) dbeta[d] = static_cast<T>(dbeta[d] + gr[d]);
    }
    sg /= static_cast<double>(D);
    sgx /= static_cast<double>(D);
    if (dx)
      for (int64_t d = 0; d < D; ++d) {
        const double xh = (xr[d] - mean) * invstd, g = static_cast<double>(gr[d]) * gamma[d];
        dx[r * D + d] = static_cast<T>(invstd * (g - sg - xh * sgx));
      }
  }
}

template <typename T>
void batchnorm_infer_backward(int64_t N, int64_t C, int64_t HW, const T* x, const T* dy, const T* gamma, const T* mean,
                              const T* var, Scalar<T> eps, T* dx, NoDeduce<T*> dgamma, NoDeduce<T*> dbeta,
                              NoDeduce<T*> dmean, NoDeduce<T*> dvar) {
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1 / std::sqrt(static_cast<double>(var[c]) + eps);
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t k = (n * C + c) * HW + i;
        sg += dy[k];
        sgx += static_cast<double>(dy[k]) * (x[k] - mean[c]);
        if (dx) dx[k] = static_cast<T>(dy[k] * gamma[c] * invstd);
      }
    if (dgamma) dgamma[c] = static_cast<T>(sgx * invstd);
    if (dbeta) dbeta[c] = static_cast<T>(sg);
    if (dmean) dmean[c] = static_cast<T>(-sg * gamma[c] * invstd);
    if (dvar) dvar[c] = static_cast<T>(-0.5 * sgx * gamma[c] * invstd * invstd * invstd);
  }
}

template decltype(activation_backward<float>) activation_backward<float>;
template decltype(activation_backward<double>) activation_backward<double>;
template decltype(softmax_backward_axis<float>) softmax_backward_axis<float>;
template decltype(softmax_backward_axis<double>) softmax_backward_axis<double>;
template decltype(layernorm_backward<float>) layernorm_backward<float>;
template decltype(layernorm_backward<double>) layernorm_backward<double>;
template decltype(batchnorm_infer_backward<float>) batchnorm_infer_backward<float>;
template decltype(batchnorm_infer_backward<double>) batchnorm_infer_backward<double>;

}  // namespace lowbit::kernels::ref
