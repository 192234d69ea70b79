// ConvGeom -> Conv2dShape: the 2-d kernels' view of a resolved 1-d or 2-d geometry.
#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels {

Conv2dShape conv2d_shape(const ConvGeom& g, int64_t N, int64_t C, int64_t K, int64_t groups,
                         std::array<int64_t, 4>& pads) {
  const bool one_d = g.rank == 1;
  const auto last = static_cast<std::size_t>(g.rank - 1);
  Conv2dShape s;
  s.N = N, s.C = C, s.K = K, s.groups = groups;
  s.H = one_d ? 1 : g.in[0];
  s.W = g.in[last];
  s.R = one_d ? 1 : g.kernel[0];
  s.S = g.kernel[last];
  s.stride_h = one_d ? 1 : g.stride[0];
  s.stride_w = g.stride[last];
  s.dil_h = one_d ? 1 : g.dilation[0];
  s.dil_w = g.dilation[last];
  pads = {one_d ? 0 : g.pad_begin[0], g.pad_begin[last], one_d ? 0 : g.pad_end[0], g.pad_end[last]};
  if (pads[0] == pads[2] && pads[1] == pads[3]) {
    s.pad_h = pads[0];
    s.pad_w = pads[1];
  }
  return s;
}

}  // namespace lowbit::kernels
