// load_dataset dispatch and the binary cache format (round trip, staleness, corruption).
#include <gtest/gtest.h>

#include <cstdlib>

#include "data/fixtures.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/load.h"

namespace lowbit::data {
namespace {

TEST(LoadDataset, UnknownNameListsValidOnes) {
  try {
    load_dataset("mnist");
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    for (const char* n : {"'mnist'", "fashion-mnist", "dsads", "cifar10", "cifar100"})
      EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
}

TEST(LoadDataset, MissingDirectoriesAreIoErrors) {
  DatasetOptions opt;
  opt.data_dir = (testing::fresh_dir() / "absent").string();
  for (const std::string& name : dataset_names()) EXPECT_THROW(load_dataset(name, opt), IoError) << name;
}

TEST(LoadDataset, NormalizesWithTrainStatistics) {
  const auto dir = testing::fresh_dir();
  std::vector<uint8_t> train(3 * 4), test(1 * 4);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<uint8_t>(i * 20);
  testing::write_bytes(dir / "train-images-idx3-ubyte", testing::idx_bytes({3, 2, 2}, train));
  testing::write_bytes(dir / "train-labels-idx1-ubyte", testing::idx_bytes({3}, std::vector<uint8_t>{0, 1, 2}));
  testing::write_bytes(dir / "t10k-images-idx3-ubyte", testing::idx_bytes({1, 2, 2}, test));
  testing::write_bytes(dir / "t10k-labels-idx1-ubyte", testing::idx_bytes({1}, std::vector<uint8_t>{4}));
  DatasetOptions opt;
  opt.data_dir = dir.string();
  const DatasetSplit s = load_dataset("fashion-mnist", opt);
  ASSERT_EQ(s.stats.mean.size(), 1u);
  EXPECT_NEAR(s.stats.mean[0], 110.0 / 255.0, 1e-6);
  EXPECT_NEAR(channel_stats(s.train).mean[0], 0.0, 1e-6);
  EXPECT_NEAR(s.test.inputs.data<float>()[0], (0 - s.stats.mean[0]) / s.stats.stddev[0], 1e-6);
  opt.normalize = false;
  EXPECT_TRUE(load_dataset("fashion-mnist", opt).stats.empty());
}

TEST(Cache, RoundTripStaleAndCorrupt) {
  CacheEntry e;
  e.strings = {"alpha", ""};
  e.tensors = {Tensor::from({2, 2}, {1.5f, -2, 3, 4}), Tensor::zeros({3}, DType::u8), Tensor::empty({0, 4})};
  const Bytes b = encode_cache(77, e);
  const auto d = decode_cache(b, 77, "c");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->strings, e.strings);
  ASSERT_EQ(d->tensors.size(), 3u);
  EXPECT_EQ(d->tensors[0].to_vector(), e.tensors[0].to_vector());
  EXPECT_EQ(d->tensors[1].dtype(), DType::u8);
  EXPECT_EQ(d->tensors[2].shape(), (Shape{0, 4}));
  EXPECT_FALSE(decode_cache(b, 78, "c").has_value());  // stale, not an error
  Bytes flipped = b;
  flipped.back() ^= 1;
  EXPECT_IO_ERROR(decode_cache(flipped, 77, "'c'"), "'c'", "checksum");
  EXPECT_IO_ERROR(decode_cache(std::span(b).first(b.size() - 3), 77, "'c'"), "payload bytes");
  EXPECT_IO_ERROR(decode_cache(std::span(b).first(10), 77, "'c'"), "not a lowbit data cache");

  const auto path = testing::fresh_dir() / "c.bin";
  ASSERT_TRUE(write_cache(path, 5, e));
  EXPECT_TRUE(read_cache(path, 5).has_value());
  EXPECT_FALSE(read_cache(path, 6).has_value());
  testing::write_text(path, "LBDCACHE and then garbage");
  EXPECT_FALSE(read_cache(path, 5).has_value());  // corrupt: rebuilt by the caller
  EXPECT_FALSE(write_cache(path.parent_path() / "no/such/dir/c.bin", 5, e));
}

}  // namespace
}  // namespace lowbit::data
