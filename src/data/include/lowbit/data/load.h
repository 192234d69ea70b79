// One entry point for every data set the CLI knows (--dataset NAME --data-dir DIR).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/data/dataset.h"

namespace lowbit::data {

struct DatasetOptions {
  // Folder of the data set; empty picks its default: /usr/share/datasets/fashion-mnist for
  // fashion-mnist, <data root>/DSADS, <data root>/cifar10, <data root>/cifar100, where the data
  // root is default_data_root() (io.h: $LOWBIT_DATA_DIR, ./data, or the source tree's data/).
  std::string data_dir;
  bool normalize = true;  // per-channel statistics from the train split, applied to both
  // "auto": minmax for dsads (heavy-tailed features, see Normalization), standard otherwise.
  std::string normalization = "auto";  // auto | standard | minmax
  bool use_cache = true;  // binary caches for dsads and the JPEG tree
  uint64_t seed = 0;      // dsads: picks the test subjects
  // dsads only
  bool raw = false;                // (N, 45, 125) windows instead of (N, 405) features
  std::vector<int> test_subjects;  // empty: round(test_fraction * 8) subjects chosen by seed
  double test_fraction = 0.2;
  std::string split = "subject";  // subject | random (DsadsOptions::split)
  uint64_t split_seed = 42;
  // cifar100 only
  bool coarse_labels = false;
};

// {"fashion-mnist", "dsads", "cifar10", "cifar100"}.
std::vector<std::string> dataset_names();

// Loads train and test splits. cifar10 reads the binary release when data_dir holds
// data_batch_1.bin (or cifar-10-batches-bin/), else the JPEG image-folder tree. Images come in
// [0, 1] before normalization. Unknown name: ValueError listing the valid ones; missing or
// malformed files: IoError naming the file.
DatasetSplit load_dataset(const std::string& name, const DatasetOptions& opt = {});

}  // namespace lowbit::data
