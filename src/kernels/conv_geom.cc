// ConvGeom's builders (2-d convolutions of the kernels, tests and the training engine) and the
// 1-d -> 2-d view the 2-d kernels take.
#include "lowbit/kernels/conv_geom.h"

namespace lowbit::kernels {

ConvGeom ConvGeom::conv2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S) {
  ConvGeom g;
  g.N = N, g.C = C, g.K = K;
  g.rank = 2;
  g.in[0] = H, g.in[1] = W;
  g.kernel[0] = R, g.kernel[1] = S;
  g.fit_out();
  return g;
}

ConvGeom ConvGeom::pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw) {
  return conv2d(N, C, H, W, C, kh, kw);
}

ConvGeom& ConvGeom::strides(int64_t sh, int64_t sw) {
  stride[0] = sh, stride[1] = sw;
  fit_out();
  return *this;
}

ConvGeom& ConvGeom::pads(int64_t ph, int64_t pw) { return pads(ph, pw, ph, pw); }

ConvGeom& ConvGeom::pads(int64_t top, int64_t left, int64_t bottom, int64_t right) {
  pad_begin[0] = top, pad_begin[1] = left, pad_end[0] = bottom, pad_end[1] = right;
  fit_out();
  return *this;
}

ConvGeom& ConvGeom::dilations(int64_t dh, int64_t dw) {
  dilation[0] = dh, dilation[1] = dw;
  fit_out();
  return *this;
}

ConvGeom& ConvGeom::grouped(int64_t g) {
  groups = g;
  return *this;
}

void ConvGeom::fit_out() {
  for (int64_t d = 0; d < rank; ++d) out[static_cast<std::size_t>(d)] = conv_out(d);
}

ConvGeom as_2d(const ConvGeom& g) {
  if (g.rank != 1) return g;
  ConvGeom h = g;
  h.rank = 2;
  auto lift = [](ConvGeom::Axes& a, int64_t lead) {
    a[1] = a[0];
    a[0] = lead;
  };
  lift(h.in, 1), lift(h.kernel, 1), lift(h.stride, 1), lift(h.dilation, 1);
  lift(h.pad_begin, 0), lift(h.pad_end, 0), lift(h.out, 1);
  return h;
}

}  // namespace lowbit::kernels
