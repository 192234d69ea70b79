// Readers for the original CIFAR-10 and CIFAR-100 binary releases.
#include <fstream>

#include "lowbit/core/error.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/io.h"

namespace lowbit::data {
namespace fs = std::filesystem;

std::vector<std::string> cifar10_classes() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

void parse_cifar_records(std::span<const uint8_t> bytes, int label_bytes, int label_index, int num_classes,
                         const std::string& what, std::vector<uint8_t>& pixels, std::vector<int32_t>& labels) {
  LOWBIT_CHECK(label_bytes >= 1 && label_index >= 0 && label_index < label_bytes);
  const size_t rec = static_cast<size_t>(label_bytes) + kCifarPixels;
  if (bytes.empty() || bytes.size() % rec != 0)
    throw IoError(fmt::format("[cifar] {}: {} bytes is not a whole number of {}-byte records ({} label byte(s) + "
                              "{} pixels){}",
                              what, bytes.size(), rec, label_bytes, kCifarPixels,
                              bytes.size() % rec ? " (truncated?)" : ""));
  const size_t n = bytes.size() / rec;
  pixels.reserve(pixels.size() + n * kCifarPixels);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * rec;
    const int label = r[label_index];
    if (label >= num_classes)
      throw IoError(fmt::format("[cifar] {}: record {} has label {} (expected 0..{})", what, i, label,
                                num_classes - 1));
    labels.push_back(label);
    pixels.insert(pixels.end(), r + label_bytes, r + rec);
  }
}

namespace {

// `dir` itself when it holds `probe`, else dir/sub.
fs::path find_dir(const fs::path& dir, const std::string& sub, const std::string& probe, const char* op) {
  std::error_code ec;
  if (fs::is_regular_file(dir / probe, ec)) return dir;
  if (fs::is_regular_file(dir / sub / probe, ec)) return dir / sub;
  throw IoError(fmt::format("[{}] no '{}' in '{}' or '{}' (expected the binary release)", op, probe, dir.string(),
                            (dir / sub).string()));
}

Dataset make(const std::vector<uint8_t>& px, const std::vector<int32_t>& labels, int num_classes,
             std::vector<std::string> names, std::string name) {
  Dataset ds;
  ds.inputs = cifar_bytes_to_tensor(px);
  ds.labels = Tensor::from<int32_t>({static_cast<int64_t>(labels.size())}, labels);
  ds.num_classes = num_classes;
  ds.class_names = std::move(names);
  ds.name = std::move(name);
  return ds;
}

// Non-empty lines of a names file, or `fallback` when the file is absent or has the wrong count.
std::vector<std::string> read_names(const fs::path& path, size_t count, std::vector<std::string> fallback) {
  std::ifstream in(path);
  if (!in) return fallback;
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names.size() == count ? names : fallback;
}

// A record file of at most a few hundred MB; the bound keeps a wrong path from reading a disk.
Bytes read_batch(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw IoError(fmt::format("[cifar] missing file '{}'", path.string()));
  if (size > (size_t{1} << 30)) throw IoError(fmt::format("[cifar] '{}' is {} bytes (expected a CIFAR batch)", path.string(), size));
  return read_file(path);
}

}  // namespace

DatasetSplit load_cifar10_binary(const fs::path& dir_in) {
  const fs::path dir = find_dir(dir_in, "cifar-10-batches-bin", "test_batch.bin", "cifar10");
  std::vector<std::string> names = read_names(dir / "batches.meta.txt", 10, cifar10_classes());
  DatasetSplit split;
  std::vector<uint8_t> px;
  std::vector<int32_t> labels;
  for (int b = 1; b <= 5; ++b) {
    const fs::path p = dir / fmt::format("data_batch_{}.bin", b);
    parse_cifar_records(read_batch(p), 1, 0, 10, quoted(p), px, labels);
  }
  split.train = make(px, labels, 10, names, "cifar10/train");
  px.clear();
  labels.clear();
  const fs::path tp = dir / "test_batch.bin";
  parse_cifar_records(read_batch(tp), 1, 0, 10, quoted(tp), px, labels);
  split.test = make(px, labels, 10, names, "cifar10/test");
  return split;
}

DatasetSplit load_cifar100_binary(const fs::path& dir_in, bool coarse) {
  const fs::path dir = find_dir(dir_in, "cifar-100-binary", "test.bin", "cifar100");
  const int k = coarse ? 20 : 100;
  std::vector<std::string> fallback;
  for (int i = 0; i < k; ++i) fallback.push_back(fmt::format("{}_{:02d}", coarse ? "coarse" : "class", i));
  const std::vector<std::string> names =
      read_names(dir / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt"), k, fallback);
  DatasetSplit split;
  for (auto [ds, file] : {std::pair{&split.train, "train"}, std::pair{&split.test, "test"}}) {
    std::vector<uint8_t> px;
    std::vector<int32_t> labels;
    const fs::path p = dir / (std::string(file) + ".bin");
    parse_cifar_records(read_batch(p), 2, coarse ? 0 : 1, k, quoted(p), px, labels);
    *ds = make(px, labels, k, names, std::string("cifar100/") + file);
  }
  return split;
}

}  // namespace lowbit::data
