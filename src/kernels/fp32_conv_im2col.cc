// im2col + sgemm convolution: one image per task (parallel_for over the batch), each doing a
// single-threaded dnnl_sgemm per group on a per-thread column buffer. 1x1/stride-1/no-pad
// convolutions skip the copy and multiply the image in place.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fp32_conv_impl.h"
#include "fp32_runtime.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::detail {
namespace {

// Column matrix (Cg*R*S, OH*OW) of one image's channel group; row (c*R + r)*S + q.
void im2col(const ConvGeom& s, const float* x, int64_t Cg, float* col) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < s.R(); ++r)
      for (int64_t q = 0; q < s.S(); ++q) {
        float* row = col + ((c * s.R() + r) * s.S() + q) * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * s.stride_h() - s.pad_t() + r * s.dil_h();
          float* out = row + oh * OW;
          if (ih < 0 || ih >= s.H()) {
            std::fill(out, out + OW, 0.0f);
            continue;
          }
          const float* in = x + (c * s.H() + ih) * s.W();
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = ow * s.stride_w() - s.pad_l() + q * s.dil_w();
            out[ow] = (iw >= 0 && iw < s.W()) ? in[iw] : 0.0f;
          }
        }
      }
}

// Inverse scatter: dx (Cg,H,W) += every column entry at the input position it was read from.
void col2im(const ConvGeom& s, const float* col, int64_t Cg, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < s.R(); ++r)
      for (int64_t q = 0; q < s.S(); ++q) {
        const float* row = col + ((c * s.R() + r) * s.S() + q) * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * s.stride_h() - s.pad_t() + r * s.dil_h();
          if (ih < 0 || ih >= s.H()) continue;
          float* out = dx + (c * s.H() + ih) * s.W();
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = ow * s.stride_w() - s.pad_l() + q * s.dil_w();
            if (iw >= 0 && iw < s.W()) out[iw] += row[oh * OW + ow];
          }
        }
      }
}

bool is_pointwise(const ConvGeom& s) {
  return s.R() == 1 && s.S() == 1 && s.stride_h() == 1 && s.stride_w() == 1 && s.pad_t() == 0 && s.pad_l() == 0 &&
         s.pad_b() == 0 && s.pad_r() == 0;
}

float* col_buffer(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

void sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

// Per image and group: y (Kg, OH*OW) = w_g (Kg, Cg*R*S) * col (Cg*R*S, OH*OW), then + bias.
void im2col_conv_forward(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y) {
  sync_omp_threads();
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, P = s.OH() * s.OW(), CRS = Cg * s.R() * s.S();
  parallel_for(s.N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < G; ++g) {
        const float* xg = x + (n * s.C + g * Cg) * s.H() * s.W();
        const float* col = xg;
        if (!is_pointwise(s)) {
          float* buf = col_buffer(CRS * P);
          im2col(s, xg, Cg, buf);
          col = buf;
        }
        float* yg = y + (n * s.K + g * Kg) * P;
        sgemm('N', 'N', Kg, P, CRS, w + g * Kg * CRS, CRS, col, P, 0.0f, yg, P);
        if (bias)
          for (int64_t k = 0; k < Kg; ++k)
            for (int64_t p = 0; p < P; ++p) yg[k * P + p] += bias[g * Kg + k];
      }
  });
}

// Per image and group: col = w_g^T (Cg*R*S, Kg) * dy_g (Kg, OH*OW), scattered back by col2im.
void im2col_conv_backward_data(const ConvGeom& s, const float* dy, const float* w, float* dx) {
  sync_omp_threads();
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, P = s.OH() * s.OW(), CRS = Cg * s.R() * s.S();
  parallel_for(s.N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < G; ++g) {
        float* dxg = dx + (n * s.C + g * Cg) * s.H() * s.W();
        const float* dyg = dy + (n * s.K + g * Kg) * P;
        if (is_pointwise(s)) {
          sgemm('T', 'N', CRS, P, Kg, w + g * Kg * CRS, CRS, dyg, P, 0.0f, dxg, P);
          continue;
        }
        float* col = col_buffer(CRS * P);
        sgemm('T', 'N', CRS, P, Kg, w + g * Kg * CRS, CRS, dyg, P, 0.0f, col, P);
        std::memset(dxg, 0, sizeof(float) * Cg * s.H() * s.W());
        col2im(s, col, Cg, dxg);
      }
  });
}

// dw_g (Kg, Cg*R*S) = sum_n dy_g (Kg, OH*OW) * col^T. The batch is cut into a fixed number of
// chunks (independent of the thread count), each summed into its own partial, and the partials
// are added in chunk order, so the result does not depend on how many threads ran.
void im2col_conv_backward_weight(const ConvGeom& s, const float* x, const float* dy, float* dw,
                                 float* dbias) {
  sync_omp_threads();
  const int64_t G = s.groups, Cg = s.C / G, Kg = s.K / G, P = s.OH() * s.OW(), CRS = Cg * s.R() * s.S();
  const int64_t wsize = s.K * CRS;
  constexpr int64_t kChunks = 8;
  const int64_t chunks = std::min<int64_t>(kChunks, s.N);
  std::vector<float> partial(static_cast<size_t>((chunks - 1) * wsize));
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* acc = c == 0 ? dw : partial.data() + (c - 1) * wsize;
      for (int64_t n = s.N * c / chunks; n < s.N * (c + 1) / chunks; ++n) {
        const float beta = n == s.N * c / chunks ? 0.0f : 1.0f;
        for (int64_t g = 0; g < G; ++g) {
          const float* xg = x + (n * s.C + g * Cg) * s.H() * s.W();
          const float* col = xg;
          if (!is_pointwise(s)) {
            float* buf = col_buffer(CRS * P);
            im2col(s, xg, Cg, buf);
            col = buf;
          }
          sgemm('N', 'T', Kg, CRS, P, dy + (n * s.K + g * Kg) * P, P, col, P, beta, acc + g * Kg * CRS, CRS);
        }
      }
    }
  });
  for (int64_t c = 1; c < chunks; ++c) {
    const float* p = partial.data() + (c - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
  }
  if (!dbias) return;
  parallel_for(s.K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double sum = 0;
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t p = 0; p < P; ++p) sum += dy[(n * s.K + k) * P + p];
      dbias[k] = static_cast<float>(sum);
    }
  });
}

}  // namespace lowbit::kernels::detail
