// Reference GEMM and 2-d convolution (forward, backward data, backward weight): direct loops
// over the definition with double accumulators. The specification for fp32_gemm.cc/fp32_conv.cc.
#include <cstddef>
#include <vector>

#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels::ref {

template <typename T>
void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, Scalar<T> alpha,
              const T* A, int64_t lda, const T* B, int64_t ldb, Scalar<T> beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      // beta == 0 must not read C (BLAS convention: C may hold NaN/garbage).
      const double c = beta == 0 ? 0.0 : double(beta) * C[i * ldc + j];
      C[i * ldc + j] = static_cast<T>(double(alpha) * acc + c);
    }
  }
}

namespace {

// Visits every (output position, kernel tap) pair of the convolution whose input position is
// in bounds, calling f(x_index, w_index, y_index). All three passes share this one walk, so
// forward and both backwards agree on the geometry by construction.
template <typename F>
void for_each_tap(const ConvGeom& s, F&& f) {
  const int64_t OH = s.OH(), OW = s.OW();
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) {
      const int64_t g = k / Kg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t yi = ((n * s.K + k) * OH + oh) * OW + ow;
          for (int64_t cg = 0; cg < Cg; ++cg) {
            const int64_t c = g * Cg + cg;
            for (int64_t r = 0; r < s.R(); ++r) {
              const int64_t ih = oh * s.stride_h() - s.pad_t() + r * s.dil_h();
              if (ih < 0 || ih >= s.H()) continue;
              for (int64_t q = 0; q < s.S(); ++q) {
                const int64_t iw = ow * s.stride_w() - s.pad_l() + q * s.dil_w();
                if (iw < 0 || iw >= s.W()) continue;
                const int64_t xi = ((n * s.C + c) * s.H() + ih) * s.W() + iw;
                const int64_t wi = ((k * Cg + cg) * s.R() + r) * s.S() + q;
                f(xi, wi, yi);
              }
            }
          }
        }
    }
}

int64_t x_size(const ConvGeom& s) { return s.N * s.C * s.H() * s.W(); }
int64_t w_size(const ConvGeom& s) { return s.K * (s.C / s.groups) * s.R() * s.S(); }
int64_t y_size(const ConvGeom& s) { return s.N * s.K * s.OH() * s.OW(); }

template <typename T>
void store(const std::vector<double>& acc, T* out) {
  for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
}

}  // namespace

// y[n,k,oh,ow] = bias[k] + sum_{c in group(k), r, q} x[n,c,oh*sh-ph+r*dh, ow*sw-pw+q*dw] * w[k,c%Cg,r,q]
template <typename T>
void conv2d_forward(const ConvGeom& s, const T* x, const T* w, NoDeduce<const T*> bias, T* y) {
  std::vector<double> acc(y_size(s), 0.0);
  for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[yi] += double(x[xi]) * w[wi]; });
  if (bias) {
    const int64_t plane = s.OH() * s.OW();
    for (int64_t i = 0; i < y_size(s); ++i) acc[i] += bias[(i / plane) % s.K];
  }
  store(acc, y);
}

// dx = d(sum y*dy)/dx: every tap that read x[xi] sends back dy[yi] * w[wi].
template <typename T>
void conv2d_backward_data(const ConvGeom& s, const T* dy, const T* w, T* dx) {
  std::vector<double> acc(x_size(s), 0.0);
  for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[xi] += double(dy[yi]) * w[wi]; });
  store(acc, dx);
}

// dw[wi] = sum over taps using wi of x[xi] * dy[yi]; dbias[k] = sum of dy over n, oh, ow.
template <typename T>
void conv2d_backward_weight(const ConvGeom& s, const T* x, const T* dy, T* dw, T* dbias) {
  std::vector<double> acc(w_size(s), 0.0);
  for_each_tap(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[wi] += double(x[xi]) * dy[yi]; });
  store(acc, dw);
  if (!dbias) return;
  const int64_t plane = s.OH() * s.OW();
  for (int64_t k = 0; k < s.K; ++k) {
    double sum = 0;
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t i = 0; i < plane; ++i) sum += dy[(n * s.K + k) * plane + i];
    dbias[k] = static_cast<T>(sum);
  }
}

template decltype(gemm_f32<float>) gemm_f32<float>;
template decltype(gemm_f32<double>) gemm_f32<double>;
template decltype(conv2d_forward<float>) conv2d_forward<float>;
template decltype(conv2d_forward<double>) conv2d_forward<double>;
template decltype(conv2d_backward_data<float>) conv2d_backward_data<float>;
template decltype(conv2d_backward_data<double>) conv2d_backward_data<double>;
template decltype(conv2d_backward_weight<float>) conv2d_backward_weight<float>;
template decltype(conv2d_backward_weight<double>) conv2d_backward_weight<double>;

}  // namespace lowbit::kernels::ref
