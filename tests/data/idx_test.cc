// IDX parsing, gzip handling and the Fashion-MNIST loader on tiny fixtures written here, plus
// one check of the real Debian package when it is installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "data/fixtures.h"
#include "lowbit/data/idx.h"
#include "lowbit/data/io.h"
#include "require_peer.h"

namespace lowbit::data {
namespace {
namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::gzip;
using testing::idx_bytes;
using testing::write_bytes;

// n images of 2x3 pixels (pixel k of image i = 10*i + k) and labels i % 10.
struct Fixture {
  std::vector<uint8_t> images, labels;
};
Fixture tiny(uint32_t n) {
  std::vector<uint8_t> px(n * 6), lb(n);
  for (uint32_t i = 0; i < n; ++i) {
    for (int k = 0; k < 6; ++k) px[i * 6 + k] = static_cast<uint8_t>(10 * i + k);
    lb[i] = static_cast<uint8_t>(i % 10);
  }
  return {idx_bytes({n, 2, 3}, px), idx_bytes({n}, lb)};
}

// Writes train (5 samples) and t10k (3 samples), gzipped or not.
fs::path write_dir(bool gz) {
  const fs::path dir = fresh_dir(gz ? "-gz" : "-raw");
  for (auto [prefix, n] : {std::pair{"train", 5u}, std::pair{"t10k", 3u}}) {
    const Fixture f = tiny(n);
    const std::string ext = gz ? ".gz" : "";
    write_bytes(dir / (std::string(prefix) + "-images-idx3-ubyte" + ext), gz ? gzip(f.images) : f.images);
    write_bytes(dir / (std::string(prefix) + "-labels-idx1-ubyte" + ext), gz ? gzip(f.labels) : f.labels);
  }
  return dir;
}

TEST(Idx, ParsesHeaderAndPayload) {
  const Fixture f = tiny(4);
  const IdxArray a = parse_idx(f.images, 3, "x");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{4, 2, 3}));
  ASSERT_EQ(a.values.size(), 24u);
  EXPECT_EQ(a.values[7], 11);
}

TEST(Idx, RejectsMalformedHeaders) {
  const Fixture f = tiny(4);
  EXPECT_IO_ERROR(parse_idx(std::span(f.images).first(3), 3, "'img'"), "'img'", "too short", "0x00000803");
  EXPECT_IO_ERROR(parse_idx(f.labels, 3, "'img'"), "'img'", "wrong magic 0x00000801", "expected 0x00000803");
  EXPECT_IO_ERROR(parse_idx(std::span(f.images).first(10), 3, "'img'"), "truncated header");
  EXPECT_IO_ERROR(parse_idx(std::span(f.images).first(f.images.size() - 1), 3, "'img'"), "need 24 payload bytes",
                  "has 23", "truncated");
  std::vector<uint8_t> extra = f.images;
  extra.push_back(0);
  EXPECT_IO_ERROR(parse_idx(extra, 3, "'img'"), "trailing bytes");
  // 4e9 x 4e9 x 4e9 must be rejected from the payload size, without allocating anything.
  const std::vector<uint8_t> absurd = idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, std::vector<uint8_t>(16));
  EXPECT_IO_ERROR(parse_idx(absurd, 3, "'img'"), "absurd dims", "4294967295");
  const std::vector<uint8_t> zero = idx_bytes({0, 2, 3}, {});
  EXPECT_IO_ERROR(parse_idx(zero, 3, "'img'"), "dimension 0 is zero");
  std::vector<uint8_t> int_type = f.images;
  int_type[2] = 0x0C;  // int32 values: not what (Fashion-)MNIST stores
  EXPECT_IO_ERROR(parse_idx(int_type, 3, "'img'"), "wrong magic 0x00000c03");
}

