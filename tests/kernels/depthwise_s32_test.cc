// depthwise_nhwc_s32 (ConvInteger's depthwise sums) on every path this CPU runs against the
// scalar reference, bit for bit: 1×1 to 7×7 and odd tap counts, strides 1-3, dilation,
// asymmetric and oversized padding, masked channel tails, row sub-ranges, extreme codes; the
// reference against the ONNX ConvInteger reference (conv_nd_integer, groups = C) through the
// zero-point identity of qlinear.h; and subtract_zero_points with a zero point per column.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/conv_nd_ref.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {
namespace {

struct DwCase {
  int64_t C, H, W, R, S, pt, pl, pb, pr, stride, dil;
};

const std::vector<DwCase> kCases = {
    {16, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},   {20, 9, 8, 3, 3, 1, 1, 1, 1, 2, 1},  {144, 6, 6, 3, 3, 0, 0, 1, 1, 2, 1},
    {33, 5, 7, 5, 5, 2, 2, 2, 2, 1, 1},   {8, 4, 4, 1, 1, 0, 0, 0, 0, 1, 1},   {17, 6, 5, 2, 3, 1, 0, 0, 2, 1, 1},
    {24, 11, 10, 7, 7, 3, 3, 3, 3, 3, 1}, {40, 9, 9, 3, 3, 2, 2, 2, 2, 1, 2},  {5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
    {32, 3, 12, 3, 3, 4, 0, 4, 1, 2, 1},  {3, 8, 3, 3, 1, 0, 0, 0, 0, 1, 1},   {96, 2, 2, 3, 3, 2, 2, 2, 2, 1, 1},
};

ConvGeom geom(const DwCase& c) {
  return ConvGeom::conv2d(1, c.C, c.H, c.W, c.C, c.R, c.S)
      .strides(c.stride, c.stride)
      .pads(c.pt, c.pl, c.pb, c.pr)
      .dilations(c.dil, c.dil)
      .grouped(c.C);
}

TEST(DepthwiseS32, EveryPathMatchesTheReference) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> ud(0, 255), wd(-255, 255), cd(-100000, 100000);
  const Isa saved = active_isa();
  for (const DwCase& c : kCases)
    for (bool extreme : {false, true}) {
      const ConvGeom g = geom(c);
      ASSERT_GT(g.OH(), 0);
      ASSERT_GT(g.OW(), 0);
      const int64_t T = g.R() * g.S();
      const size_t xbytes = static_cast<size_t>(g.H() * g.W() * g.C);
      std::unique_ptr<uint8_t[]> x(new uint8_t[xbytes]);  // exact size: ASan sees a read past it
      std::vector<int16_t> w(static_cast<size_t>(T * g.C));
      std::unique_ptr<int16_t[]> wp(new int16_t[static_cast<size_t>(depthwise_s16_size(T, g.C))]);
      std::vector<int32_t> corr(static_cast<size_t>(g.C));
      for (size_t i = 0; i < xbytes; ++i) x[i] = static_cast<uint8_t>(extreme ? 255 : ud(rng));
      for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int16_t>(extreme ? (i % 2 ? 255 : -255) : wd(rng));
      for (auto& v : corr) v = cd(rng);
      depthwise_pack_s16(T, g.C, w.data(), wp.get());
      const uint8_t pad = extreme ? 255 : 77;
      std::vector<int32_t> want(static_cast<size_t>(g.OH() * g.OW() * g.C)), got(want.size());
      ref::depthwise_nhwc_s32(g, x.get(), pad, wp.get(), corr.data(), want.data(), 0, g.OH());
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        std::fill(got.begin(), got.end(), -1);
        const int64_t mid = g.OH() / 2;  // rows in two ranges, as the caller's threads split them
        depthwise_nhwc_s32(g, x.get(), pad, wp.get(), corr.data(), got.data(), 0, mid);
        depthwise_nhwc_s32(g, x.get(), pad, wp.get(), corr.data(), got.data(), mid, g.OH());
        EXPECT_EQ(got, want) << "C=" << c.C << " " << c.H << "x" << c.W << " kernel " << c.R << "x" << c.S << " stride "
                             << c.stride << " extreme=" << extreme << " on " << isa_name(isa);
      }
      set_active_isa(saved);
    }
}

