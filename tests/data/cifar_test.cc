// CIFAR: JPEG decoding and the image-folder loader (fixtures encoded here with libjpeg), the
// binary CIFAR-10/100 readers, and the real JPEG tree when scripts/fetch-data ran.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "data/fixtures.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/io.h"
#include "require_peer.h"

namespace lowbit::data {
namespace {
namespace fs = std::filesystem;
using testing::encode_jpeg;
using testing::fresh_dir;
using testing::write_bytes;

// Solid-colour RGB image: JPEG reproduces flat colour almost exactly (no edges to ring).
std::vector<uint8_t> solid_jpeg(uint8_t r, uint8_t g, uint8_t b, int side = 32, int comps = 3) {
  std::vector<uint8_t> px(static_cast<size_t>(side) * side * comps);
  for (size_t i = 0; i < px.size(); ++i) px[i] = comps == 1 ? r : (i % 3 == 0 ? r : i % 3 == 1 ? g : b);
  return encode_jpeg(px.data(), side, side, comps);
}

// train/{cat,dog}/{0,1}.jpg and test/{cat,dog}/0.jpg; colour encodes (class, index).
fs::path write_tree() {
  const fs::path root = fresh_dir();
  for (auto [split, n] : {std::pair{"train", 2}, std::pair{"test", 1}})
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < n; ++i)
        write_bytes(root / split / (c ? "dog" : "cat") / fmt::format("{}.jpg", i),
                    solid_jpeg(static_cast<uint8_t>(40 + 100 * c), static_cast<uint8_t>(20 + 60 * i), 200));
  return root;
}

// A solid colour survives JPEG within a few levels (YCbCr rounding); 3/255 bounds it.
constexpr float kJpegTol = 3.0f / 255.0f;

TEST(Cifar, DecodesJpegAndRejectsOthers) {
  std::vector<uint8_t> hwc(32 * 32 * 3);
  decode_jpeg_rgb(solid_jpeg(10, 128, 250), "'x'", hwc.data(), 32, 32);
  EXPECT_NEAR(hwc[3 * 100 + 0], 10, 3);
  EXPECT_NEAR(hwc[3 * 100 + 1], 128, 3);
  EXPECT_NEAR(hwc[3 * 100 + 2], 250, 3);
  EXPECT_IO_ERROR(decode_jpeg_rgb(solid_jpeg(1, 2, 3, 16), "'s.jpg'", hwc.data(), 32, 32), "'s.jpg'", "16x16",
                  "expected 32x32");
  EXPECT_IO_ERROR(decode_jpeg_rgb(solid_jpeg(1, 2, 3, 64), "'b.jpg'", hwc.data(), 32, 32), "64x64", "expected 32x32");
  EXPECT_IO_ERROR(decode_jpeg_rgb(solid_jpeg(9, 9, 9, 32, 1), "'g.jpg'", hwc.data(), 32, 32), "'g.jpg'",
                  "1 colour component", "expected 3-channel");
  const std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_IO_ERROR(decode_jpeg_rgb(junk, "'j.jpg'", hwc.data(), 32, 32), "'j.jpg'", "not a valid JPEG");
  std::vector<uint8_t> cut = solid_jpeg(1, 2, 3);
  cut.resize(cut.size() / 3);
  // A truncated JPEG decodes with a warning (libjpeg pads with grey) or fails; it must not crash.
  try {
    decode_jpeg_rgb(cut, "'c.jpg'", hwc.data(), 32, 32);
  } catch (const IoError&) {
  }
}

TEST(Cifar, LoadsImageFolderWithCache) {
  const fs::path root = write_tree();
  for (int pass = 0; pass < 2; ++pass) {  // pass 1 reads the cache written by pass 0
    const DatasetSplit s = load_image_folder(root);
    EXPECT_EQ(fs::exists(root / ".lowbit-cache-images.bin"), true);
    ASSERT_EQ(s.train.size(), 4);
    ASSERT_EQ(s.test.size(), 2);
    EXPECT_EQ(s.train.class_names, (std::vector<std::string>{"cat", "dog"}));
    EXPECT_EQ(s.train.inputs.shape(), (Shape{4, 3, 32, 32}));
    const int32_t want_labels[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(s.train.labels.data<int32_t>()[i], want_labels[i]);
      const float* x = s.train.inputs.data<float>() + i * 3072;
      // Planes: R = 40 + 100 c, G = 20 + 60 i, B = 200 (CHW layout).
      EXPECT_NEAR(x[5], (40 + 100 * (i / 2)) / 255.0f, kJpegTol);
      EXPECT_NEAR(x[1024 + 5], (20 + 60 * (i % 2)) / 255.0f, kJpegTol);
      EXPECT_NEAR(x[2048 + 1023], 200 / 255.0f, kJpegTol);
    }
  }
}

TEST(Cifar, ImageFolderErrors) {
  {
    const fs::path root = write_tree();
    write_bytes(root / "train/dog/2.jpg", solid_jpeg(1, 2, 3, 24));
    EXPECT_IO_ERROR(load_image_folder(root), "train/dog/2.jpg", "24x24", "expected 32x32");
  }
  {
    const fs::path root = write_tree();
    write_bytes(root / "test/cat/0.jpg", solid_jpeg(1, 1, 1, 32, 1));
    EXPECT_IO_ERROR(load_image_folder(root), "test/cat/0.jpg", "1 colour component");
  }
  {
    const fs::path root = write_tree();
    fs::create_directories(root / "test/emu");
    EXPECT_IO_ERROR(load_image_folder(root), "class folders", "differ");
  }
  EXPECT_IO_ERROR(load_image_folder(fresh_dir("-empty")), "no image tree", "train/<class>/*.jpg");
}

// Binary records: label bytes then 3072 pixels, pixel k = (record + k) % 251.
std::vector<uint8_t> records(int n, std::vector<uint8_t> labels_per_record) {
  std::vector<uint8_t> out;
  for (int r = 0; r < n; ++r) {
    for (uint8_t l : labels_per_record) out.push_back(static_cast<uint8_t>(l + r));
    for (int k = 0; k < 3072; ++k) out.push_back(static_cast<uint8_t>((r + k) % 251));
  }
  return out;
}

TEST(Cifar, BinaryReleases) {
  const fs::path dir = fresh_dir() / "cifar-10-batches-bin";
  for (int b = 1; b <= 5; ++b) write_bytes(dir / fmt::format("data_batch_{}.bin", b), records(2, {0}));
  write_bytes(dir / "test_batch.bin", records(3, {5}));
  const DatasetSplit s = load_cifar10_binary(dir.parent_path());
  EXPECT_EQ(s.train.size(), 10);
  EXPECT_EQ(s.test.labels.data<int32_t>()[2], 7);
  EXPECT_FLOAT_EQ(s.test.inputs.data<float>()[2 * 3072 + 1024 + 7], ((2 + 1024 + 7) % 251) / 255.0f);
  EXPECT_EQ(s.train.class_names[0], "airplane");

  const std::vector<uint8_t> three = records(3, {5});
  write_bytes(dir / "test_batch.bin", std::span(three).first(3 * 3073 - 1));
  EXPECT_IO_ERROR(load_cifar10_binary(dir), "test_batch.bin", "not a whole number of 3073-byte records");
  write_bytes(dir / "test_batch.bin", records(6, {5}));  // labels 5..10
  EXPECT_IO_ERROR(load_cifar10_binary(dir), "record 5 has label 10", "expected 0..9");

  const fs::path d100 = fresh_dir("-100");
  write_bytes(d100 / "train.bin", records(4, {3, 90}));
  write_bytes(d100 / "test.bin", records(2, {18, 98}));
  const DatasetSplit fine = load_cifar100_binary(d100);
  EXPECT_EQ(fine.train.num_classes, 100);
  EXPECT_EQ(fine.test.labels.data<int32_t>()[1], 99);
  const DatasetSplit coarse = load_cifar100_binary(d100, /*coarse=*/true);
  EXPECT_EQ(coarse.train.num_classes, 20);
  EXPECT_EQ(coarse.train.labels.data<int32_t>()[3], 6);
  EXPECT_IO_ERROR(load_cifar100_binary(fresh_dir("-none")), "test.bin", "binary release");
}

TEST(Cifar, RealJpegTree) {
  const fs::path root = default_data_root() / "cifar10";
  if (!fs::exists(root / "test" / "truck")) LOWBIT_SKIP_ABSENT_PEER("no CIFAR-10 tree at " + root.string() + " (scripts/fetch-data)");
  const DatasetSplit s = load_image_folder(root);
  EXPECT_EQ(s.train.size(), 50000);
  EXPECT_EQ(s.test.size(), 10000);
  EXPECT_EQ(s.train.class_names, cifar10_classes());  // sorted folder names happen to match
  EXPECT_EQ(s.test.class_counts(), std::vector<int64_t>(10, 1000));
}

}  // namespace
}  // namespace lowbit::data
