// The N-d pooling loops of conv_nd_ref.h (moved from the ONNX engine's pool op): one window walk
// for max and average over every element type the op accepts.
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/conv_nd_ref.h"

namespace lowbit::kernels::ref {
namespace {

// Generic pool over any rank and type; avg accumulates in double.
template <typename T>
void pool_generic(const ConvGeom& g, bool is_max, bool include_pad, const T* x, T* y, int64_t* indices) {
  const int64_t NC = g.N * g.C;
  const int64_t in_size = dims_product(g.in, g.rank), out_size = dims_product(g.out, g.rank);
  const auto r = static_cast<size_t>(g.rank);
  ConvGeom::Axes in_strides = ConvGeom::kOnes;
  for (size_t d = r - 1; d-- > 0;) in_strides[d] = in_strides[d + 1] * g.in[d + 1];
  parallel_for(NC, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * in_size;
      for_each_pos(g.out, g.rank, [&](int64_t o, const ConvGeom::Axes& oi) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t best_idx = 0, count = 0, padded_count = 0;
        for_each_pos(g.kernel, g.rank, [&](int64_t, const ConvGeom::Axes& ki) {
          int64_t off = 0;
          bool inside = true, in_padded = true;
          for (size_t d = 0; d < r; ++d) {
            const int64_t p = oi[d] * g.stride[d] + ki[d] * g.dilation[d] - g.pad_begin[d];
            if (p < 0 || p >= g.in[d]) inside = false;
            if (p >= g.in[d] + g.pad_end[d]) in_padded = false;
            off += p * in_strides[d];
          }
          if (in_padded) ++padded_count;
          if (!inside) return;
          const double v = static_cast<double>(xp[off]);
          ++count;
          sum += v;
          if (v > best) {
            best = v;
            best_idx = c * in_size + off;
          }
        });
        if (is_max) {
          // A window wholly inside the padding has no element: -inf, or the type's lowest value
          // for integers (converting -inf to an integer is undefined; found by the ONNX fuzzer).
          if constexpr (std::is_integral_v<T>) y[c * out_size + o] = count ? static_cast<T>(best) : std::numeric_limits<T>::lowest();
          else y[c * out_size + o] = static_cast<T>(best);
          if (indices) indices[c * out_size + o] = best_idx;
        } else {
          const int64_t div = include_pad ? padded_count : count;
          y[c * out_size + o] = static_cast<T>(div ? sum / static_cast<double>(div) : 0.0);
        }
      });
    }
  });
}

}  // namespace

void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const float* x, float* y, int64_t* indices) {
  pool_generic(g, is_max, include_pad, x, y, indices);
}
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const double* x, double* y, int64_t* indices) {
  pool_generic(g, is_max, include_pad, x, y, indices);
}
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const uint8_t* x, uint8_t* y, int64_t* indices) {
  pool_generic(g, is_max, include_pad, x, y, indices);
}
void pool_nd(const ConvGeom& g, bool is_max, bool include_pad, const int8_t* x, int8_t* y, int64_t* indices) {
  pool_generic(g, is_max, include_pad, x, y, indices);
}

}  // namespace lowbit::kernels::ref
