// Philox RNG: known-answer vectors, counter semantics, and distribution sanity.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"

namespace lowbit {
namespace {

// Known-answer tests from the Random123 distribution (kat_vectors, philox4x32_10).
TEST(Philox, KnownAnswers) {
  auto r = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
  r = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(r[0], 0x408f276du);
  EXPECT_EQ(r[1], 0x41c83b0eu);
  EXPECT_EQ(r[2], 0xa20bc7c6u);
  EXPECT_EQ(r[3], 0x6d5451fdu);
}

TEST(Philox, FillMatchesPointwiseAtAnyOffset) {
  std::vector<float> all(37), part(20);
  uniform_fill(7, 3, 100, 37, all.data());
  uniform_fill(7, 3, 105, 20, part.data());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(part[i], all[i + 5]);
  EXPECT_EQ(u32_to_unit_float(random_u32(7, 3, 100)), all[0]);
}

TEST(Philox, StreamsAndSeedsDiffer) {
  EXPECT_NE(random_u32(1, 0, 0), random_u32(2, 0, 0));
  EXPECT_NE(random_u32(1, 0, 0), random_u32(1, 1, 0));
}

TEST(Philox, UniformMomentsWithinDerivedBounds) {
  constexpr int n = 1 << 16;
  std::vector<float> u(n), z(n);
  uniform_fill(42, 0, 0, n, u.data());
  normal_fill(42, 1, 0, n, z.data());
  double mu = 0, mz = 0, vz = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_GE(u[i], 0.0f);
    ASSERT_LT(u[i], 1.0f);
    mu += u[i];
    mz += z[i];
    vz += double(z[i]) * z[i];
  }
  mu /= n;
  mz /= n;
  vz /= n;
  // 5 standard errors: sd(U)=1/sqrt(12), sd(Z)=1, sd(Z^2)=sqrt(2).
  EXPECT_NEAR(mu, 0.5, 5 / std::sqrt(12.0 * n));
  EXPECT_NEAR(mz, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(vz, 1.0, 5 * std::sqrt(2.0 / n));
}

TEST(Threads, ParallelForCoversRangeOnce) {
  const int saved = num_threads();
  set_num_threads(2);
  std::vector<int> hit(1001, 0);
  parallel_for(1001, 10, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hit[i]++;
  });
  for (int h : hit) EXPECT_EQ(h, 1);
  EXPECT_THROW(set_num_threads(0), ValueError);
  set_num_threads(saved);
}

}  // namespace
}  // namespace lowbit

namespace lowbit {
namespace {
// The vectorized fill (16 blocks at a time) must equal the scalar definition at every offset.
TEST(Philox, VectorFillEqualsScalarDefinition) {
  for (uint64_t first : {0ull, 1ull, 3ull, 64ull, 0xFFFFFFFDull * 4}) {
    std::vector<float> v(300);
    uniform_fill(0x1234567890ull, 0xABCDEF12345ull, first, 300, v.data());
    for (uint64_t i = 0; i < 300; ++i)
      ASSERT_EQ(v[i], u32_to_unit_float(random_u32(0x1234567890ull, 0xABCDEF12345ull, first + i))) << first << "+" << i;
  }
}
}  // namespace
}  // namespace lowbit
