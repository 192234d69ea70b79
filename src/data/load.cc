// load_dataset: maps a data set name and options to the concrete loader.
#include "lowbit/data/load.h"

#include <filesystem>

#include "lowbit/core/error.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/dsads.h"
#include "lowbit/data/idx.h"
#include "lowbit/data/io.h"

namespace lowbit::data {
namespace fs = std::filesystem;

std::vector<std::string> dataset_names() { return {"fashion-mnist", "dsads", "cifar10", "cifar100"}; }

DatasetSplit load_dataset(const std::string& name, const DatasetOptions& opt) {
  const auto dir_or = [&](const fs::path& fallback) { return opt.data_dir.empty() ? fallback : fs::path(opt.data_dir); };
  DatasetSplit split;
  if (name == "fashion-mnist") {
    split = load_fashion_mnist(dir_or(kFashionMnistDir));
  } else if (name == "dsads") {
    DsadsOptions o;
    o.raw = opt.raw;
    o.test_subjects = opt.test_subjects;
    o.test_fraction = opt.test_fraction;
    o.seed = opt.seed;
    o.use_cache = opt.use_cache;
    o.split = opt.split;
    o.split_seed = opt.split_seed;
    split = load_dsads(dir_or(default_data_root() / "DSADS"), o);
  } else if (name == "cifar10") {
    const fs::path dir = dir_or(default_data_root() / "cifar10");
    std::error_code ec;
    if (fs::exists(dir / "data_batch_1.bin", ec) || fs::exists(dir / "cifar-10-batches-bin" / "data_batch_1.bin", ec))
      split = load_cifar10_binary(dir);
    else
      split = load_image_folder(dir, CifarFolderOptions{opt.use_cache});
  } else if (name == "cifar100") {
    split = load_cifar100_binary(dir_or(default_data_root() / "cifar100"), opt.coarse_labels);
  } else {
    throw ValueError(fmt::format("[load_dataset] unknown data set '{}' (expected one of: {})", name,
                                 fmt::join(dataset_names(), ", ")));
  }
  if (opt.normalize) {
    const std::string& m = opt.normalization;
    LOWBIT_REQUIRE(m == "auto" || m == "standard" || m == "minmax", "load_dataset",
                   "normalization '{}' (expected auto, standard or minmax)", m);
    const bool minmax = m == "minmax" || (m == "auto" && name == "dsads");
    normalize(split, minmax ? Normalization::minmax : Normalization::standard);
  }
  return split;
}

}  // namespace lowbit::data
