// IDX parsing from memory and the Fashion-MNIST loader built on it.
#include "lowbit/data/idx.h"

#include "lowbit/core/error.h"
#include "lowbit/data/io.h"

namespace lowbit::data {
namespace fs = std::filesystem;

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray parse_idx(std::span<const uint8_t> bytes, int expected_ndim, const std::string& what) {
  const uint32_t want_magic = 0x0800u | static_cast<uint32_t>(expected_ndim);
  if (bytes.size() < 4)
    throw IoError(fmt::format("[idx] {}: file too short ({} bytes) for an IDX header (expected magic 0x{:08x})", what,
                              bytes.size(), want_magic));
  const uint32_t magic = be32(bytes.data());
  if (magic != want_magic)
    throw IoError(fmt::format("[idx] {}: wrong magic 0x{:08x} (expected 0x{:08x}: unsigned bytes, {} dims)", what,
                              magic, want_magic, expected_ndim));
  const size_t header = 4 + 4 * static_cast<size_t>(expected_ndim);
  if (bytes.size() < header)
    throw IoError(fmt::format("[idx] {}: truncated header ({} bytes, expected {} for {} dims)", what, bytes.size(),
                              header, expected_ndim));
  IdxArray out;
  const size_t payload = bytes.size() - header;
  // The product is formed saturating at 2^64 and only compared with the real payload size,
  // so nothing is ever sized from the header alone.
  uint64_t need = 1;
  bool over = false;
  std::string dims_str;
  for (int d = 0; d < expected_ndim; ++d) {
    const uint32_t dim = be32(bytes.data() + 4 + 4 * d);
    out.dims.push_back(dim);
    dims_str += fmt::format("{}{}", d ? "x" : "", dim);
    if (dim == 0) throw IoError(fmt::format("[idx] {}: dimension {} is zero (expected a non-empty array)", what, d));
    over = over || __builtin_mul_overflow(need, uint64_t{dim}, &need);
  }
  if (over || need != payload) {
    const std::string need_str = over ? std::string("over 2^64") : std::to_string(need);
    const char* why = !over && need < payload                ? "trailing bytes"
                      : over || need / 16 > payload + 4096 ? "absurd dims or truncated file"
                                                             : "truncated file";
    throw IoError(fmt::format("[idx] {}: header dims {} need {} payload bytes, file has {} ({})", what, dims_str,
                              need_str, payload, why));
  }
  const size_t count = need;
  out.values = bytes.subspan(header, count);
  return out;
}

Dataset idx_to_dataset(const IdxArray& images, const IdxArray& labels, int num_classes, const std::string& what) {
  LOWBIT_CHECK(images.dims.size() == 3 && labels.dims.size() == 1);
  const int64_t n = images.dims[0], rows = images.dims[1], cols = images.dims[2];
  if (labels.dims[0] != n)
    throw IoError(fmt::format("[idx] {}: {} labels for {} images (expected equal counts)", what, labels.dims[0], n));
  for (int64_t i = 0; i < n; ++i)
    if (labels.values[i] >= num_classes)
      throw IoError(fmt::format("[idx] {}: label {} of sample {} is out of range (expected 0..{})", what,
                                labels.values[i], i, num_classes - 1));
  Dataset ds;
  ds.inputs = Tensor::empty({n, 1, rows, cols});
  ds.labels = Tensor::empty({n}, DType::i32);
  float* x = ds.inputs.data<float>();
  for (size_t i = 0; i < images.values.size(); ++i) x[i] = static_cast<float>(images.values[i]) * (1.0f / 255.0f);
  int32_t* y = ds.labels.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) y[i] = labels.values[i];
  ds.num_classes = num_classes;
  return ds;
}

std::vector<std::string> fashion_mnist_classes() {
  return {"t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"};
}

namespace {

// dir/stem.gz if present, else dir/stem; IoError listing both when neither exists.
fs::path find_idx_file(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  for (const fs::path& p : {dir / (stem + ".gz"), dir / stem})
    if (fs::is_regular_file(p, ec)) return p;
  throw IoError(fmt::format("[fashion-mnist] missing file '{}' (expected '{}.gz' or uncompressed '{}' in '{}')",
                            (dir / (stem + ".gz")).string(), stem, stem, dir.string()));
}

Dataset load_part(const fs::path& dir, const std::string& prefix) {
  const fs::path img_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const fs::path lbl_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  // 28x28 images, 100k at most: 1 GiB is far above any real file yet bounds a gzip bomb.
  const Bytes img_bytes = read_maybe_gzip(img_path, size_t{1} << 30);
  const Bytes lbl_bytes = read_maybe_gzip(lbl_path, size_t{1} << 30);
  const IdxArray images = parse_idx(img_bytes, 3, quoted(img_path));
  const IdxArray labels = parse_idx(lbl_bytes, 1, quoted(lbl_path));
  Dataset ds = idx_to_dataset(images, labels, 10, fmt::format("'{}' / '{}'", img_path.string(), lbl_path.string()));
  ds.class_names = fashion_mnist_classes();
  ds.name = "fashion-mnist/" + prefix;
  return ds;
}

}  // namespace

DatasetSplit load_fashion_mnist(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (dir == fs::path(kFashionMnistDir))
      throw IoError(fmt::format("[fashion-mnist] data directory '{}' not found: install it with "
                                "`apt-get install dataset-fashion-mnist` (scripts/setup does) or pass --data-dir",
                                dir.string()));
    throw IoError(fmt::format("[fashion-mnist] data directory '{}' not found (expected a folder with "
                              "train-images-idx3-ubyte.gz etc.; pass --data-dir or install dataset-fashion-mnist)",
                              dir.string()));
  }
  DatasetSplit split;
  split.train = load_part(dir, "train");
  split.test = load_part(dir, "t10k");
  return split;
}

}  // namespace lowbit::data
