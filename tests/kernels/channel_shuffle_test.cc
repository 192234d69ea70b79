// Channel shuffle: the reference against a worked example, then every path against the
// reference, byte for byte, for groups 1..8, per-group sizes around the vector widths, planes
// (NCHW, inner > 1) and pixel rows (channels-last, inner = 1), every element size the ONNX engine
// moves (and a 3-byte one, the generic copy); nothing is written past y. The channel gather
// likewise: ShuffleNet's two-way interleaves, plain runs and scattered maps over several inputs,
// every path against its reference at 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/core/threads.h"
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

TEST(GatherChannels, ReferenceFollowsTheMap) {
  // Two inputs of 3 and 2 channels, two pixels (channels-last rows), and one NCHW image of 2 × 2 planes.
  const std::vector<float> a{0, 1, 2, 10, 11, 12}, b{100, 101, 110, 111};
  const void* parts[] = {a.data(), b.data()};
  const int64_t channels[] = {3, 2};
  const ChannelSource map[] = {{0, 2}, {1, 0}, {0, 0}};
  std::vector<float> y(6);
  ref::gather_channels(2, 1, map, 3, parts, channels, sizeof(float), y.data());
  EXPECT_EQ(y, (std::vector<float>{2, 100, 0, 12, 110, 10}));
  const std::vector<float> planes{0, 1, 2, 3}, other{5, 6};  // [1, 2, 2] and [1, 1, 2]
  const void* nchw[] = {planes.data(), other.data()};
  const int64_t nchw_channels[] = {2, 1};
  const ChannelSource plane_map[] = {{1, 0}, {0, 1}};
  std::vector<float> z(4);
  ref::gather_channels(1, 2, plane_map, 2, nchw, nchw_channels, sizeof(float), z.data());
  EXPECT_EQ(z, (std::vector<float>{5, 6, 2, 3}));
}

// The maps the ONNX op builds, and others: a two-way interleave of halves (ShuffleNet's chunk of
// a shuffled concat, g = 2), a g-way shuffle slice, one input's run (a plain slice), a concat of
// all inputs, random scatter; inputs of different channel counts.
std::vector<std::vector<ChannelSource>> gather_maps(const std::vector<int64_t>& ch, std::mt19937& rng) {
  std::vector<std::vector<ChannelSource>> maps;
  const int64_t h = std::min(ch[0], ch[1]);
  for (int64_t first : {int64_t{0}, h / 2}) {  // the halves of a shuffled concat of two parts
    std::vector<ChannelSource> m;
    for (int64_t k = first; k < h; ++k) m.push_back({0, k}), m.push_back({1, k});
    maps.push_back(m);
  }
  const int64_t total = ch[0] + ch[1] + ch[2];
  for (int64_t g : {3, 4}) {  // shuffled channel q of the concat of all three parts, q in [1, total)
    if (total % g) continue;
    std::vector<ChannelSource> m;
    for (int64_t q = 1; q < total; ++q) {
      int64_t c = (q % g) * (total / g) + q / g;
      int32_t t = 0;
      while (c >= ch[static_cast<size_t>(t)]) c -= ch[static_cast<size_t>(t++)];
      m.push_back({t, c});
    }
    maps.push_back(m);
  }
  std::vector<ChannelSource> run, all, scatter;
  for (int64_t c = 1; c < ch[2]; ++c) run.push_back({2, c});
  for (int32_t t = 0; t < 3; ++t)
    for (int64_t c = 0; c < ch[static_cast<size_t>(t)]; ++c) all.push_back({t, c});
  for (int j = 0; j < 23; ++j) {
    const auto t = static_cast<int32_t>(rng() % 3);
    scatter.push_back({t, static_cast<int64_t>(rng() % static_cast<uint32_t>(ch[static_cast<size_t>(t)]))});
  }
  for (auto* m : {&run, &all, &scatter}) maps.push_back(*m);
  return maps;
}

TEST(GatherChannels, EveryPathEqualsReference) {
  const Isa saved = active_isa();
  std::mt19937 rng(5);
  for (Isa isa : isa_paths())
    for (int threads : {1, 2}) {
      set_active_isa(isa);
      set_num_threads(threads);
      for (const std::vector<int64_t>& ch : {std::vector<int64_t>{58, 58, 7}, std::vector<int64_t>{5, 9, 16}, std::vector<int64_t>{1, 1, 3}})
        for (size_t es : {1, 2, 3, 4, 8})
          for (int64_t outer : {1, 7, 200})
            for (int64_t inner : {1, 3})
              for (const std::vector<ChannelSource>& map : gather_maps(ch, rng)) {
                std::vector<std::vector<unsigned char>> parts;
                std::vector<const void*> ptrs;
                for (size_t t = 0; t < 3; ++t) {
                  parts.emplace_back(static_cast<size_t>(outer * ch[t] * inner) * es);
                  for (size_t i = 0; i < parts.back().size(); ++i) parts.back()[i] = static_cast<unsigned char>(i * 37 + t * 91 + i / 253);
                  ptrs.push_back(parts.back().data());
                }
                const auto n_src = static_cast<int64_t>(map.size());
                const size_t n = static_cast<size_t>(outer * n_src * inner) * es;
                std::vector<unsigned char> want(n), got(n + 64, 0xA5);
                ref::gather_channels(outer, inner, map.data(), n_src, ptrs.data(), ch.data(), es, want.data());
                gather_channels(outer, inner, map.data(), n_src, ptrs.data(), ch.data(), es, got.data());
                ASSERT_EQ(std::memcmp(got.data(), want.data(), n), 0)
                    << isa_name(isa) << " threads " << threads << " es " << es << " outer " << outer << " inner " << inner
                    << " map of " << n_src << " from channels " << ch[0] << "/" << ch[1] << "/" << ch[2];
                for (size_t i = n; i < got.size(); ++i) ASSERT_EQ(got[i], 0xA5) << "written past y";
              }
    }
  set_num_threads(1);
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
