// for_each_sample_summed (src/fqt/sample_sum.h): every sample run once, and the sum of the
// per-sample results the same fp32 additions in sample order as a plain loop, for any thread
// count and group split.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "lowbit/core/threads.h"
#include "sample_sum.h"

namespace lowbit::fqt {
namespace {

// Per-sample values of mixed magnitude (a splitmix64 hash of the indices), so that another
// order of the additions changes the sum.
float value(int64_t n, int64_t i) {
  uint64_t z = static_cast<uint64_t>(n) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (static_cast<float>(z & 0xFFFFF) - float(1 << 19)) * ((z >> 40) & 1 ? 1e-7f : 1e3f);
}

void check(int64_t samples, int64_t floats, int threads) {
  std::vector<float> expect(static_cast<size_t>(floats), 0.5f), got = expect;
  for (int64_t n = 0; n < samples; ++n)
    for (int64_t i = 0; i < floats; ++i) expect[static_cast<size_t>(i)] += value(n, i);
  std::vector<std::atomic<int>> calls(static_cast<size_t>(samples));
  const int saved = num_threads();
  set_num_threads(threads);
  for_each_sample_summed(samples, floats, got.data(), [&](int64_t n, float* out) {
    ++calls[static_cast<size_t>(n)];
    for (int64_t i = 0; i < floats; ++i) out[i] = value(n, i);
  });
  set_num_threads(saved);
  for (int64_t n = 0; n < samples; ++n) ASSERT_EQ(calls[static_cast<size_t>(n)].load(), 1) << "sample " << n;
  for (int64_t i = 0; i < floats; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)], expect[static_cast<size_t>(i)]) << "element " << i << " threads " << threads;
}

TEST(SampleSum, EqualsSumInSampleOrderAtAnyThreadCount) {
  // 160 KiB per sample: several groups at every thread count; slices not multiples of 16.
  const int64_t big = 40001;
  for (int threads : {1, 2, 3, 4}) {
    ASSERT_LT(samples_per_group(41, big, threads), 41);
    check(41, big, threads);
    check(5, 7, threads);  // fewer elements than threads × one cache line: idle slices
    check(1, 33, threads);
  }
}

// The budget of sample_sum.h, and the ResNet-20 group counts its comment gives (batch 128).
TEST(SampleSum, GroupsStayWithinTheBudget) {
  auto groups = [](int64_t samples, int64_t floats, int threads) {
    const int64_t G = samples_per_group(samples, floats, threads);
    return (samples + G - 1) / G;
  };
  for (int threads : {1, 2})
    for (int64_t floats : {int64_t{1}, int64_t{1000}, int64_t{36864}, int64_t{1} << 22})
      for (int64_t samples : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{128}}) {
        const int64_t G = samples_per_group(samples, floats, threads);
        const int64_t budget = threads > 1 ? kSampleGroupBytes : kSampleGroupBytesOneThread;
        EXPECT_GE(G, 1);
        EXPECT_LE(G, samples);
        if (G > 1) {
          EXPECT_LE(G * floats * 4, budget) << samples << " samples of " << floats << " floats";
        }
      }
  EXPECT_EQ(groups(128, 16 * 144, 2), 1);   // stage 1: 16 × 16·3·3
  EXPECT_EQ(groups(128, 32 * 288, 2), 2);   // stage 2
  EXPECT_EQ(groups(128, 64 * 576, 2), 5);   // stage 3
}

}  // namespace
}  // namespace lowbit::fqt
