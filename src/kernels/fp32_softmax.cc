// Fast ReLU, (log-)softmax along any axis (float rows with fast_exp), softmax cross-entropy and
// the negative log-likelihood loss. Element-wise loops split with parallel_for;
// row kernels give each task whole rows, and the cross-entropy mean adds per-row losses in row
// order afterwards, so no result depends on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_act.h"
#include "fp32_rows_impl.h"

namespace lowbit::kernels {
namespace {

constexpr int64_t kElementGrain = 1 << 15;  // below this, a second thread costs more than it saves

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)); }

// Stable log(sum exp(x)) of one row: max shift, exponentials in float, sum in double.
double log_sum_exp(int64_t C, const float* x) {
  float mx = x[0];
  for (int64_t j = 1; j < C; ++j) mx = std::max(mx, x[j]);
  double sum = 0;
  for (int64_t j = 0; j < C; ++j) sum += std::exp(x[j] - mx);
  return double(mx) + std::log(sum);
}

}  // namespace

// Pointers are captured by value and the selects written branch-free: with reference captures
// GCC reloaded them every iteration and kept a data-dependent branch (50 % mispredicted on
// real activations), which made relu_backward a quarter of a ResNet-20 step.
void relu_forward(int64_t n, const float* x, float* y) {
  parallel_for(n, kElementGrain, [x, y](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::max(x[i], 0.0f);
  });
}

void relu_backward(int64_t n, const float* y, const float* dy, float* dx) {
  parallel_for(n, kElementGrain, [y, dy, dx](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float mask = y[i] > 0.0f ? 1.0f : 0.0f;
      dx[i] = dy[i] * mask;
    }
  });
}

void log_softmax_forward(int64_t B, int64_t C, const float* x, float* y) {
  if (C <= 0) return;
  parallel_for(B, row_grain(C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* xr = x + b * C;
      const double lse = log_sum_exp(C, xr);
      // x - lse in double, then rounded once: exact when |x - lse| is small.
      for (int64_t j = 0; j < C; ++j) y[b * C + j] = static_cast<float>(double(xr[j]) - lse);
    }
  });
}

void log_softmax_backward(int64_t B, int64_t C, const float* y, const float* dy, float* dx) {
  parallel_for(B, row_grain(C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double sum = 0;
      for (int64_t j = 0; j < C; ++j) sum += dy[b * C + j];
      const float s = static_cast<float>(sum);
      for (int64_t j = 0; j < C; ++j) dx[b * C + j] = dy[b * C + j] - std::exp(y[b * C + j]) * s;
    }
  });
}

float softmax_cross_entropy_forward(int64_t B, int64_t C, const float* logits, const int32_t* labels,
                                    float* probs) {
  if (B <= 0 || C <= 0) return 0.0f;
  std::vector<double> loss(static_cast<size_t>(B));
  parallel_for(B, row_grain(C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* xr = logits + b * C;
      const double lse = log_sum_exp(C, xr);
      for (int64_t j = 0; j < C; ++j) probs[b * C + j] = static_cast<float>(std::exp(double(xr[j]) - lse));
      loss[b] = lse - double(xr[labels[b]]);
    }
  });
  double total = 0;
  for (int64_t b = 0; b < B; ++b) total += loss[b];
  return static_cast<float>(total / double(B));
}

void softmax_cross_entropy_backward(int64_t B, int64_t C, const float* probs, const int32_t* labels, float scale,
                                    float* dlogits) {
  if (B <= 0) return;
  const float k = static_cast<float>(double(scale) / double(B));
  parallel_for(B, row_grain(C), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      for (int64_t j = 0; j < C; ++j) dlogits[b * C + j] = k * probs[b * C + j];
      dlogits[b * C + labels[b]] = k * (probs[b * C + labels[b]] - 1.0f);
    }
  });
}

