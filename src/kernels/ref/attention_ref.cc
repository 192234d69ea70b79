// Reference attention of one head (attention.h): plain loops in double, the spec the fast
// paths are tested against.
#include <algorithm>
#include <cmath>

#include "lowbit/kernels/attention.h"

namespace lowbit::kernels::ref {
namespace {

// scale * (q[i] . k[j]) in double.
template <typename T>
double score(int64_t dh, double scale, const T* qi, const T* kj) {
  double s = 0;
  for (int64_t d = 0; d < dh; ++d) s += double(qi[d]) * double(kj[d]);
  return scale * s;
}

}  // namespace

template <typename T>
void attention_head(int64_t Tn, int64_t dh, double scale, const T* q, const T* k, const T* v, int64_t ld, T* y,
                    int64_t ldy) {
  for (int64_t i = 0; i < Tn; ++i) {
    const T* qi = q + i * ld;
    double mx = -INFINITY;
    for (int64_t j = 0; j < Tn; ++j) mx = std::max(mx, score(dh, scale, qi, k + j * ld));
    double sum = 0;
    for (int64_t j = 0; j < Tn; ++j) sum += std::exp(score(dh, scale, qi, k + j * ld) - mx);
    for (int64_t c = 0; c < dh; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < Tn; ++j) acc += std::exp(score(dh, scale, qi, k + j * ld) - mx) * double(v[j * ld + c]);
      y[i * ldy + c] = static_cast<T>(acc / sum);
    }
  }
}

template void attention_head<float>(int64_t, int64_t, double, const float*, const float*, const float*, int64_t, float*,
                                    int64_t);
template void attention_head<double>(int64_t, int64_t, double, const double*, const double*, const double*, int64_t,
                                     double*, int64_t);

}  // namespace lowbit::kernels::ref
