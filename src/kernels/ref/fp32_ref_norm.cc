// Reference batch norm (training forward with running-stat update, inference forward, backward),
// layer norm, ReLU, (log-)softmax along an axis and softmax cross-entropy: the textbook formulas
// in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels::ref {

// Per channel c over M = N*HW values: mean, biased var, invstd = 1/sqrt(var + eps).
template <typename T>
void batchnorm_forward_train(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                             Scalar<T> eps, Scalar<T> momentum, NoDeduce<T*> running_mean, NoDeduce<T*> running_var, T* y,
                             T* save_mean, T* save_invstd) {
  const int64_t M = N * HW;
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) sum += x[(n * C + c) * HW + i];
    const double mean = sum / double(M);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const double d = x[(n * C + c) * HW + i] - mean;
        sq += d * d;
      }
    const double var = sq / double(M);
    const double invstd = 1.0 / std::sqrt(var + double(eps));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        y[j] = static_cast<T>(double(gamma[c]) * (x[j] - mean) * invstd + beta[c]);
      }
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    const double unbiased = M > 1 ? sq / double(M - 1) : var;
    const double m = momentum;
    if (running_mean) running_mean[c] = static_cast<T>((1 - m) * running_mean[c] + m * mean);
    if (running_var) running_var[c] = static_cast<T>((1 - m) * running_var[c] + m * unbiased);
  }
}

template <typename T>
void batchnorm_forward_infer(int64_t N, int64_t C, int64_t HW, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, Scalar<T> eps, T* y) {
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(double(running_var[c]) + double(eps));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        y[j] = static_cast<T>(double(gamma[c]) * (x[j] - double(running_mean[c])) * invstd + beta[c]);
      }
  }
}

// With xhat = (x-mean)*invstd: dbeta = sum dy, dgamma = sum dy*xhat,
// dx = gamma*invstd * (dy - dbeta/M - xhat*dgamma/M).
template <typename T>
void batchnorm_backward(int64_t N, int64_t C, int64_t HW, const T* x, const T* dy, const T* gamma,
                        const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const double M = double(N * HW);
  for (int64_t c = 0; c < C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        sdy += dy[j];
        sdyx += double(dy[j]) * (x[j] - mean) * invstd;
      }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t j = (n * C + c) * HW + i;
        const double xhat = (x[j] - mean) * invstd;
        dx[j] = static_cast<T>(double(gamma[c]) * invstd * (dy[j] - sdy / M - xhat * sdyx / M));
      }
    dgamma[c] = static_cast<T>(sdyx);
    dbeta[c] = static_cast<T>(sdy);
  }
}

template <typename T>
void relu_forward(int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : T(0);
}

template <typename T>
void relu_backward(int64_t n, const T* y, const T* dy, T* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? dy[i] : T(0);
}

namespace {

// log(sum_j exp(x_j)) of one row, shifted by the row maximum so no term overflows.
template <typename T>
double log_sum_exp(int64_t C, const T* x) {
  double mx = x[0];
  for (int64_t j = 1; j < C; ++j) mx = std::max<double>(mx, x[j]);
  double sum = 0;
  for (int64_t j = 0; j < C; ++j) sum += std::exp(double(x[j]) - mx);
  return mx + std::log(sum);
}

}  // namespace

template <typename T>
void log_softmax_forward(int64_t B, int64_t C, const T* x, T* y) {
  for (int64_t b = 0; b < B; ++b) {
    const double lse = log_sum_exp(C, x + b * C);
    for (int64_t j = 0; j < C; ++j) y[b * C + j] = static_cast<T>(x[b * C + j] - lse);
  }
}

template <typename T>
void log_softmax_backward(int64_t B, int64_t C, const T* y, const T* dy, T* dx) {
  for (int64_t b = 0; b < B; ++b) {
    double sum = 0;
    for (int64_t j = 0; j < C; ++j) sum += dy[b * C + j];
    for (int64_t j = 0; j < C; ++j)
      dx[b * C + j] = static_cast<T>(dy[b * C + j] - std::exp(double(y[b * C + j])) * sum);
  }
}

