// The N-d convolution loops of conv_nd_ref.h (moved from the ONNX engine's conv_ref.h): one
// generic window walk for float and integer operands.
#include "lowbit/kernels/conv_nd_ref.h"

#include <cstddef>
#include <vector>

namespace lowbit::kernels {

namespace ref {
namespace {

// y(N,M,out...) = sum over c in group, kernel positions of load_x(x) * load_w(w, m); x (N,C,in...),
// w (M, C/group, kernel...). Out-of-bounds (padding) positions contribute zero.
template <typename Acc, typename TX, typename TW, typename LX, typename LW>
void conv_nd_generic(const ConvGeom& g, const TX* x, const TW* w, Acc* y, LX load_x, LW load_w) {
  const int64_t N = g.N, C = g.C, M = g.K, Cg = C / g.groups, Mg = M / g.groups;
  const int64_t in_size = dims_product(g.in, g.rank), out_size = dims_product(g.out, g.rank);
  const int64_t k_size = dims_product(g.kernel, g.rank);
  const auto r = static_cast<std::size_t>(g.rank);
  ConvGeom::Axes in_strides = ConvGeom::kOnes;
  for (std::size_t d = r - 1; d-- > 0;) in_strides[d] = in_strides[d + 1] * g.in[d + 1];
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      const int64_t grp = m / Mg;
      Acc* yp = y + (n * M + m) * out_size;
      for_each_pos(g.out, g.rank, [&](int64_t o, const ConvGeom::Axes& oi) {
        Acc acc = 0;
        for (int64_t c = 0; c < Cg; ++c) {
          const TX* xp = x + (n * C + grp * Cg + c) * in_size;
          const TW* wp = w + (m * Cg + c) * k_size;
          for_each_pos(g.kernel, g.rank, [&](int64_t k, const ConvGeom::Axes& ki) {
            int64_t off = 0;
            for (std::size_t d = 0; d < r; ++d) {
              const int64_t p = oi[d] * g.stride[d] + ki[d] * g.dilation[d] - g.pad_begin[d];
              if (p < 0 || p >= g.in[d]) return;
              off += p * in_strides[d];
            }
            acc += static_cast<Acc>(load_x(xp[off])) * static_cast<Acc>(load_w(wp[k], m));
          });
        }
        yp[o] = acc;
      });
    }
  }
}

template <typename TX, typename TW>
void conv_integer(const ConvGeom& g, const TX* x, int32_t xz, const TW* w, int32_t wz, int32_t* y) {
  conv_nd_generic<int32_t>(g, x, w, y, [xz](TX v) { return int32_t(v) - xz; },
                           [wz](TW v, int64_t) { return int32_t(v) - wz; });
}

template <typename TX, typename TW>
void conv_integer_per_m(const ConvGeom& g, const TX* x, int32_t xz, const TW* w, const int32_t* wz, int32_t* y) {
  conv_nd_generic<int32_t>(g, x, w, y, [xz](TX v) { return int32_t(v) - xz; },
                           [wz](TW v, int64_t m) { return int32_t(v) - wz[m]; });
}

}  // namespace

void conv_nd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t N = g.N, M = g.K, out_size = dims_product(g.out, g.rank);
  std::vector<double> acc(static_cast<std::size_t>(N * M * out_size));
  conv_nd_generic<double>(g, x, w, acc.data(), [](float v) { return double(v); },
                          [](float v, int64_t) { return double(v); });
  for (int64_t i = 0; i < N * M * out_size; ++i)
    y[i] = static_cast<float>(acc[static_cast<std::size_t>(i)] + (bias ? bias[(i / out_size) % M] : 0.0f));
}

void conv_transpose_nd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t N = g.N, C = g.C, M = g.K, Cg = C / g.groups, Mg = M / g.groups;
  const int64_t in_size = dims_product(g.in, g.rank), out_size = dims_product(g.out, g.rank);
  const int64_t k_size = dims_product(g.kernel, g.rank);
  const auto r = static_cast<std::size_t>(g.rank);
  ConvGeom::Axes out_strides = ConvGeom::kOnes;
  for (std::size_t d = r - 1; d-- > 0;) out_strides[d] = out_strides[d + 1] * g.out[d + 1];
  std::vector<double> acc(static_cast<std::size_t>(N * M * out_size), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t grp = c / Cg;
      const float* xp = x + (n * C + c) * in_size;
      for (int64_t mg = 0; mg < Mg; ++mg) {
        const int64_t m = grp * Mg + mg;
        const float* wp = w + (c * Mg + mg) * k_size;
        double* yp = acc.data() + (n * M + m) * out_size;
        for_each_pos(g.in, g.rank, [&](int64_t i, const ConvGeom::Axes& ii) {
          for_each_pos(g.kernel, g.rank, [&](int64_t k, const ConvGeom::Axes& ki) {
            int64_t off = 0;
            for (std::size_t d = 0; d < r; ++d) {
              const int64_t p = ii[d] * g.stride[d] + ki[d] * g.dilation[d] - g.pad_begin[d];
              if (p < 0 || p >= g.out[d]) return;
              off += p * out_strides[d];
            }
            yp[off] += static_cast<double>(xp[i]) * wp[k];
          });
        });
      }
    }
  for (int64_t i = 0; i < N * M * out_size; ++i)
    y[i] = static_cast<float>(acc[static_cast<std::size_t>(i)] + (bias ? bias[(i / out_size) % M] : 0.0f));
}

void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const int8_t* w, const int32_t* w_zp, int32_t* y) {
  conv_integer_per_m(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const uint8_t* w, const int32_t* w_zp, int32_t* y) {
  conv_integer_per_m(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const int8_t* w, const int32_t* w_zp, int32_t* y) {
  conv_integer_per_m(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const uint8_t* w, const int32_t* w_zp, int32_t* y) {
  conv_integer_per_m(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t* y) {
  conv_integer(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const uint8_t* x, int32_t x_zp, const uint8_t* w, int32_t w_zp, int32_t* y) {
  conv_integer(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t* y) {
  conv_integer(g, x, x_zp, w, w_zp, y);
}
void conv_nd_integer(const ConvGeom& g, const int8_t* x, int32_t x_zp, const uint8_t* w, int32_t w_zp, int32_t* y) {
  conv_integer(g, x, x_zp, w, w_zp, y);
}

}  // namespace ref
}  // namespace lowbit::kernels
