// The VNNI depthwise 3×3 kernel (depthwise_avx512vnni.cc, strides 1 and 2) against the scalar
// reference, bit for bit: asymmetric and oversized padding, images of one pixel or narrower than
// the window, channel counts with a masked tail, row sub-ranges, extreme codes and weights, and
// the AVX-512 `vpmulld` kernel beside it.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <random>
#include <vector>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {
namespace {

TEST(DepthwiseVnni, ThreeByThreeMatchesReference) {
  if (!isa_supported(Isa::avx512vnni)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127), cd(-30000, 30000);
  const Isa saved = active_isa();
  // {C, H, W, pad top, left, bottom, right, stride}
  for (const auto& c : std::vector<std::array<int64_t, 8>>{{16, 7, 7, 1, 1, 1, 1, 1},
                                                           {20, 5, 9, 1, 1, 1, 1, 1},
                                                           {144, 6, 6, 1, 1, 1, 1, 1},
                                                           {32, 1, 1, 1, 1, 1, 1, 1},
                                                           {16, 4, 4, 0, 0, 0, 0, 1},
                                                           {24, 3, 5, 2, 2, 2, 2, 1},
                                                           {8, 2, 2, 2, 0, 1, 2, 1},
                                                           {33, 5, 3, 0, 1, 2, 0, 1},
                                                           {48, 3, 12, 1, 0, 1, 1, 1},
                                                           {16, 8, 8, 1, 1, 1, 1, 2},
                                                           {20, 7, 9, 1, 1, 1, 1, 2},
                                                           {96, 6, 6, 0, 0, 1, 1, 2},
                                                           {32, 1, 1, 1, 1, 1, 1, 2},
                                                           {24, 3, 10, 2, 0, 0, 2, 2},
                                                           {8, 5, 4, 0, 1, 1, 0, 2},
                                                           {16, 9, 9, 0, 0, 0, 0, 2},
                                                           {40, 2, 2, 1, 1, 1, 1, 2}})
    for (bool extreme : {false, true}) {
      const ConvGeom g =
          ConvGeom::conv2d(1, c[0], c[1], c[2], c[0], 3, 3).strides(c[7], c[7]).pads(c[3], c[4], c[5], c[6]).grouped(c[0]);
      ASSERT_GT(g.OH(), 0);
      ASSERT_GT(g.OW(), 0);
      const size_t xbytes = static_cast<size_t>(g.H() * g.W() * g.C);
      std::unique_ptr<uint8_t[]> x(new uint8_t[xbytes]);  // exact size: ASan sees a read past it
      std::vector<int8_t> w(static_cast<size_t>(9 * g.C));
      std::vector<int32_t> corr(static_cast<size_t>(g.C));
      std::vector<float> scale(static_cast<size_t>(g.C));
      for (size_t i = 0; i < xbytes; ++i) x[i] = static_cast<uint8_t>(extreme ? 255 : ud(rng));
      for (auto& v : w) v = static_cast<int8_t>(extreme ? -128 : sd(rng));
      for (size_t i = 0; i < corr.size(); ++i) corr[i] = cd(rng), scale[i] = 2e-4f * static_cast<float>(i % 5 + 1);
      const Requant p{corr.data(), scale.data(), 6, 6, 255};
      const uint8_t pad = extreme ? 255 : 91;
      std::vector<uint8_t> want(static_cast<size_t>(g.OH() * g.OW() * g.C)), got(want.size());
      ref::depthwise_nhwc_u8(g, x.get(), pad, w.data(), p, want.data(), 0, g.OH());
      for (Isa isa : {Isa::avx512, Isa::avx512vnni}) {
        set_active_isa(isa);
        std::fill(got.begin(), got.end(), 0);
        // Rows in two ranges, as the caller's threads split them.
        const int64_t mid = g.OH() / 2;
        depthwise_nhwc_u8(g, x.get(), pad, w.data(), p, got.data(), 0, mid);
        depthwise_nhwc_u8(g, x.get(), pad, w.data(), p, got.data(), mid, g.OH());
        EXPECT_EQ(got, want) << "C=" << g.C << " H=" << g.H() << " W=" << g.W() << " extreme=" << extreme << " on "
                             << isa_name(isa);
      }
      set_active_isa(saved);
    }
}

}  // namespace
}  // namespace lowbit::kernels
