// Fast backward kernels of the ONNX engine's vector-Jacobian products (fp32.h, "Backward
// kernels"): float math per element, row statistics in double, split with parallel_for over
// independent elements / rows / channels, each sum in a fixed order (thread-count invariant).
#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {

void activation_backward(ActGrad kind, int64_t n, const float* x, const float* y, const float* dy, float a, float b,
                         float* dx) {
  constexpr float kSqrt2OverPi = 0.7978845608f, kInvSqrt2 = 0.7071067812f;
  constexpr float kInvSqrt2Pi = 0.3989422804f, k2OverSqrtPi = 1.1283791671f;
  parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float xv = x ? x[i] : 0.f, yv = y ? y[i] : 0.f;
      float d = 0;
      switch (kind) {
        case ActGrad::relu: d = xv > 0 ? 1.f : 0.f; break;
        case ActGrad::leaky_relu: d = xv > 0 ? 1.f : a; break;
        case ActGrad::clip: d = (xv > a && xv < b) ? 1.f : 0.f; break;
        case ActGrad::hard_sigmoid: {
          const float t = a * xv + b;
          d = (t > 0 && t < 1) ? a : 0.f;
          break;
        }
        case ActGrad::hard_swish: d = xv >= 3 ? 1.f : (xv > -3 ? xv / 3 + 0.5f : 0.f); break;
        case ActGrad::sigmoid: d = yv * (1 - yv); break;
        case ActGrad::tanh: d = 1 - yv * yv; break;
        case ActGrad::gelu_erf: d = 0.5f * (1 + std::erf(xv * kInvSqrt2)) + xv * kInvSqrt2Pi * std::exp(-0.5f * xv * xv); break;
        case ActGrad::gelu_tanh: {
          const float t = std::tanh(kSqrt2OverPi * (xv + 0.044715f * xv * xv * xv));
          d = 0.5f * (1 + t) + 0.5f * xv * (1 - t * t) * kSqrt2OverPi * (1 + 3 * 0.044715f * xv * xv);
          break;
        }
        case ActGrad::erf: d = k2OverSqrtPi * std::exp(-xv * xv); break;
        case ActGrad::sqrt: d = 0.5f / yv; break;
        case ActGrad::pow: d = a * std::pow(xv, a - 1); break;
      }
      dx[i] = dy[i] * d;
    }
  });
}

void softmax_backward_axis(int64_t outer, int64_t C, int64_t inner, const float* y, const float* dy, bool log_form,
                           float* dx) {
  parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t base = (r / inner) * C * inner + r % inner;
      double s = 0;
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = base + c * inner;
        s += log_form ? dy[i] : static_cast<double>(dy[i]) * y[i];
      }
      const float sf = static_cast<float>(s);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = base + c * inner;
        dx[i] = log_form ? dy[i] - std::exp(y[i]) * sf : y[i] * (dy[i] - sf);
      }
    }
  });
}

void layernorm_backward(int64_t rows, int64_t D, const float* x, const float* gamma, float eps, const float* dy,
                        float* dx, float* dgamma, float* dbeta) {
  auto stats = [&](int64_t r, double& mean, double& invstd) {
    const float* xr = x + r * D;
    double s = 0, v = 0;
    for (int64_t d = 0; d < D; ++d) s += xr[d];
    mean = s / static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) v += (xr[d] - mean) * (xr[d] - mean);
    invstd = 1 / std::sqrt(v / static_cast<double>(D) + eps);
  };
  if (dx)
    parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        double mean, invstd;
        stats(r, mean, invstd);
        const float* xr = x + r * D;
        const float* gr = dy + r * D;
        double sg = 0, sgx = 0;
        for (int64_t d = 0; d < D; ++d) {
          const double g = static_cast<double>(gr[d]) * gamma[d];
          sg += g;
          sgx += g * (xr[d] - mean) * invstd;
        }
        const float m1 = static_cast<float>(sg / static_cast<double>(D)), m2 = static_cast<float>(sgx / static_cast<double>(D));
        const float is = static_cast<float>(invstd), mu = static_cast<float>(mean);
        for (int64_t d = 0; d < D; ++d) dx[r * D + d] = is * (gr[d] * gamma[d] - m1 - (xr[d] - mu) * is * m2);
      }
    });
  if (!dgamma && !dbeta) return;
  std::vector<double> mean(static_cast<size_t>(rows)), invstd(static_cast<size_t>(rows));
  parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) stats(r, mean[static_cast<size_t>(r)], invstd[static_cast<size_t>(r)]);
  });
  parallel_for(D, 64, [&](int64_t d0, int64_t d1) {
    for (int64_t d = d0; d < d1; ++d) {
      double sg = 0, sgx = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double g = dy[r * D + d];
        sg += g;
        sgx += g * (x[r * D + d] - mean[static_cast<size_t>(r)]) * invstd[static_cast<size_t>(r)];
      }
      if (dgamma) dgamma[d] = static_cast<float>(sgx);
      if (dbeta) dbeta[d] = static_cast<float>(sg);
    }
  });
}

void batchnorm_infer_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* gamma,
                              const float* mean, const float* var, float eps, float* dx, float* dgamma, float* dbeta,
                              float* dmean, float* dvar) {
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double invstd = 1 / std::sqrt(static_cast<double>(var[c]) + eps);
      const float scale = static_cast<float>(gamma[c] * invstd), mu = mean[c];
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + (n * C + c) * HW;
        const float* gr = dy + (n * C + c) * HW;
        float s1 = 0, s2 = 0;
        for (int64_t i = 0; i < HW; ++i) {
          s1 += gr[i];
          s2 += gr[i] * (xr[i] - mu);
        }
        sg += s1;
        sgx += s2;
        if (dx)
          for (int64_t i = 0; i < HW; ++i) dx[(n * C + c) * HW + i] = gr[i] * scale;
      }
      if (dgamma) dgamma[c] = static_cast<float>(sgx * invstd);
      if (dbeta) dbeta[c] = static_cast<float>(sg);
      if (dmean) dmean[c] = static_cast<float>(-sg * gamma[c] * invstd);
      if (dvar) dvar[c] = static_cast<float>(-0.5 * sgx * gamma[c] * invstd * invstd * invstd);
    }
  });
}

}  // namespace lowbit::kernels
