// Fast batch norm and layer norm. Batch norm training: one channel per task (parallel_for over
// C); each (n, c) row of HW values is reduced in float with 16 fixed lanes (vectorizable,
// combined in a fixed order), and the row results are accumulated in double, so the statistics
// do not depend on the thread count and their error grows with HW rather than with N*HW.
// Inference batch norm and layer norm: whole rows per task, the same on any thread count.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_nhwc.h"

namespace lowbit::kernels {
namespace {

constexpr int kLanes = 16;

// sum_i f(i) over [0, n) with kLanes independent float accumulators.
template <typename F>
inline double lane_sum(int64_t n, F f) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += f(i + l);
  for (int l = 0; i < n; ++i, ++l) acc[l] += f(i);
  double total = 0;
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

}  // namespace

void batchnorm_forward_train(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* y, float* save_mean, float* save_invstd) {
  const int64_t M = N * HW;
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* row = x + (n * C + c) * HW;
        sum += lane_sum(HW, [row](int64_t i) { return row[i]; });
      }
      const double mean = M > 0 ? sum / double(M) : 0.0;
      const float mf = static_cast<float>(mean);
      // Two-pass variance: no cancellation when |mean| >> std.
      double sq = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* row = x + (n * C + c) * HW;
        sq += lane_sum(HW, [row, mf](int64_t i) { return (row[i] - mf) * (row[i] - mf); });
      }
      const double var = M > 0 ? sq / double(M) : 0.0;
      const double invstd = 1.0 / std::sqrt(var + double(eps));
      // y = (x - mean)*a + beta with a = gamma*invstd (centred first: no cancellation).
      const float a = static_cast<float>(double(gamma[c]) * invstd), b = beta[c];
      for (int64_t n = 0; n < N; ++n) {
        const float* row = x + (n * C + c) * HW;
        float* out = y + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) out[i] = (row[i] - mf) * a + b;
      }
      save_mean[c] = mf;
      save_invstd[c] = static_cast<float>(invstd);
      const double unbiased = M > 1 ? sq / double(M - 1) : var;
      const double m = momentum;
      if (running_mean) running_mean[c] = static_cast<float>((1 - m) * running_mean[c] + m * mean);
      if (running_var) running_var[c] = static_cast<float>((1 - m) * running_var[c] + m * unbiased);
    }
  });
}

namespace {

template <typename T>
void batchnorm_forward_infer_impl(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                                  const T* running_mean, const T* running_var, double eps, T* y) {
  parallel_for(N * C, std::max<int64_t>(1, 4096 / std::max<int64_t>(HW, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % C;
      const double invstd = 1.0 / std::sqrt(double(running_var[c]) + eps);
      const T a = static_cast<T>(double(gamma[c]) * invstd), b = beta[c], mf = running_mean[c];
      const T* row = x + r * HW;
      T* out = y + r * HW;
      for (int64_t i = 0; i < HW; ++i) out[i] = (row[i] - mf) * a + b;
    }
  });
}

// Channels-last: P pixels of C channels; the same per-channel a, b and formula as the NCHW rows
// above, so both layouts give the same values. Channels go in blocks of kBlock whose
// coefficients live on the stack (kernels do not allocate), recomputed per task.
template <bool kRelu>
void batchnorm_infer_nhwc_impl(int64_t P, int64_t C, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, double eps, float* y) {
  constexpr int64_t kBlock = 256;
  parallel_for(P, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t p0, int64_t p1) {
    float a[kBlock], b[kBlock], m[kBlock];
    for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
      const int64_t nc = std::min(kBlock, C - c0);
      for (int64_t c = 0; c < nc; ++c) {
        const double invstd = 1.0 / std::sqrt(double(running_var[c0 + c]) + eps);
        a[c] = static_cast<float>(double(gamma[c0 + c]) * invstd);
        b[c] = beta[c0 + c];
        m[c] = running_mean[c0 + c];
      }
      for (int64_t p = p0; p < p1; ++p) {
        const float* __restrict row = x + p * C + c0;
        float* __restrict out = y + p * C + c0;
#pragma omp simd
        for (int64_t c = 0; c < nc; ++c) {
          const float v = (row[c] - m[c]) * a[c] + b[c];
          out[c] = kRelu ? std::max(v, 0.0f) : v;  // relu_forward's rule (NaN and -0 pass through)
        }
      }
    }
  });
}

