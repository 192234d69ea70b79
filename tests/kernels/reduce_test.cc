// Reductions and arg-max/min (kernels/reduce.h): the fast paths give bitwise the reference's
// result on random shapes and axis sets (size-1 and empty axes included), and the documented
// values hold: means, NaN propagation, saturating integer results, empty reductions, ties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/reduce.h"

namespace lowbit::kernels {
namespace {

constexpr Reduction kAll[] = {Reduction::mean, Reduction::sum,        Reduction::max, Reduction::min,
                              Reduction::prod, Reduction::sum_square, Reduction::l1,  Reduction::l2,
                              Reduction::log_sum, Reduction::log_sum_exp};

template <typename T>
std::vector<T> reduce_of(Reduction r, const std::vector<int64_t>& shape, const std::vector<char>& mask,
                         const std::vector<T>& x, bool reference) {
  auto flags = std::make_unique<bool[]>(shape.size());
  int64_t n_out = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    flags[d] = mask[d] != 0;
    if (!flags[d]) n_out *= shape[d];
  }
  std::vector<T> y(static_cast<size_t>(n_out), T{42});
  if (reference) ref::reduce<T>(r, shape, {flags.get(), shape.size()}, x.data(), y.data());
  else reduce<T>(r, shape, {flags.get(), shape.size()}, x.data(), y.data());
  return y;
}

template <typename T>
void fast_matches_reference(uint32_t seed) {
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> shape(rank);
    std::vector<char> mask(rank);
    int64_t n = 1;
    for (size_t d = 0; d < rank; ++d) {
      shape[d] = trial % 50 == 7 && d == 0 ? 0 : static_cast<int64_t>(1 + rng() % 6);
      if (rank == 1 && trial % 3 == 0) shape[d] = 300 + rng() % 300;  // past one 256-wide chunk
      mask[d] = static_cast<char>(rng() % 2);
      n *= shape[d];
    }
    std::vector<T> x(static_cast<size_t>(n));
    for (auto& v : x) {
      if constexpr (std::is_floating_point_v<T>) v = static_cast<T>(std::uniform_real_distribution<double>(-2, 2)(rng));
      else v = static_cast<T>(static_cast<int>(rng() % 9) - (std::is_signed_v<T> ? 4 : 0));
    }
    if constexpr (std::is_floating_point_v<T>)
      if (!x.empty() && trial % 5 == 0) x[rng() % x.size()] = std::numeric_limits<T>::quiet_NaN();
    for (Reduction r : kAll) {
      const auto fast = reduce_of(r, shape, mask, x, false), want = reduce_of(r, shape, mask, x, true);
      ASSERT_EQ(fast.size(), want.size());
      ASSERT_EQ(fast.empty() ? 0 : std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)), 0)
          << "reduction " << static_cast<int>(r) << " trial " << trial << " rank " << rank;
    }
  }
}

TEST(Reduce, FastPathsMatchReferenceBitwise) {
  fast_matches_reference<float>(1);
  fast_matches_reference<double>(2);
  fast_matches_reference<int32_t>(3);
  fast_matches_reference<uint8_t>(4);
  fast_matches_reference<int8_t>(5);
  fast_matches_reference<int64_t>(6);
}

// The channels-last mean of ShuffleNet's head: [N, H, W, C] over H and W, C past one 256-wide
// chunk and not a multiple of the vector width, NaNs and infinities in some channels; every
// reduction, float and double, bitwise the reference at 1 and 2 threads.
template <typename T>
void channels_last_pixels_match_reference() {
  const std::vector<int64_t> shape{3, 5, 7, 301};
  const std::vector<char> mask{0, 1, 1, 0};
  std::vector<T> x(3 * 5 * 7 * 301);
  std::mt19937 rng(11);
  for (auto& v : x) v = static_cast<T>(std::uniform_real_distribution<double>(-3, 3)(rng));
  x[17] = std::numeric_limits<T>::quiet_NaN();
  x[301 * 9 + 260] = std::numeric_limits<T>::infinity();
  x[301 * 40 + 5] = -std::numeric_limits<T>::infinity();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Reduction r : kAll) {
      const auto fast = reduce_of(r, shape, mask, x, false), want = reduce_of(r, shape, mask, x, true);
      ASSERT_EQ(fast.size(), want.size());
      ASSERT_EQ(std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)), 0)
          << "reduction " << static_cast<int>(r) << " threads " << threads;
    }
  }
  set_num_threads(1);
}

TEST(Reduce, ChannelsLastPixelsMatchReferenceBitwise) {
  channels_last_pixels_match_reference<float>();
  channels_last_pixels_match_reference<double>();
}

