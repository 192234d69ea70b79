// Resize kernels (kernels/resize.h): the plane paths (gather and taps) and the threaded general
// path give bitwise ref::resize's results for every mode and coordinate rule, up- and
// downsampling, with and without untouched leading axes; plus known values.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "lowbit/kernels/resize.h"

namespace lowbit::kernels {
namespace {

template <typename T>
void fast_matches_reference(uint32_t seed) {
  std::mt19937 rng(seed);
  const ResizeMode modes[] = {ResizeMode::nearest, ResizeMode::linear, ResizeMode::cubic};
  const ResizeCoords coords[] = {ResizeCoords::half_pixel, ResizeCoords::pytorch_half_pixel,
                                 ResizeCoords::align_corners, ResizeCoords::asymmetric,
                                 ResizeCoords::tf_half_pixel_for_nn, ResizeCoords::tf_crop_and_resize};
  const NearestRounding roundings[] = {NearestRounding::round_prefer_floor, NearestRounding::round_prefer_ceil,
                                       NearestRounding::floor, NearestRounding::ceil};
  for (int trial = 0; trial < 400; ++trial) {
    const size_t rank = 1 + rng() % 4;
    const ResizeMode mode = std::is_floating_point_v<T> ? modes[rng() % 3] : ResizeMode::nearest;
    const ResizeCoords coord = coords[rng() % 6];
    const NearestRounding rounding = roundings[rng() % 4];
    const bool exclude = rng() % 4 == 0, touch_leading = rng() % 4 == 0;
    Shape in(rank), out(rank);
    std::vector<ResizeTaps> taps;
    for (size_t d = 0; d < rank; ++d) {
      ResizeAxisSpec s;
      s.in = 1 + static_cast<int64_t>(rng() % 7);
      const bool resized = d + 2 >= rank || touch_leading;
      s.scale = resized ? std::vector<double>{0.5, 0.75, 1.0, 1.5, 2.0, 3.0}[rng() % 6] : 1.0;
      s.out = static_cast<int64_t>(std::floor(static_cast<double>(s.in) * s.scale));
      s.mode = resized ? mode : ResizeMode::nearest;
      s.coords = resized ? coord : ResizeCoords::asymmetric;
      s.nearest = rounding;
      s.exclude_outside = exclude;
      s.roi_start = 0.1 * static_cast<double>(rng() % 4) - 0.1;
      s.roi_end = 1.1 - 0.1 * static_cast<double>(rng() % 4);
      in[d] = s.in;
      out[d] = s.out;
      taps.push_back(resize_taps(s));
    }
    int64_t n_in = 1, n_out = 1;
    for (size_t d = 0; d < rank; ++d) n_in *= in[d], n_out *= out[d];
    std::vector<T> x(static_cast<size_t>(n_in));
    for (auto& v : x) v = static_cast<T>(static_cast<int>(rng() % 200) - (std::is_signed_v<T> ? 100 : 0));
    if constexpr (std::is_floating_point_v<T>)
      if (!x.empty()) x[0] = T(-0.0);
    std::vector<T> fast(static_cast<size_t>(n_out), T{9}), want(fast);
    resize<T>(in, out, taps, -0.0, x.data(), fast.data());
    ref::resize<T>(in, out, taps, -0.0, x.data(), want.data());
    for (size_t i = 0; i < fast.size(); ++i)
      if (std::memcmp(&fast[i], &want[i], sizeof(T)) != 0) {
        ADD_FAILURE() << "element " << i << " fast " << double(fast[i]) << " ref " << double(want[i]) << (touch_leading ? " (leading axes resized)" : "");
        break;
      }
    ASSERT_EQ(fast.empty() ? 0 : std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)), 0)
        << "trial " << trial << " rank " << rank << " mode " << static_cast<int>(mode) << " coords "
        << static_cast<int>(coord);
  }
}

TEST(Resize, EveryPathMatchesReferenceBitwise) {
  fast_matches_reference<float>(1);
  fast_matches_reference<double>(2);
  fast_matches_reference<uint8_t>(3);
  fast_matches_reference<int8_t>(4);
}

TEST(Resize, KnownValues) {
  // Nearest 2x of a 2x2 image (asymmetric, floor: each pixel becomes a 2x2 block).
  ResizeAxisSpec s;
  s.in = 2, s.out = 4, s.scale = 2, s.coords = ResizeCoords::asymmetric, s.nearest = NearestRounding::floor;
  const std::vector<ResizeTaps> taps = {resize_taps(s), resize_taps(s)};
  const float x[4] = {1, 2, 3, 4};
  float y[16];
  resize<float>({2, 2}, {4, 4}, taps, 0, x, y);
  EXPECT_EQ(std::vector<float>(y, y + 16), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));

  // Linear, align_corners, 2 -> 3 along one axis: the midpoint is the mean.
  ResizeAxisSpec l;
  l.in = 2, l.out = 3, l.scale = 1.5, l.mode = ResizeMode::linear, l.coords = ResizeCoords::align_corners;
  const std::vector<ResizeTaps> lt = {resize_taps(l)};
  const double xl[2] = {10, 20};
  double yl[3];
  resize<double>({2}, {3}, lt, 0, xl, yl);
  EXPECT_EQ(std::vector<double>(yl, yl + 3), (std::vector<double>{10, 15, 20}));

  // An untouched axis is the identity.
  ResizeAxisSpec id;
  id.in = 5, id.out = 5, id.coords = ResizeCoords::asymmetric;
  EXPECT_TRUE(resize_taps(id).identity());
  EXPECT_FALSE(resize_taps(s).identity());
}

}  // namespace
}  // namespace lowbit::kernels
