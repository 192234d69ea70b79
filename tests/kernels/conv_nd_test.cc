// The N-d reference convolutions (conv_nd_ref.h) and ConvGeom: conv_nd against the 2-d
// reference and the fast conv2d_forward on 2-d geometries, 1-d as H = 1, the integer conv
// exactly against the float one on integer data, ConvTranspose as the adjoint of conv, as_2d,
// asymmetric pads on the fast 2-d paths (forward and both backwards), the N-d pools against the
// 2-d pooling reference, and the global pools (channels-last bit for bit the NCHW planes).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/kernels/conv_nd_ref.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/fp32_tuning.h"
#include "lowbit/kernels/global_pool.h"

namespace lowbit::kernels {
namespace {

using testing::abs_of;
using testing::expect_close;
using testing::random_floats;

// Output size of one axis (floor mode), as the ONNX engine resolves it.
int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

// (N, C, in...) -> (N, K, out...) with `groups`; out computed here, independently of ConvGeom.
ConvGeom geom(int64_t N, int64_t C, int64_t K, int64_t groups, std::vector<int64_t> in, std::vector<int64_t> k,
              std::vector<int64_t> s, std::vector<int64_t> d, std::vector<int64_t> pb, std::vector<int64_t> pe) {
  ConvGeom g;
  g.N = N, g.C = C, g.K = K, g.groups = groups;
  g.rank = static_cast<int64_t>(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    g.in[i] = in[i], g.kernel[i] = k[i], g.stride[i] = s[i], g.dilation[i] = d[i], g.pad_begin[i] = pb[i], g.pad_end[i] = pe[i];
    g.out[i] = out_dim(in[i], k[i], s[i], d[i], pb[i], pe[i]);
  }
  return g;
}

TEST(ConvNd, TwoDimensionalMatchesConv2dReferenceAndFastPath) {
  struct Case { int64_t N, C, H, W, K, R, S, stride, pad, dil, groups; };
  for (const Case& c : {Case{2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1}, Case{1, 4, 9, 8, 6, 3, 2, 2, 0, 1, 2},
                        Case{1, 6, 10, 10, 6, 3, 3, 1, 2, 2, 6}, Case{3, 2, 5, 5, 3, 1, 1, 1, 0, 1, 1}}) {
    const ConvGeom g = geom(c.N, c.C, c.K, c.groups, {c.H, c.W}, {c.R, c.S}, {c.stride, c.stride}, {c.dil, c.dil},
                            {c.pad, c.pad}, {c.pad, c.pad});
    // The builder gives the same geometry.
    const ConvGeom s = ConvGeom::conv2d(c.N, c.C, c.H, c.W, c.K, c.R, c.S)
                           .strides(c.stride, c.stride)
                           .pads(c.pad, c.pad)
                           .dilations(c.dil, c.dil)
                           .grouped(c.groups);
    ASSERT_EQ(s, g);
    const std::vector<float> x = random_floats(c.N * c.C * c.H * c.W, 51), w = random_floats(c.K * c.C / c.groups * c.R * c.S, 52);
    const std::vector<float> b = random_floats(c.K, 53);
    const std::size_t ny = static_cast<std::size_t>(c.N * c.K * s.OH() * s.OW());
    std::vector<float> nd(ny), r2(ny), fast(ny), mag(ny);
    ref::conv_nd(g, x.data(), w.data(), b.data(), nd.data());
    ref::conv2d_forward(s, x.data(), w.data(), b.data(), r2.data());
    conv2d_forward(s, x.data(), w.data(), b.data(), fast.data());
    ref::conv2d_forward(s, abs_of(x).data(), abs_of(w).data(), abs_of(b).data(), mag.data());
    const double L = double(c.C / c.groups * c.R * c.S + 1);
    expect_close(nd, r2, mag, 2, "conv_nd vs ref::conv2d_forward");  // both sum in double
    expect_close(fast, nd, mag, L, "conv2d_forward vs conv_nd");
  }
}

TEST(ConvNd, OneDimensionalIsTwoDimensionalWithHeightOne) {
  const ConvGeom g1 = geom(2, 3, 4, 1, {11}, {3}, {2}, {1}, {1}, {2});  // asymmetric pads
  const ConvGeom g2 = geom(2, 3, 4, 1, {1, 11}, {1, 3}, {1, 2}, {1, 1}, {0, 1}, {0, 2});
  const std::vector<float> x = random_floats(2 * 3 * 11, 54), w = random_floats(4 * 3 * 3, 55);
  std::vector<float> y1(2 * 4 * g1.out[0]), y2(y1.size());
  ref::conv_nd(g1, x.data(), w.data(), nullptr, y1.data());
  ref::conv_nd(g2, x.data(), w.data(), nullptr, y2.data());
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
  EXPECT_EQ(as_2d(g1), g2);
  EXPECT_EQ(as_2d(g2), g2);
  EXPECT_EQ((std::array<int64_t, 4>{g2.pad_t(), g2.pad_l(), g2.pad_b(), g2.pad_r()}), (std::array<int64_t, 4>{0, 1, 0, 2}));
}

TEST(ConvNd, IntegerEqualsFloatOnIntegerDataWithZeroPoints) {
  const int64_t N = 2, C = 4, M = 6, group = 2;
  const ConvGeom g = geom(N, C, M, group, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1});  // 3-d
  const int64_t nx = N * C * 4 * 5 * 3, nw = M * (C / group) * 2 * 3 * 2;
  std::vector<uint8_t> xu(nx);
  std::vector<int8_t> ws(nw);
  std::vector<float> xf(nx), wf(nw);
  const int32_t xz = 128, wz = -3;
  for (int64_t i = 0; i < nx; ++i) xu[i] = static_cast<uint8_t>((i * 37 + 11) % 256), xf[i] = float(int32_t(xu[i]) - xz);
  for (int64_t i = 0; i < nw; ++i) ws[i] = static_cast<int8_t>((i * 53 + 7) % 256 - 128), wf[i] = float(int32_t(ws[i]) - wz);
  const std::size_t ny = static_cast<std::size_t>(N * M * dims_product(g.out, g.rank));
  std::vector<int32_t> yi(ny);
  std::vector<float> yf(ny);
  ref::conv_nd_integer(g, xu.data(), xz, ws.data(), wz, yi.data());
  ref::conv_nd(g, xf.data(), wf.data(), nullptr, yf.data());
  for (std::size_t i = 0; i < ny; ++i) ASSERT_EQ(static_cast<float>(yi[i]), yf[i]) << i;  // |y| < 2^24: exact
}

// <conv(x), y> = <x, conv_transpose(y)> with the same weight buffer: ConvTranspose is conv's
// adjoint. Small integers keep every sum exact.
TEST(ConvNd, TransposeIsTheAdjointOfConv) {
  const int64_t N = 2, C = 4, M = 6, group = 2;
  const ConvGeom g = geom(N, C, M, group, {7, 6}, {3, 2}, {2, 1}, {1, 2}, {1, 0}, {2, 1});
  ConvGeom t = g;  // the transpose maps conv's output grid (M channels) back onto its input grid
  t.C = M, t.K = C, t.in = g.out, t.out = g.in;
  const int64_t nx = N * C * 7 * 6, nw = M * (C / group) * 3 * 2, ny = N * M * dims_product(g.out, g.rank);
  std::vector<float> x(nx), w(nw), y(ny), cx(ny), ty(nx);
  for (int64_t i = 0; i < nx; ++i) x[i] = float((i * 7) % 5 - 2);
  for (int64_t i = 0; i < nw; ++i) w[i] = float((i * 3) % 7 - 3);
  for (int64_t i = 0; i < ny; ++i) y[i] = float((i * 5) % 9 - 4);
  ref::conv_nd(g, x.data(), w.data(), nullptr, cx.data());
  ref::conv_transpose_nd(t, y.data(), w.data(), nullptr, ty.data());
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < ny; ++i) lhs += double(cx[i]) * y[i];
  for (int64_t i = 0; i < nx; ++i) rhs += double(x[i]) * ty[i];
  EXPECT_EQ(lhs, rhs);
  EXPECT_NE(lhs, 0.0);
  // A hand case: 1-d, stride 2, kernel of ones: each input spreads over 3 outputs.
  ConvGeom h;
  h.rank = 1, h.in[0] = 2, h.kernel[0] = 3, h.stride[0] = 2, h.out[0] = 5;
  const float hx[] = {1, 2}, hw[] = {1, 1, 1};
  float hy[5];
  ref::conv_transpose_nd(h, hx, hw, nullptr, hy);
  EXPECT_EQ(std::vector<float>(hy, hy + 5), (std::vector<float>{1, 1, 3, 2, 2}));
}