// One row of D: two passes with double sums (exact enough for any D); the affine map in T.
template <typename T>
void layernorm_row(int64_t D, const T* p, const T* g, const T* b, double eps, T* q, float* mean_out, float* inv_out) {
  double mean = 0, var = 0;
#pragma omp simd reduction(+ : mean)
  for (int64_t i = 0; i < D; ++i) mean += p[i];
  mean /= static_cast<double>(D);
#pragma omp simd reduction(+ : var)
  for (int64_t i = 0; i < D; ++i) var += (p[i] - mean) * (p[i] - mean);
  var /= static_cast<double>(D);
  const double inv = 1.0 / std::sqrt(var + eps);
  if constexpr (std::is_same_v<T, float>) {
    const float m = static_cast<float>(mean), s = static_cast<float>(inv);
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) q[i] = (p[i] - m) * s * g[i] + b[i];
  } else {
    for (int64_t i = 0; i < D; ++i) q[i] = (p[i] - mean) * inv * g[i] + b[i];
  }
  if (mean_out) *mean_out = static_cast<float>(mean);
  if (inv_out) *inv_out = static_cast<float>(inv);
}

template <typename T>
void layernorm_forward_impl(int64_t rows, int64_t D, const T* x, const T* gamma, const T* beta, double eps, T* y,
                            float* mean, float* invstd) {
  if (D == 0 || rows == 0) return;
  parallel_for(rows, 1, [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      layernorm_row(D, x + r * D, gamma, beta, eps, y + r * D, mean ? mean + r : nullptr, invstd ? invstd + r : nullptr);
  });
}

}  // namespace

void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var, float eps,
                             float* y) {
  batchnorm_forward_infer_impl(N, C, HW, x, gamma, beta, running_mean, running_var, double(eps), y);
}
void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const double* x, const double* gamma,
                             const double* beta, const double* running_mean, const double* running_var, double eps,
                             double* y) {
  batchnorm_forward_infer_impl(N, C, HW, x, gamma, beta, running_mean, running_var, eps, y);
}

void batchnorm_forward_infer_nhwc(int64_t P, int64_t C, const float* x, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, float eps, bool relu, float* y) {
  if (relu) batchnorm_infer_nhwc_impl<true>(P, C, x, gamma, beta, running_mean, running_var, double(eps), y);
  else batchnorm_infer_nhwc_impl<false>(P, C, x, gamma, beta, running_mean, running_var, double(eps), y);
}

void layernorm_forward(int64_t rows, int64_t D, const float* x, const float* gamma, const float* beta, double eps,
                       float* y, float* mean, float* invstd) {
  layernorm_forward_impl(rows, D, x, gamma, beta, eps, y, mean, invstd);
}
void layernorm_forward(int64_t rows, int64_t D, const double* x, const double* gamma, const double* beta,
                       double eps, double* y, float* mean, float* invstd) {
  layernorm_forward_impl(rows, D, x, gamma, beta, eps, y, mean, invstd);
}

// dx = gamma*invstd*(dy - dbeta/M - xhat*dgamma/M), written as dx = k*dy + u*(x-mean) + v.
void batchnorm_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                        float* dbeta) {
  const double M = double(N * HW);
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float mf = save_mean[c];
      const double invstd = save_invstd[c];
      double sdy = 0, sdyxc = 0;  // sum dy, sum dy*(x-mean)
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + (n * C + c) * HW;
        const float* gr = dy + (n * C + c) * HW;
        sdy += lane_sum(HW, [gr](int64_t i) { return gr[i]; });
        sdyxc += lane_sum(HW, [xr, gr, mf](int64_t i) { return gr[i] * (xr[i] - mf); });
      }
      const double sdyx = sdyxc * invstd;  // = dgamma
      const double k = double(gamma[c]) * invstd;
      const float kf = static_cast<float>(k);
      const float u = static_cast<float>(-k * invstd * sdyx / M);
      const float v = static_cast<float>(-k * sdy / M);
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + (n * C + c) * HW;
        const float* gr = dy + (n * C + c) * HW;
        float* out = dx + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) out[i] = kf * gr[i] + u * (xr[i] - mf) + v;
      }
      dgamma[c] = static_cast<float>(sdyx);
      dbeta[c] = static_cast<float>(sdy);
    }
  });
}

}  // namespace lowbit::kernels