TEST(Idx, GunzipRoundTripAndErrors) {
  std::vector<uint8_t> raw(5000);
  std::iota(raw.begin(), raw.end(), 0);
  const std::vector<uint8_t> gz = gzip(raw);
  EXPECT_EQ(gunzip(gz, "x"), raw);
  // Two concatenated members decode to both payloads.
  std::vector<uint8_t> two = gz;
  two.insert(two.end(), gz.begin(), gz.end());
  EXPECT_EQ(gunzip(two, "x").size(), 10000u);
  EXPECT_IO_ERROR(gunzip(std::span(gz).first(gz.size() / 2), "'f.gz'"), "'f.gz'", "truncated gzip stream");
  std::vector<uint8_t> bad = gz;
  bad[12] ^= 0xFF;
  bad[13] ^= 0xFF;
  EXPECT_IO_ERROR(gunzip(bad, "'f.gz'"), "'f.gz'", "corrupt gzip data");
  EXPECT_IO_ERROR(gunzip(gz, "'f.gz'", 1000), "more than 1000 bytes");
}

TEST(FashionMnist, LoadsGzippedAndUncompressed) {
  for (bool gz : {true, false}) {
    const DatasetSplit s = load_fashion_mnist(write_dir(gz));
    ASSERT_EQ(s.train.size(), 5);
    ASSERT_EQ(s.test.size(), 3);
    EXPECT_EQ(s.train.inputs.shape(), (Shape{5, 1, 2, 3}));
    EXPECT_FLOAT_EQ(s.train.inputs.data<float>()[6 * 4 + 5], 45.0f / 255.0f);
    EXPECT_EQ(s.test.labels.data<int32_t>()[2], 2);
    EXPECT_EQ(s.train.num_classes, 10);
    EXPECT_EQ(s.train.class_names[9], "ankle boot");
    s.train.validate("test");
  }
}

TEST(FashionMnist, ErrorsNameTheFile) {
  EXPECT_IO_ERROR(load_fashion_mnist(fresh_dir() / "nope"), "nope", "not found", "dataset-fashion-mnist", "--data-dir");
  {
    const fs::path dir = write_dir(true);
    fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "missing file", "t10k-labels-idx1-ubyte.gz");
  }
  {  // truncated gzip
    const fs::path dir = write_dir(true);
    const Bytes gz = read_file(dir / "train-images-idx3-ubyte.gz");
    write_bytes(dir / "train-images-idx3-ubyte.gz", std::span(gz).first(gz.size() - 12));
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "train-images-idx3-ubyte.gz", "truncated gzip");
  }
  {  // corrupt deflate data
    const fs::path dir = write_dir(true);
    Bytes gz = read_file(dir / "train-images-idx3-ubyte.gz");
    for (size_t i = 10; i < gz.size() - 8; ++i) gz[i] = 0xFF;
    write_bytes(dir / "train-images-idx3-ubyte.gz", gz);
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "train-images-idx3-ubyte.gz", "corrupt gzip");
  }
  {  // uncompressed and truncated
    const fs::path dir = write_dir(false);
    const Fixture f = tiny(5);
    write_bytes(dir / "train-images-idx3-ubyte", std::span(f.images).first(f.images.size() - 4));
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "train-images-idx3-ubyte'", "truncated");
  }
  {  // labels where images belong
    const fs::path dir = write_dir(false);
    write_bytes(dir / "train-images-idx3-ubyte", tiny(5).labels);
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "train-images-idx3-ubyte", "wrong magic 0x00000801");
  }
  {  // count mismatch
    const fs::path dir = write_dir(false);
    write_bytes(dir / "train-labels-idx1-ubyte", tiny(4).labels);
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "train-labels-idx1-ubyte", "4 labels for 5 images");
  }
  {  // label out of range
    const fs::path dir = write_dir(false);
    const std::vector<uint8_t> lb = {0, 1, 10, 3, 4};
    write_bytes(dir / "train-labels-idx1-ubyte", idx_bytes({5}, lb));
    EXPECT_IO_ERROR(load_fashion_mnist(dir), "label 10 of sample 2", "expected 0..9");
  }
}

TEST(FashionMnist, RealPackage) {
  if (!fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz"))
    LOWBIT_SKIP_ABSENT_PEER("dataset-fashion-mnist is not installed (scripts/setup)");
  const DatasetSplit s = load_fashion_mnist();
  ASSERT_EQ(s.train.size(), 60000);
  ASSERT_EQ(s.test.size(), 10000);
  EXPECT_EQ(s.train.inputs.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(s.train.class_counts(), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(s.test.class_counts(), std::vector<int64_t>(10, 1000));
}

}  // namespace
}  // namespace lowbit::data