// pad = z, w − wz, corr = −z·Σ w: the ONNX ConvInteger sums Σ (x − z)(w − wz) of the N-d reference.
TEST(DepthwiseS32, ZeroPointIdentityGivesConvIntegerSums) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  for (const DwCase& c : kCases) {
    const ConvGeom g = geom(c);
    const int64_t C = g.C, T = g.R() * g.S(), P = g.OH() * g.OW();
    std::vector<uint8_t> xc(static_cast<size_t>(C * g.H() * g.W())), xl(xc.size());  // NCHW and HWC
    std::vector<int8_t> w(static_cast<size_t>(C * T));                                 // [C][1][R][S]
    for (auto& v : xc) v = static_cast<uint8_t>(ud(rng));
    for (auto& v : w) v = static_cast<int8_t>(sd(rng));
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t i = 0; i < g.H() * g.W(); ++i) xl[static_cast<size_t>(i * C + ch)] = xc[static_cast<size_t>(ch * g.H() * g.W() + i)];
    const int32_t z = 131, wz = -7;
    std::vector<int16_t> wt(static_cast<size_t>(T * C));
    std::vector<int32_t> corr(static_cast<size_t>(C), 0);
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t t = 0; t < T; ++t) {
        const auto v = static_cast<int16_t>(w[static_cast<size_t>(ch * T + t)] - wz);
        wt[static_cast<size_t>(t * C + ch)] = v;
        corr[static_cast<size_t>(ch)] -= z * v;
      }
    std::vector<int16_t> wp(static_cast<size_t>(depthwise_s16_size(T, C)));
    depthwise_pack_s16(T, C, wt.data(), wp.data());
    std::vector<int32_t> got(static_cast<size_t>(P * C)), want(got.size());
    ref::depthwise_nhwc_s32(g, xl.data(), static_cast<uint8_t>(z), wp.data(), corr.data(), got.data(), 0, g.OH());
    ref::conv_nd_integer(g, xc.data(), z, w.data(), wz, want.data());  // [C][OH][OW]
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t p = 0; p < P; ++p)
        ASSERT_EQ(got[static_cast<size_t>(p * C + ch)], want[static_cast<size_t>(ch * P + p)]) << "C=" << C << " ch " << ch << " p " << p;
  }
}

TEST(QlinearZeroPoints, PerColumnWeightZeroPointsEqualTheCenteredSum) {
  const int64_t M = 6, N = 9, K = 21, lda = 24;
  std::vector<uint8_t> a(static_cast<size_t>(M * lda));
  std::vector<int8_t> w(static_cast<size_t>(N * K));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 41 + 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i * 59 + 1);
  std::vector<int32_t> colsum(N, 0), wz(N);
  for (int64_t n = 0; n < N; ++n) {
    wz[static_cast<size_t>(n)] = static_cast<int32_t>(n * 37 % 256) - 128;
    for (int64_t k = 0; k < K; ++k) colsum[static_cast<size_t>(n)] += w[static_cast<size_t>(n * K + k)];
  }
  for (int32_t az : {0, 128, 255}) {
    std::vector<int32_t> c(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int32_t s = 0;
        for (int64_t k = 0; k < K; ++k) s += a[static_cast<size_t>(m * lda + k)] * w[static_cast<size_t>(n * K + k)];
        c[static_cast<size_t>(m * N + n)] = s;
      }
    subtract_zero_points(M, N, K, a.data(), lda, az, colsum.data(), wz.data(), c.data(), N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int32_t want = 0;
        for (int64_t k = 0; k < K; ++k)
          want += (a[static_cast<size_t>(m * lda + k)] - az) * (w[static_cast<size_t>(n * K + k)] - wz[static_cast<size_t>(n)]);
        EXPECT_EQ(c[static_cast<size_t>(m * N + n)], want) << m << " " << n << " az " << az;
      }
  }
}

}  // namespace
}  // namespace lowbit::kernels
