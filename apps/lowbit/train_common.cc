// Data set dispatch and JSON output for the CLI.
#include "train_common.h"

#include <cstdio>

#include "lowbit/data/load.h"
#include "lowbit/nn/checkpoint.h"

namespace lowbit::app {

data::DatasetSplit load_split(const std::string& dataset, const std::string& data_dir) {
  data::DatasetOptions opt;
  opt.data_dir = data_dir;
  return data::load_dataset(dataset, opt);  // normalizes with the train split's statistics
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    return;
  }
  nn::write_file_atomic(path, text);
}

}  // namespace lowbit::app
