// N-d convolution / pooling geometry, the one shape description both engines resolve a conv
// into: the ONNX engine from node attributes (onnx/ops/conv_geom.cc), the 2-d kernels through
// conv2d_shape(). Input is (N, C, D1..Dr); asymmetric pads allowed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {

struct ConvGeom {
  int64_t rank = 0;  // number of spatial axes r
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;  // r values each
  bool symmetric() const { return pad_begin == pad_end; }
};

// Product of dims (1 for none). The geometry is validated by its producer, so no overflow check.
inline int64_t dims_product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Odometer over a spatial index box: calls fn(flat_index, idx) for every position, last axis
// fastest.
template <typename Fn>
void for_each_pos(const std::vector<int64_t>& dims, Fn&& fn) {
  const int64_t total = dims_product(dims);
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t f = 0; f < total; ++f) {
    fn(f, idx);
    for (std::size_t d = dims.size(); d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

// The Conv2dShape of a 1-d or 2-d geometry (1-d viewed as H = 1) for x (N, C, ...) and K output
// channels. Pads (top, left, bottom, right) are returned in `pads`; the shape's pad_h/pad_w are
// set only when they are symmetric (else 0, and the caller materializes the padding).
Conv2dShape conv2d_shape(const ConvGeom& g, int64_t N, int64_t C, int64_t K, int64_t groups,
                         std::array<int64_t, 4>& pads);

}  // namespace lowbit::kernels