// loss = mean_b (lse(x_b) - x_b[label_b]); probs = exp(x - lse).
template <typename T>
T softmax_cross_entropy_forward(int64_t B, int64_t C, const T* logits, const int32_t* labels, T* probs) {
  double total = 0;
  for (int64_t b = 0; b < B; ++b) {
    const T* x = logits + b * C;
    const double lse = log_sum_exp(C, x);
    for (int64_t j = 0; j < C; ++j) probs[b * C + j] = static_cast<T>(std::exp(double(x[j]) - lse));
    total += lse - double(x[labels[b]]);
  }
  return static_cast<T>(B > 0 ? total / double(B) : 0.0);
}

template <typename T>
void softmax_cross_entropy_backward(int64_t B, int64_t C, const T* probs, const int32_t* labels,
                                    Scalar<T> scale, T* dlogits) {
  const double k = double(scale) / double(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < C; ++j)
      dlogits[b * C + j] = static_cast<T>(k * (double(probs[b * C + j]) - (j == labels[b] ? 1.0 : 0.0)));
}

template <typename T>
void softmax_strided(int64_t outer, int64_t D, int64_t inner, const T* x, T* y, bool log) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      const T* p = x + o * D * inner + in;
      T* q = y + o * D * inner + in;
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < D; ++i) mx = std::max(mx, double(p[i * inner]));
      for (int64_t i = 0; i < D; ++i) sum += std::exp(double(p[i * inner]) - mx);
      for (int64_t i = 0; i < D; ++i) {
        const double d = double(p[i * inner]) - mx;
        q[i * inner] = static_cast<T>(log ? d - std::log(sum) : std::exp(d) / sum);
      }
    }
}

template <typename T>
void layernorm_forward(int64_t rows, int64_t D, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       float* mean, float* invstd) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = x + r * D;
    double m = 0, v = 0;
    for (int64_t i = 0; i < D; ++i) m += p[i];
    m /= double(D);
    for (int64_t i = 0; i < D; ++i) v += (p[i] - m) * (p[i] - m);
    v /= double(D);
    const double inv = 1.0 / std::sqrt(v + eps);
    for (int64_t i = 0; i < D; ++i) y[r * D + i] = static_cast<T>((p[i] - m) * inv * gamma[i] + beta[i]);
    if (mean) mean[r] = static_cast<float>(m);
    if (invstd) invstd[r] = static_cast<float>(inv);
  }
}

template decltype(softmax_strided<float>) softmax_strided<float>;
template decltype(softmax_strided<double>) softmax_strided<double>;
template decltype(layernorm_forward<float>) layernorm_forward<float>;
template decltype(layernorm_forward<double>) layernorm_forward<double>;
template decltype(batchnorm_forward_train<float>) batchnorm_forward_train<float>;
template decltype(batchnorm_forward_train<double>) batchnorm_forward_train<double>;
template decltype(batchnorm_forward_infer<float>) batchnorm_forward_infer<float>;
template decltype(batchnorm_forward_infer<double>) batchnorm_forward_infer<double>;
template decltype(batchnorm_backward<float>) batchnorm_backward<float>;
template decltype(batchnorm_backward<double>) batchnorm_backward<double>;
template decltype(relu_forward<float>) relu_forward<float>;
template decltype(relu_forward<double>) relu_forward<double>;
template decltype(relu_backward<float>) relu_backward<float>;
template decltype(relu_backward<double>) relu_backward<double>;
template decltype(log_softmax_forward<float>) log_softmax_forward<float>;
template decltype(log_softmax_forward<double>) log_softmax_forward<double>;
template decltype(log_softmax_backward<float>) log_softmax_backward<float>;
template decltype(log_softmax_backward<double>) log_softmax_backward<double>;
template decltype(softmax_cross_entropy_forward<float>) softmax_cross_entropy_forward<float>;
template decltype(softmax_cross_entropy_forward<double>) softmax_cross_entropy_forward<double>;
template decltype(softmax_cross_entropy_backward<float>) softmax_cross_entropy_backward<float>;
template decltype(softmax_cross_entropy_backward<double>) softmax_cross_entropy_backward<double>;

}  // namespace lowbit::kernels::ref