// Asymmetric pads (auto_pad SAME_*) on the 2-d kernels: the fast forward against conv_nd, and
// both fast backwards against their references, on every library path.
TEST(ConvNd, AsymmetricPadsOnTheFastPaths) {
  const ConvAlgo saved = conv_algo();
  for (const auto& [g, label] : {std::pair{geom(2, 4, 6, 1, {7, 8}, {3, 3}, {2, 1}, {1, 1}, {0, 1}, {1, 2}), "stride 2x1"},
                                 std::pair{geom(1, 6, 6, 3, {9, 6}, {2, 3}, {1, 2}, {2, 1}, {1, 0}, {0, 1}), "groups 3, dilated"}}) {
    ASSERT_FALSE(g.symmetric());
    const int64_t nx = g.N * g.C * g.H() * g.W(), nw = g.K * g.C / g.groups * g.R() * g.S(), ny = g.N * g.K * g.OH() * g.OW();
    const std::vector<float> x = random_floats(nx, 61), w = random_floats(nw, 62), b = random_floats(g.K, 63);
    const std::vector<float> dy = random_floats(ny, 64);
    std::vector<float> nd(ny), mag(ny), dx_ref(nx), dx_mag(nx), dw_ref(nw), dw_mag(nw), db_ref(g.K), db_mag(g.K);
    ref::conv_nd(g, x.data(), w.data(), b.data(), nd.data());
    ref::conv2d_forward(g, abs_of(x).data(), abs_of(w).data(), abs_of(b).data(), mag.data());
    ref::conv2d_backward_data(g, dy.data(), w.data(), dx_ref.data());
    ref::conv2d_backward_data(g, abs_of(dy).data(), abs_of(w).data(), dx_mag.data());
    ref::conv2d_backward_weight(g, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    ref::conv2d_backward_weight(g, abs_of(x).data(), abs_of(dy).data(), dw_mag.data(), db_mag.data());
    for (ConvAlgo algo : {ConvAlgo::im2col, ConvAlgo::onednn_plain, ConvAlgo::onednn_blocked}) {
      set_conv_algo(algo);
      std::vector<float> y(ny), dx(nx), dw(nw), db(g.K);
      conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
      conv2d_backward_data(g, dy.data(), w.data(), dx.data());
      conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data());
      const std::string at = std::string(label) + " algo " + std::to_string(static_cast<int>(algo));
      expect_close(y, nd, mag, double(g.patch() + 1), ("forward " + at).c_str());
      expect_close(dx, dx_ref, dx_mag, double(g.K / g.groups * g.R() * g.S()), ("backward data " + at).c_str());
      expect_close(dw, dw_ref, dw_mag, double(g.N * g.OH() * g.OW()), ("backward weight " + at).c_str());
      expect_close(db, db_ref, db_mag, double(g.N * g.OH() * g.OW()), ("bias " + at).c_str());
    }
  }
  set_conv_algo(saved);
}

