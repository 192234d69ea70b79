// Data set dispatch, checkpoint metadata and JSON output for the CLI.
#include "train_common.h"

#include <cstdio>

#include "lowbit/data/load.h"

namespace lowbit::app {

data::DatasetSplit load_split(const std::string& dataset, const std::string& data_dir) {
  data::DatasetOptions opt;
  opt.data_dir = data_dir;
  return data::load_dataset(dataset, opt);  // normalizes with the train split's statistics
}

nlohmann::json model_meta(const nn::Classifier& model, const data::DatasetSplit& split, const std::string& dataset) {
  nlohmann::json j;
  j["format"] = "lowbit-classifier";
  j["model"] = model.name();
  j["input_shape"] = split.train.sample_shape();
  j["num_classes"] = model.num_classes();
  j["dataset"] = dataset;
  j["norm_mean"] = split.stats.mean;
  j["norm_std"] = split.stats.stddev;
  return j;
}

nlohmann::json parse_meta(const nn::Checkpoint& ck, const std::string& origin) {
  nlohmann::json j = nlohmann::json::parse(ck.meta_json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw IoError(fmt::format("[checkpoint] {}: metadata is not a JSON object", origin));
  return j;
}

std::shared_ptr<nn::Classifier> model_from_meta(const nlohmann::json& meta, const std::string& origin) {
  try {
    if (meta.value("format", "") != "lowbit-classifier")
      throw IoError(fmt::format("[checkpoint] {}: not a classifier checkpoint (metadata 'format' missing)", origin));
    const auto shape = meta.at("input_shape").get<Shape>();
    const auto classes = meta.at("num_classes").get<int64_t>();
    return nn::build_model(meta.at("model").get<std::string>(), shape, classes);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("[checkpoint] {}: bad metadata: {}", origin, e.what()));
  }
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