namespace {

template <typename T>
void softmax_strided_impl(int64_t outer, int64_t D, int64_t inner, const T* x, T* y, bool log) {
  // An empty tensor has no data pointer: no offsets from it (UBSan, found by onnx_fuzz).
  if (D == 0 || outer * inner == 0) return;
  parallel_for(outer * inner, std::max<int64_t>(1, 4096 / D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / inner, in = r % inner;
      const T* p = x + o * D * inner + in;
      T* q = y + o * D * inner + in;
      T mx = p[0];
      for (int64_t i = 1; i < D; ++i) mx = std::max(mx, p[i * inner]);
      double sum = 0;
      for (int64_t i = 0; i < D; ++i) {
        const T e = std::exp(p[i * inner] - mx);
        if (!log) q[i * inner] = e;
        sum += e;
      }
      if (log) {
        const T ls = static_cast<T>(std::log(sum));
        for (int64_t i = 0; i < D; ++i) q[i * inner] = p[i * inner] - mx - ls;
      } else {
        const T inv = static_cast<T>(1.0 / sum);
        for (int64_t i = 0; i < D; ++i) q[i * inner] *= inv;
      }
    }
  });
}

// Sequential: the weight sum is a reduction whose order must not depend on the thread count,
// and a loss reads one element per (n, d), far below a thread's worth of work.
template <typename T>
double nll_loss_impl(int64_t N, int64_t C, int64_t D, const T* logp, const int64_t* target, const T* weight,
                     bool has_ignore, int64_t ignore_index, T* loss) {
  double weight_sum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t t = target[n * D + d];
      if (has_ignore && t == ignore_index) {
        loss[n * D + d] = 0;
        continue;
      }
      const T w = weight ? weight[t] : T(1);
      loss[n * D + d] = -w * logp[(n * C + t) * D + d];
      weight_sum += w;
    }
  return weight_sum;
}

}  // namespace

// Vectorized max / exp / scale with fast_exp and a float sum (lane order fixed by the vector
// width, not by the thread count).
// Three vectorized passes per row (max, exp and sum, scale). `log` is a plain argument: read
// through a lambda's captures inside the loops, it kept GCC from vectorizing the exp loop
// (softmax was half of a small transformer's inference).
void portable::softmax_row(int64_t D, const float* __restrict p, float* __restrict q, bool log) {
  float mx = p[0];
#pragma omp simd reduction(max : mx)
  for (int64_t i = 0; i < D; ++i) mx = p[i] > mx ? p[i] : mx;
  float sum = 0;
  if (log) {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < D; ++i) sum += fast_exp(p[i] - mx);
    const float ls = std::log(sum);
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) q[i] = p[i] - mx - ls;
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < D; ++i) {
      const float e = fast_exp(p[i] - mx);
      q[i] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) q[i] *= inv;
  }
}

void softmax_rows(int64_t rows, int64_t D, const float* x, float* y, bool log) {
  if (D == 0 || rows == 0) return;
  const SoftmaxRowFn row = detail::softmax_row_kernel();
  parallel_for(rows, std::max<int64_t>(1, 4096 / D), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) row(D, x + r * D, y + r * D, log);
  });
}

void softmax_strided(int64_t outer, int64_t D, int64_t inner, const float* x, float* y, bool log) {
  softmax_strided_impl(outer, D, inner, x, y, log);
}
void softmax_strided(int64_t outer, int64_t D, int64_t inner, const double* x, double* y, bool log) {
  softmax_strided_impl(outer, D, inner, x, y, log);
}

double nll_loss(int64_t N, int64_t C, int64_t D, const float* logp, const int64_t* target, const float* weight,
                bool has_ignore, int64_t ignore_index, float* loss) {
  return nll_loss_impl(N, C, D, logp, target, weight, has_ignore, ignore_index, loss);
}
double nll_loss(int64_t N, int64_t C, int64_t D, const double* logp, const int64_t* target, const double* weight,
                bool has_ignore, int64_t ignore_index, double* loss) {
  return nll_loss_impl(N, C, D, logp, target, weight, has_ignore, ignore_index, loss);
}

}  // namespace lowbit::kernels
