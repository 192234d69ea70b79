// The IDX format of (Fashion-)MNIST and the Fashion-MNIST loader.
// IDX: magic 0x0000TTNN (TT = 0x08 unsigned byte, NN = number of dims), then NN big-endian u32
// dims, then prod(dims) bytes. Labels are 0x00000801 (N), images 0x00000803 (N, rows, cols).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lowbit/data/dataset.h"

namespace lowbit::data {

struct IdxArray {
  std::vector<int64_t> dims;
  std::span<const uint8_t> values;  // prod(dims) bytes, a view into the parsed buffer
};

// Parses an uncompressed IDX buffer holding u8 values with exactly `expected_ndim` dims.
// Throws IoError("[idx] <what>: ...") for a short header, a wrong magic, a zero or absurd dim,
// or a payload whose size differs from prod(dims) (sizes are checked against the buffer before
// anything is allocated, so a lying header cannot cause a huge allocation).
IdxArray parse_idx(std::span<const uint8_t> bytes, int expected_ndim, const std::string& what);

// Builds a data set from parsed IDX images (N, rows, cols) and labels (N): inputs
// (N, 1, rows, cols) f32 in [0, 1] (byte / 255), labels i32. Throws IoError naming
// `what` on a count mismatch or a label >= num_classes.
Dataset idx_to_dataset(const IdxArray& images, const IdxArray& labels, int num_classes, const std::string& what);

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The ten Fashion-MNIST classes in label order.
std::vector<std::string> fashion_mnist_classes();

// Loads train (60,000) and test (10,000) from `dir` (default kFashionMnistDir, from Debian's
// dataset-fashion-mnist), reading train-images-idx3-ubyte[.gz] etc.; each file may be gzipped
// or not. Inputs are in [0, 1], not normalized (see normalize()).
DatasetSplit load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir);

}  // namespace lowbit::data
