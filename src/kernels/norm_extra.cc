// LRN, GroupNormalization and MeanVarianceNormalization (norm_extra.h): double-precision loops.
#include "lowbit/kernels/norm_extra.h"

#include <algorithm>
#include <cmath>

namespace lowbit::kernels {

template <typename T>
void lrn(int64_t N, int64_t C, int64_t inner, int64_t size, double alpha, double beta, double bias, const T* x, T* y) {
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;  // window [ch - lo, ch + hi]
  for (int64_t b = 0; b < N; ++b)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t i = 0; i < inner; ++i) {
        double sq = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(C - 1, ch + hi); ++k) {
          const double v = x[(b * C + k) * inner + i];
          sq += v * v;
        }
        const int64_t at = (b * C + ch) * inner + i;
        y[at] = static_cast<T>(x[at] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
      }
}

template <typename T>
void group_norm(int64_t blocks, int64_t G, int64_t per, const T* x, const T* scale, const T* bias, double eps, T* y) {
  for (int64_t b = 0; b < blocks; ++b) {
    const T* in = x + b * per;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < per; ++i) sum += in[i];
    const double mean = per ? sum / static_cast<double>(per) : 0;
    for (int64_t i = 0; i < per; ++i) sq += (in[i] - mean) * (in[i] - mean);
    const double inv = 1.0 / std::sqrt((per ? sq / static_cast<double>(per) : 0) + eps);
    const double s = static_cast<double>(scale[b % G]), t = static_cast<double>(bias[b % G]);
    for (int64_t i = 0; i < per; ++i) y[b * per + i] = static_cast<T>(s * (in[i] - mean) * inv + t);
  }
}

template <typename T>
void mean_variance_normalize(int64_t n, const T* x, const int64_t* group, int64_t groups, double* stats, T* y) {
  double *sum = stats, *sq = stats + groups, *cnt = stats + 2 * groups;
  std::fill(stats, stats + 3 * groups, 0.0);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t g = group[e];
    sum[g] += x[e], sq[g] += double(x[e]) * x[e], cnt[g] += 1;
  }
  for (int64_t e = 0; e < n; ++e) {
    const int64_t g = group[e];
    const double mean = sum[g] / cnt[g], var = std::max(0.0, sq[g] / cnt[g] - mean * mean);
    y[e] = static_cast<T>((x[e] - mean) / (std::sqrt(var) + 1e-9));
  }
}

template void lrn<float>(int64_t, int64_t, int64_t, int64_t, double, double, double, const float*, float*);
template void lrn<double>(int64_t, int64_t, int64_t, int64_t, double, double, double, const double*, double*);
template void group_norm<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*, double, float*);
template void group_norm<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*, double, double*);
template void mean_variance_normalize<float>(int64_t, const float*, const int64_t*, int64_t, double*, float*);
template void mean_variance_normalize<double>(int64_t, const double*, const int64_t*, int64_t, double*, double*);

}  // namespace lowbit::kernels
