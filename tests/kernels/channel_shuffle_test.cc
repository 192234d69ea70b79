// Channel shuffle: the reference against a worked example, then every path against the
// reference, byte for byte, for groups 1..8, per-group sizes around the vector widths, planes
// (NCHW, inner > 1) and pixel rows (channels-last, inner = 1), every element size the ONNX engine
// moves (and a 3-byte one, the generic copy); nothing is written past y.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/channel_shuffle.h"

namespace lowbit::kernels {
namespace {

TEST(ChannelShuffle, ReferenceInterleavesTheGroups) {
  // Two groups of three channels, one pixel: channel j·2 + i of y is channel i·3 + j of x.
  const std::vector<float> x{0, 1, 2, 10, 11, 12};
  std::vector<float> y(6);
  ref::channel_shuffle(1, 2, 3, 1, sizeof(float), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 10, 1, 11, 2, 12}));
  // NCHW planes of two pixels: whole planes move.
  const std::vector<int16_t> p{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};  // 2 groups × 3 channels × 2 pixels
  std::vector<int16_t> q(12);
  ref::channel_shuffle(1, 2, 3, 2, sizeof(int16_t), p.data(), q.data());
  EXPECT_EQ(q, (std::vector<int16_t>{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}));
}

TEST(ChannelShuffle, EveryPathEqualsReference) {
  const Isa saved = active_isa();
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    for (size_t es : {1, 2, 3, 4, 8})
      for (int64_t outer : {1, 3, 7})
        for (int64_t groups : {1, 2, 3, 4, 8})
          for (int64_t per : {1, 5, 16, 29, 58})
            for (int64_t inner : {1, 2, 49}) {
              const auto n = static_cast<size_t>(outer * groups * per * inner) * es;
              std::vector<unsigned char> x(n), want(n), got(n + 64, 0xA5);
              for (size_t i = 0; i < n; ++i) x[i] = static_cast<unsigned char>(i * 131 + i / 251);
              ref::channel_shuffle(outer, groups, per, inner, es, x.data(), want.data());
              channel_shuffle(outer, groups, per, inner, es, x.data(), got.data());
              ASSERT_EQ(std::memcmp(got.data(), want.data(), n), 0)
                  << isa_name(isa) << " es " << es << " outer " << outer << " g " << groups << " per " << per << " inner " << inner;
              for (size_t i = n; i < got.size(); ++i) ASSERT_EQ(got[i], 0xA5) << "written past y";
            }
  }
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
