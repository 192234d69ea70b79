// Global pooling loops of global_pool.h (moved from the ONNX engine's pool op).
#include "lowbit/kernels/global_pool.h"

#include <algorithm>

#include "lowbit/core/threads.h"

namespace lowbit::kernels {
namespace {

template <typename T>
void planes_pool(bool is_max, int64_t planes, int64_t HW, const T* x, T* y) {
  parallel_for(planes, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* p = x + c * HW;
      if (is_max) {
        T m = p[0];
        for (int64_t i = 1; i < HW; ++i) m = std::max(m, p[i]);
        y[c] = m;
      } else {
        T s = 0;
        for (int64_t i = 0; i < HW; ++i) s += p[i];
        y[c] = s / static_cast<T>(HW);
      }
    }
  });
}

}  // namespace

void global_pool(bool is_max, int64_t planes, int64_t HW, const float* x, float* y) { planes_pool(is_max, planes, HW, x, y); }
void global_pool(bool is_max, int64_t planes, int64_t HW, const double* x, double* y) { planes_pool(is_max, planes, HW, x, y); }

void global_pool_nhwc(bool is_max, int64_t N, int64_t HW, int64_t C, const float* x, float* y) {
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      float* yn = y + n * C;
      const float* xn = x + n * HW * C;
      // The planes' order per channel: max(max(x0, x1), x2)..., or ((0 + x0) + x1) + ...
      if (is_max) {
        std::copy_n(xn, C, yn);
        for (int64_t i = 1; i < HW; ++i)
          for (int64_t c = 0; c < C; ++c) yn[c] = std::max(yn[c], xn[i * C + c]);
      } else {
        std::fill_n(yn, C, 0.0f);
        for (int64_t i = 0; i < HW; ++i)
          for (int64_t c = 0; c < C; ++c) yn[c] += xn[i * C + c];
      }
      if (!is_max)
        for (int64_t c = 0; c < C; ++c) yn[c] /= static_cast<float>(HW);
    }
  });
}

}  // namespace lowbit::kernels
