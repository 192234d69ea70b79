// CIFAR-10/100 loaders: the image-folder JPEG tree of ../shared/data/cifar10-jpeg.tar.xz
// (train/<class>/*.jpg, test/<class>/*.jpg) and the original binary releases
// (CIFAR-10: data_batch_1..5.bin, test_batch.bin, records of 1 label byte + 3072 pixel bytes;
// CIFAR-100: train.bin, test.bin, records of coarse + fine label bytes + 3072 pixel bytes).
// Pixels are stored plane by plane (R 32x32, G, B), which is exactly the (3, 32, 32) layout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lowbit/data/dataset.h"

namespace lowbit::data {

inline constexpr int kCifarSide = 32;
inline constexpr int kCifarPixels = 3 * kCifarSide * kCifarSide;  // 3072

// Decodes a JPEG with libjpeg-turbo into `out` (rows x cols x 3 RGB, interleaved; the caller
// provides rows*cols*3 bytes). The image must be exactly rows x cols and 3-channel colour:
// anything else, or data that is not a valid JPEG, is an IoError naming `what` (never resized).
void decode_jpeg_rgb(std::span<const uint8_t> jpeg, const std::string& what, uint8_t* out, int rows, int cols);

struct CifarFolderOptions {
  bool use_cache = true;  // <root>/.lowbit-cache-cifar.bin, written atomically
};

// Loads root/train/<class>/*.jpg and root/test/<class>/*.jpg. Class names are the sorted folder
// names of train/ (test/ must have the same ones); files are read in sorted name order.
// Inputs (N, 3, 32, 32) f32 in [0, 1] (byte / 255), not normalized. Every image must be 32x32
// RGB; anything else is an IoError naming the file (images are never resized).
DatasetSplit load_image_folder(const std::filesystem::path& root, const CifarFolderOptions& opt = {});

// CIFAR-10 class names in label order (used when batches.meta.txt is absent).
std::vector<std::string> cifar10_classes();

// Parses the records of one binary batch. label_bytes is 1 (CIFAR-10) or 2 (CIFAR-100: coarse,
// fine); label_index picks which label byte to keep. Appends pixels (as bytes) and labels.
// IoError naming `what` when the size is not a whole number of records or a label >= num_classes.
void parse_cifar_records(std::span<const uint8_t> bytes, int label_bytes, int label_index, int num_classes,
                         const std::string& what, std::vector<uint8_t>& pixels, std::vector<int32_t>& labels);

// CIFAR-10 binary release from `dir` (the cifar-10-batches-bin folder or its parent).
DatasetSplit load_cifar10_binary(const std::filesystem::path& dir);

// CIFAR-100 binary release (cifar-100-binary folder or its parent); fine (100) or coarse (20)
// labels. Names come from fine_label_names.txt / coarse_label_names.txt when present.
DatasetSplit load_cifar100_binary(const std::filesystem::path& dir, bool coarse = false);

// (N, 3072) bytes to an (N, 3, 32, 32) f32 tensor in [0, 1].
Tensor cifar_bytes_to_tensor(std::span<const uint8_t> pixels);

}  // namespace lowbit::data