TEST(Reduce, KnownValues) {
  const std::vector<int64_t> shape{2, 3, 2};  // x[a][b][c] = 6a + 2b + c
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i);
  // Mean over the middle axis: (x[a][0][c] + x[a][1][c] + x[a][2][c]) / 3 = 6a + 2 + c.
  EXPECT_EQ(reduce_of<float>(Reduction::mean, shape, {0, 1, 0}, x, false), (std::vector<float>{2, 3, 8, 9}));
  // Sum over the first and last axes: the sum over a, c of 6a + 2b + c is 8b + 14.
  EXPECT_EQ(reduce_of<float>(Reduction::sum, shape, {1, 0, 1}, x, false), (std::vector<float>{14, 22, 30}));
  EXPECT_EQ(reduce_of<float>(Reduction::max, shape, {1, 1, 1}, x, false), (std::vector<float>{11}));
  EXPECT_FLOAT_EQ(reduce_of<float>(Reduction::l2, {3}, {1}, {3, 4, 12}, false)[0], 13.0f);
  EXPECT_FLOAT_EQ(reduce_of<float>(Reduction::log_sum_exp, {2}, {1}, {0, 0}, false)[0], std::log(2.0f));

  x[5] = std::numeric_limits<float>::quiet_NaN();  // a = 0, b = 2, c = 1
  const auto m = reduce_of<float>(Reduction::min, shape, {0, 1, 0}, x, false);
  EXPECT_EQ(m[0], 0.0f);
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_EQ(m[2], 6.0f);

  // Integer results saturate instead of wrapping; an empty max is the type's lowest value.
  EXPECT_EQ(reduce_of<int8_t>(Reduction::sum, {3}, {1}, {100, 100, 7}, false)[0], 127);
  EXPECT_EQ(reduce_of<uint8_t>(Reduction::sum, {2}, {1}, {200, 100}, false)[0], 255);
  EXPECT_EQ(reduce_of<int32_t>(Reduction::max, {2, 0}, {0, 1}, {}, false),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::lowest(), std::numeric_limits<int32_t>::lowest()}));
  EXPECT_EQ(reduce_of<float>(Reduction::prod, {0}, {1}, {}, false), (std::vector<float>{1.0f}));
  EXPECT_EQ(reduce_of<float>(Reduction::log_sum, {0}, {1}, {}, false)[0], -std::numeric_limits<float>::infinity());
}

TEST(ArgExtreme, TiesNaNsAndExactInt64) {
  // x viewed as (outer 1, D 4, inner 2): columns {3, 1, 3, 0} and {5, 5, 2, 5}.
  const std::vector<float> x{3, 5, 1, 5, 3, 2, 0, 5};
  std::vector<int64_t> y(2);
  arg_extreme<float>(true, false, 1, 4, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<int64_t>{0, 0}));
  arg_extreme<float>(true, true, 1, 4, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<int64_t>{2, 3}));
  arg_extreme<float>(false, false, 1, 4, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<int64_t>{3, 2}));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> with_nan{1, nan, 4, 2};
  arg_extreme<float>(true, false, 1, 4, 1, with_nan.data(), y.data());
  EXPECT_EQ(y[0], 2);  // later NaNs never win
  const std::vector<float> nan_first{nan, 9, 4};
  arg_extreme<float>(true, false, 1, 3, 1, nan_first.data(), y.data());
  EXPECT_EQ(y[0], 0);  // a NaN in first place is kept

  // 2^53 + 1 and 2^53 are equal as doubles, not as int64.
  const std::vector<int64_t> big{int64_t{1} << 53, (int64_t{1} << 53) + 1};
  arg_extreme<int64_t>(true, false, 1, 2, 1, big.data(), y.data());
  EXPECT_EQ(y[0], 1);

  // Many lines (the parallel split), compared with a plain loop.
  const int64_t outer = 37, D = 5, inner = 61;
  std::vector<int32_t> xi(static_cast<size_t>(outer * D * inner));
  std::mt19937 rng(9);
  for (auto& v : xi) v = static_cast<int32_t>(rng() % 7);
  std::vector<int64_t> yi(static_cast<size_t>(outer * inner));
  arg_extreme<int32_t>(false, true, outer, D, inner, xi.data(), yi.data());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < D; ++k)
        if (xi[static_cast<size_t>((o * D + k) * inner + i)] <= xi[static_cast<size_t>((o * D + best) * inner + i)]) best = k;
      ASSERT_EQ(yi[static_cast<size_t>(o * inner + i)], best);
    }
}

}  // namespace
}  // namespace lowbit::kernels
