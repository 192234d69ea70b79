// Image-folder loader for the CIFAR-10 JPEG tree: parallel libjpeg-turbo decoding of 32x32 RGB
// images into bytes, cached as (N, 3, 32, 32) u8 so a second load skips all decoding.
#include <algorithm>
#include <cstring>

#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/io.h"
#include "parallel_items.h"

namespace lowbit::data {
namespace fs = std::filesystem;

Tensor cifar_bytes_to_tensor(std::span<const uint8_t> pixels) {
  const int64_t n = static_cast<int64_t>(pixels.size() / kCifarPixels);
  LOWBIT_CHECK(pixels.size() == static_cast<size_t>(n) * kCifarPixels);
  Tensor t = Tensor::empty({n, 3, kCifarSide, kCifarSide});
  float* out = t.data<float>();
  parallel_for(n, 256, [&](int64_t b, int64_t e) {
    for (size_t i = static_cast<size_t>(b) * kCifarPixels; i < static_cast<size_t>(e) * kCifarPixels; ++i)
      out[i] = static_cast<float>(pixels[i]) * (1.0f / 255.0f);
  });
  return t;
}

namespace {

bool is_jpeg_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> sorted_subdirs(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(dir, ec))
    if (ent.is_directory() && ent.path().filename().string()[0] != '.') out.push_back(ent.path().filename().string());
  if (ec) throw IoError(fmt::format("[image-folder] cannot list '{}': {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

struct ImageFile {
  fs::path rel;  // train/<class>/<name>.jpg
  int label;
};

std::vector<ImageFile> list_split(const fs::path& root, const std::string& split,
                                  const std::vector<std::string>& classes) {
  std::vector<ImageFile> files;
  for (size_t c = 0; c < classes.size(); ++c) {
    const fs::path rel_dir = fs::path(split) / classes[c];
    std::vector<fs::path> names;
    std::error_code ec;
    for (const auto& ent : fs::directory_iterator(root / rel_dir, ec))
      if (ent.is_regular_file() && is_jpeg_name(ent.path())) names.push_back(ent.path().filename());
    if (ec) throw IoError(fmt::format("[image-folder] cannot list '{}': {}", (root / rel_dir).string(), ec.message()));
    std::sort(names.begin(), names.end());
    for (const auto& nm : names) files.push_back({rel_dir / nm, static_cast<int>(c)});
  }
  if (files.empty())
    throw IoError(fmt::format("[image-folder] '{}' holds no .jpg images (expected {}/<class>/*.jpg)",
                              (root / split).string(), split));
  return files;
}

// Decodes every file into (N, 3072) bytes in CHW order.
std::vector<uint8_t> decode_all(const fs::path& root, const std::vector<ImageFile>& files) {
  std::vector<uint8_t> pixels(files.size() * kCifarPixels);
  detail::parallel_items(static_cast<int64_t>(files.size()), 64, [&](int64_t i) {
    const fs::path path = root / files[i].rel;
    const Bytes bytes = read_file(path);
    uint8_t hwc[kCifarPixels];
    const std::string what = quoted(path);
    decode_jpeg_rgb(bytes, what, hwc, kCifarSide, kCifarSide);
    uint8_t* chw = pixels.data() + i * kCifarPixels;
    constexpr int kPlane = kCifarSide * kCifarSide;
    for (int p = 0; p < kPlane; ++p)
      for (int ch = 0; ch < 3; ++ch) chw[ch * kPlane + p] = hwc[p * 3 + ch];
  });
  return pixels;
}

Tensor labels_tensor(const std::vector<ImageFile>& files) {
  Tensor t = Tensor::empty({static_cast<int64_t>(files.size())}, DType::i32);
  for (size_t i = 0; i < files.size(); ++i) t.data<int32_t>()[i] = files[i].label;
  return t;
}

fs::path resolve_root(const fs::path& root) {
  std::error_code ec;
  for (const fs::path& r : {root, root / "cifar10"})
    if (fs::is_directory(r / "train", ec) && fs::is_directory(r / "test", ec)) return r;
  throw IoError(fmt::format("[image-folder] no image tree at '{}' (expected train/<class>/*.jpg and "
                            "test/<class>/*.jpg); run scripts/fetch-data or pass --data-dir",
                            root.string()));
}

}  // namespace

DatasetSplit load_image_folder(const fs::path& root_in, const CifarFolderOptions& opt) {
  const fs::path root = resolve_root(root_in);
  const std::vector<std::string> classes = sorted_subdirs(root / "train");
  if (classes.empty()) throw IoError(fmt::format("[image-folder] '{}' has no class folders", (root / "train").string()));
  if (sorted_subdirs(root / "test") != classes)
    throw IoError(fmt::format("[image-folder] class folders of '{}' differ from those of '{}' (expected the same "
                              "{} names)",
                              (root / "test").string(), (root / "train").string(), classes.size()));
  const std::vector<ImageFile> train = list_split(root, "train", classes);
  const std::vector<ImageFile> test = list_split(root, "test", classes);

  std::vector<fs::path> rels;
  for (const auto* v : {&train, &test})
    for (const auto& f : *v) rels.push_back(f.rel);
  const uint64_t fp = files_fingerprint(root, rels, 0x43494641520001ULL);
  const fs::path cache_path = root / ".lowbit-cache-images.bin";

  Tensor train_px, test_px;
  if (opt.use_cache) {
    auto hit = read_cache(cache_path, fp);
    if (hit && hit->tensors.size() == 2 && hit->strings == classes &&
        hit->tensors[0].shape() == Shape{static_cast<int64_t>(train.size()), 3, kCifarSide, kCifarSide} &&
        hit->tensors[1].shape() == Shape{static_cast<int64_t>(test.size()), 3, kCifarSide, kCifarSide} &&
        hit->tensors[0].dtype() == DType::u8 && hit->tensors[1].dtype() == DType::u8) {
      train_px = hit->tensors[0];
      test_px = hit->tensors[1];
    }
  }
  if (!train_px.defined()) {
    const auto to_tensor = [](const std::vector<uint8_t>& px) {
      Tensor t = Tensor::empty({static_cast<int64_t>(px.size() / kCifarPixels), 3, kCifarSide, kCifarSide}, DType::u8);
      std::memcpy(t.data<uint8_t>(), px.data(), px.size());
      return t;
    };
    train_px = to_tensor(decode_all(root, train));
    test_px = to_tensor(decode_all(root, test));
    if (opt.use_cache) write_cache(cache_path, fp, CacheEntry{classes, {train_px, test_px}});
  }

  DatasetSplit split;
  const std::string base = root.filename().string();
  for (auto [ds, px, files, nm] : {std::tuple{&split.train, &train_px, &train, "train"},
                                   std::tuple{&split.test, &test_px, &test, "test"}}) {
    ds->inputs = cifar_bytes_to_tensor({px->data<uint8_t>(), static_cast<size_t>(px->numel())});
    ds->labels = labels_tensor(*files);
    ds->num_classes = static_cast<int>(classes.size());
    ds->class_names = classes;
    ds->name = base + "/" + nm;
  }
  return split;
}

}  // namespace lowbit::data
