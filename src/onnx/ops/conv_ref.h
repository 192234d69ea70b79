// Plain-loop N-d convolution references (any spatial rank, groups, dilation, asymmetric pads):
// the spec for the fast 2-d path and the implementation for ranks it does not cover. The
// integer convs reuse them with Acc = int32 and zero points subtracted on load.
#pragma once

#include "ops/conv_geom.h"

namespace lowbit::onnx {

// Odometer over a spatial index box: calls fn(flat_index, idx) for every position.
template <typename Fn>
void for_each_pos(const Shape& dims, Fn&& fn) {
  const int64_t total = checked_numel(dims, "conv");
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t f = 0; f < total; ++f) {
    fn(f, idx);
    for (size_t d = dims.size(); d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

// y(N,M,out...) = sum over c in group, kernel positions of load_x(x) * load_w(w); x (N,C,in...),
// w (M, C/group, kernel...). Out-of-bounds (padding) positions contribute zero *after* the
// zero-point subtraction, as ONNX ConvInteger specifies.
template <typename Acc, typename TX, typename TW, typename LX, typename LW>
void conv_nd_generic(const SpatialGeom& g, int64_t N, int64_t C, int64_t M, int64_t group, const TX* x, const TW* w,
                     Acc* y, LX load_x, LW load_w) {
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_size = checked_numel(g.in, "conv"), out_size = checked_numel(g.out, "conv");
  const int64_t k_size = checked_numel(g.kernel, "conv");
  const auto r = static_cast<size_t>(g.rank);
  std::vector<int64_t> in_strides(r, 1);
  for (size_t d = r - 1; d-- > 0;) in_strides[d] = in_strides[d + 1] * g.in[d + 1];
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      const int64_t grp = m / Mg;
      Acc* yp = y + (n * M + m) * out_size;
      for_each_pos(g.out, [&](int64_t o, const std::vector<int64_t>& oi) {
        Acc acc = 0;
        for (int64_t c = 0; c < Cg; ++c) {
          const TX* xp = x + (n * C + grp * Cg + c) * in_size;
          const TW* wp = w + (m * Cg + c) * k_size;
          for_each_pos(g.kernel, [&](int64_t k, const std::vector<int64_t>& ki) {
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) {
              const int64_t p = oi[d] * g.stride[d] + ki[d] * g.dilation[d] - g.pad_begin[d];
              if (p < 0 || p >= g.in[d]) return;
              off += p * in_strides[d];
            }
            acc += static_cast<Acc>(load_x(xp[off])) * static_cast<Acc>(load_w(wp[k]));
          });
        }
        yp[o] = acc;
      });
    }
  }
}

inline void conv_nd_ref(const SpatialGeom& g, int64_t N, int64_t C, int64_t M, int64_t group, const float* x,
                        const float* w, const float* bias, float* y) {
  const int64_t out_size = checked_numel(g.out, "conv");
  std::vector<double> acc(static_cast<size_t>(N * M * out_size));
  conv_nd_generic<double>(g, N, C, M, group, x, w, acc.data(), [](float v) { return double(v); },
                          [](float v) { return double(v); });
  for (int64_t i = 0; i < N * M * out_size; ++i)
    y[i] = static_cast<float>(acc[static_cast<size_t>(i)] + (bias ? bias[(i / out_size) % M] : 0.0f));
}

// ConvTranspose: x (N,C,in...), w (C, M/group, kernel...), y (N,M,out...); scatters each input
// element through the kernel: out = in*stride + k*dilation - pad_begin.
inline void conv_transpose_nd_ref(const SpatialGeom& g, int64_t N, int64_t C, int64_t M, int64_t group,
                                  const float* x, const float* w, const float* bias, float* y) {
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_size = checked_numel(g.in, "conv"), out_size = checked_numel(g.out, "conv");
  const int64_t k_size = checked_numel(g.kernel, "conv");
  const auto r = static_cast<size_t>(g.rank);
  std::vector<int64_t> out_strides(r, 1);
  for (size_t d = r - 1; d-- > 0;) out_strides[d] = out_strides[d + 1] * g.out[d + 1];
  std::vector<double> acc(static_cast<size_t>(N * M * out_size), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t grp = c / Cg;
      const float* xp = x + (n * C + c) * in_size;
      for (int64_t mg = 0; mg < Mg; ++mg) {
        const int64_t m = grp * Mg + mg;
        const float* wp = w + (c * Mg + mg) * k_size;
        double* yp = acc.data() + (n * M + m) * out_size;
        for_each_pos(g.in, [&](int64_t i, const std::vector<int64_t>& ii) {
          for_each_pos(g.kernel, [&](int64_t k, const std::vector<int64_t>& ki) {
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) {
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
    y[i] = static_cast<float>(acc[static_cast<size_t>(i)] + (bias ? bias[(i / out_size) % M] : 0.0f));
}

}  // namespace lowbit::onnx
