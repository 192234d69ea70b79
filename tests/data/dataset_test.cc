// Dataset subsets and class filters, the seeded batch loader, and per-channel normalization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "lowbit/data/dataset.h"

namespace lowbit::data {
namespace {

// n samples of shape (2, 3): inputs[i, c, k] = 100*i + 10*c + k; label = i % 4.
Dataset toy(int64_t n) {
  Dataset ds;
  ds.inputs = Tensor::empty({n, 2, 3});
  ds.labels = Tensor::empty({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 3; ++k) ds.inputs.data<float>()[i * 6 + c * 3 + k] = static_cast<float>(100 * i + 10 * c + k);
    ds.labels.data<int32_t>()[i] = static_cast<int32_t>(i % 4);
  }
  ds.num_classes = 4;
  ds.class_names = {"a", "b", "c", "d"};
  ds.name = "toy";
  return ds;
}

TEST(Dataset, SubsetCopiesRowsInOrder) {
  const Dataset ds = toy(10);
  const std::vector<int64_t> idx = {7, 2, 2};
  const Dataset s = ds.subset(idx);
  ASSERT_EQ(s.size(), 3);
  EXPECT_EQ(s.sample_shape(), (Shape{2, 3}));
  EXPECT_FALSE(s.inputs.shares_storage(ds.inputs));
  EXPECT_EQ(s.inputs.data<float>()[0], 700.0f);
  EXPECT_EQ(s.inputs.data<float>()[6 + 5], 212.0f);
  EXPECT_EQ(s.labels.data<int32_t>()[0], 3);
  const std::vector<int64_t> bad = {10};
  EXPECT_THROW(ds.subset(bad), ValueError);
}

TEST(Dataset, FilterClassesKeepsGlobalIdsOrRemaps) {
  const Dataset ds = toy(12);
  const std::vector<int> cls = {3, 1};
  const Dataset keep = ds.filter_classes(cls);
  ASSERT_EQ(keep.size(), 6);
  EXPECT_EQ(keep.num_classes, 4);
  for (int64_t i = 0; i < keep.size(); ++i) {
    const int32_t l = keep.labels.data<int32_t>()[i];
    EXPECT_TRUE(l == 1 || l == 3);
    // Original order: samples 1, 3, 5, 7, 9, 11.
    EXPECT_EQ(keep.inputs.data<float>()[i * 6], static_cast<float>(100 * (2 * i + 1)));
  }
  const Dataset re = ds.filter_classes(cls, /*remap=*/true);
  EXPECT_EQ(re.num_classes, 2);
  EXPECT_EQ(re.class_names, (std::vector<std::string>{"d", "b"}));
  EXPECT_EQ(re.labels.data<int32_t>()[0], 1);  // sample 1 had class 1 -> position 1 in {3, 1}
  EXPECT_EQ(re.labels.data<int32_t>()[1], 0);  // sample 3 had class 3 -> 0
  re.validate("test");
  EXPECT_EQ(re.class_counts(), (std::vector<int64_t>{3, 3}));
  const std::vector<int> dup = {1, 1}, out_of_range = {4};
  EXPECT_THROW(ds.filter_classes(dup), ValueError);
  EXPECT_THROW(ds.filter_classes(out_of_range), ValueError);
}

TEST(Dataset, ValidateRejectsBadLabels) {
  Dataset ds = toy(4);
  ds.labels.data<int32_t>()[2] = 4;
  EXPECT_THROW(ds.validate("test"), ValueError);
  EXPECT_THROW(BatchLoader(ds, 2, true, 0), ValueError);
}

TEST(BatchLoader, PermutationDependsOnlyOnSeedAndEpoch) {
  const Dataset ds = toy(50);
  const BatchLoader a(ds, 8, true, 42), b(ds, 8, true, 42), c(ds, 8, true, 43);
  const auto p3 = a.permutation(3);
  (void)b.permutation(0);  // other epochs drawn first must not matter
  EXPECT_EQ(b.permutation(3), p3);
  EXPECT_NE(a.permutation(4), p3);
  EXPECT_NE(c.permutation(3), p3);
  std::vector<int64_t> sorted = p3;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(50);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);  // a permutation
  EXPECT_NE(p3, iota);
  EXPECT_EQ(BatchLoader(ds, 8, false, 42).permutation(3), iota);
}

TEST(BatchLoader, BatchesCoverEpochAndHonourDropLast) {
  const Dataset ds = toy(10);
  const BatchLoader keep(ds, 4, true, 7), drop(ds, 4, true, 7, /*drop_last=*/true);
  EXPECT_EQ(keep.num_batches(), 3);
  EXPECT_EQ(drop.num_batches(), 2);
  const auto epoch = keep.epoch(1);
  std::multiset<float> firsts;
  int64_t batches = 0, samples = 0;
  for (const Batch& b : epoch) {
    ASSERT_TRUE(b.inputs.is_contiguous());
    EXPECT_EQ(b.inputs.shape(), (Shape{b.size(), 2, 3}));
    for (int64_t i = 0; i < b.size(); ++i) {
      const float x0 = b.inputs.data<float>()[i * 6];
      firsts.insert(x0);
      // The row is the whole sample of the label beside it.
      EXPECT_EQ(b.labels.data<int32_t>()[i], static_cast<int32_t>(x0 / 100) % 4);
      EXPECT_EQ(b.inputs.data<float>()[i * 6 + 5], x0 + 12);
      // indices name the sample's row in the data set (toy row r starts with 100 * r).
      ASSERT_EQ(b.indices.size(), static_cast<size_t>(b.size()));
      EXPECT_EQ(100.0f * static_cast<float>(b.indices[static_cast<size_t>(i)]), x0);
    }
    samples += b.size();
    ++batches;
  }
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(samples, 10);
  EXPECT_EQ(firsts.size(), 10u);
  EXPECT_EQ(*firsts.rbegin(), 900.0f);
  // Same order as the loader's permutation; drop_last ends with a full batch.
  EXPECT_EQ(epoch[0].inputs.data<float>()[0], 100.0f * static_cast<float>(keep.permutation(1)[0]));
  int64_t dropped = 0;
  for (const Batch& b : drop.epoch(1)) {
    EXPECT_EQ(b.size(), 4);
    dropped += b.size();
  }
  EXPECT_EQ(dropped, 8);
  int64_t from_temporary = 0;  // the epoch outlives the loader expression it came from
  for (const Batch& b : BatchLoader(ds, 3, true, 1).epoch(0)) from_temporary += b.size();
  EXPECT_EQ(from_temporary, 10);
  EXPECT_THROW(BatchLoader(ds, 0, true, 0), ValueError);
}

TEST(Normalize, TrainStatisticsAppliedToBoth) {
  DatasetSplit split{toy(6), toy(3), {}};
  const ChannelStats st = channel_stats(split.train);
  ASSERT_EQ(st.mean.size(), 2u);
  // Channel 0 of sample i holds 100*i + k, k in {0,1,2}: mean 250 + 1, var = var(100 i) + var(k).
  EXPECT_NEAR(st.mean[0], 251.0, 1e-3);
  const double var = (100.0 * 100.0 * 35.0 / 12.0) + 2.0 / 3.0;
  EXPECT_NEAR(st.stddev[0], std::sqrt(var), 1e-3);
  EXPECT_NEAR(st.mean[1], 261.0, 1e-3);
  normalize(split);
  EXPECT_EQ(split.stats.mean, st.mean);
  const ChannelStats after = channel_stats(split.train);
  EXPECT_NEAR(after.mean[0], 0.0, 1e-5);
  EXPECT_NEAR(after.stddev[0], 1.0, 1e-5);
  // Test split uses the train statistics, not its own.
  EXPECT_NEAR(split.test.inputs.data<float>()[0], (0.0 - 251.0) / std::sqrt(var), 1e-5);
}

TEST(Normalize, MinMaxMapsTrainToUnitInterval) {
  DatasetSplit split{toy(6), toy(3), {}};
  normalize(split, Normalization::minmax);
  // Channel 0 of the train split spans [0, 502] (100*i + k): min 0, range 502.
  EXPECT_EQ(split.stats.mean[0], 0.0f);
  EXPECT_EQ(split.stats.stddev[0], 502.0f);
  float lo = 1e9f, hi = -1e9f;
  for (float v : split.train.inputs.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  Dataset flat = toy(4);  // a constant channel keeps range 1 (no division by zero)
  for (int64_t i = 0; i < 4; ++i)
    for (int k = 0; k < 3; ++k) flat.inputs.data<float>()[i * 6 + 3 + k] = 5.0f;
  EXPECT_EQ(channel_minmax(flat).stddev[1], 1.0f);
}

TEST(Normalize, ConstantChannelBecomesZeros) {
  Dataset ds = toy(4);
  for (int64_t i = 0; i < 4; ++i)
    for (int k = 0; k < 3; ++k) ds.inputs.data<float>()[i * 6 + 3 + k] = 5.0f;
  const ChannelStats st = channel_stats(ds);
  EXPECT_EQ(st.stddev[1], 1.0f);
  normalize_(ds, st);
  EXPECT_EQ(ds.inputs.data<float>()[3], 0.0f);
  EXPECT_THROW(normalize_(ds, ChannelStats{{0.0f}, {1.0f}}), ValueError);
}

}  // namespace
}  // namespace lowbit::data