// pool_nd on 2-d symmetric geometries (floor mode, padding not counted) equals the 2-d pooling
// reference bit for bit: the same windows, summed in double in the same order.
TEST(PoolNd, TwoDimensionalMatchesPool2dReference) {
  for (const auto& [H, W, k, stride, pad] : std::vector<std::array<int64_t, 5>>{{7, 6, 3, 2, 1}, {5, 9, 2, 2, 0}, {8, 8, 3, 1, 1}}) {
    const ConvGeom g = geom(2, 3, 3, 1, {H, W}, {k, k}, {stride, stride}, {1, 1}, {pad, pad}, {pad, pad});
    ASSERT_EQ(g, ConvGeom::pool2d(2, 3, H, W, k, k).strides(stride, stride).pads(pad, pad));
    const std::vector<float> x = random_floats(g.N * g.C * H * W, 71);
    const std::size_t ny = static_cast<std::size_t>(g.N * g.C * g.OH() * g.OW());
    std::vector<float> nd(ny), r2(ny);
    std::vector<int64_t> idx(ny);
    std::vector<int32_t> arg(ny);
    ref::pool_nd(g, true, false, x.data(), nd.data(), idx.data());
    ref::maxpool2d_forward(g, x.data(), r2.data(), arg.data());
    EXPECT_EQ(nd, r2) << "max " << H << "x" << W;
    for (std::size_t i = 0; i < ny; ++i)  // indices: plane·H·W + offset, the 2-d argmax within the plane
      ASSERT_EQ(idx[i], static_cast<int64_t>(i / static_cast<std::size_t>(g.OH() * g.OW())) * H * W + arg[i]) << i;
    ref::pool_nd(g, false, false, x.data(), nd.data(), nullptr);
    ref::avgpool2d_forward(g, x.data(), r2.data());
    EXPECT_EQ(nd, r2) << "average " << H << "x" << W;
  }
}

TEST(GlobalPool, ChannelsLastEqualsPlanesBitForBit) {
  const int64_t N = 3, C = 19, HW = 37;
  std::vector<float> x = random_floats(N * C * HW, 81), nhwc(x.size());
  x[4] = -0.0f;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) nhwc[static_cast<std::size_t>((n * HW + i) * C + c)] = x[static_cast<std::size_t>((n * C + c) * HW + i)];
  for (const bool is_max : {true, false}) {
    std::vector<float> planes(static_cast<std::size_t>(N * C)), last(planes.size());
    global_pool(is_max, N * C, HW, x.data(), planes.data());
    global_pool_nhwc(is_max, N, HW, C, nhwc.data(), last.data());
    EXPECT_EQ(0, std::memcmp(planes.data(), last.data(), planes.size() * sizeof(float))) << "max " << is_max;
  }
  const double px[] = {1, -2, 4, 0.5, 3, 3};  // two planes of three
  double py[2];
  global_pool(true, 2, 3, px, py);
  EXPECT_EQ(py[0], 4.0);
  EXPECT_EQ(py[1], 3.0);
  global_pool(false, 2, 3, px, py);
  EXPECT_EQ(py[0], 1.0);
  EXPECT_EQ(py[1], 6.5 / 3.0);
}

}  // namespace
}  // namespace lowbit::kernels
