// Helpers shared by the train/eval/cil commands: data set loading by name, checkpoint metadata
// for classifiers, and JSON output.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lowbit/data/dataset.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"

namespace lowbit::app {

// Loads and normalizes (train statistics) a split by name; data_dir empty = the default place.
data::DatasetSplit load_split(const std::string& dataset, const std::string& data_dir);

// Metadata that lets `eval` rebuild the model and its preprocessing from a checkpoint.
nlohmann::json model_meta(const nn::Classifier& model, const data::DatasetSplit& split, const std::string& dataset);
// A classifier checkpoint's metadata as model_meta (plus seed and quant) wrote it. parse_meta
// checks every field's type and range; IoError names the file and the field.
struct ClassifierMeta {
  std::string model, dataset;
  Shape input_shape;
  int64_t num_classes = 0;
  uint64_t seed = 0;
  bool has_quant = false;  // "quant": {preset, bits, acc_bits}
  std::string quant_preset = "fp32";
  int bits = 0, acc_bits = 0;
};
ClassifierMeta parse_meta(const nn::Checkpoint& ck, const std::string& origin);
std::shared_ptr<nn::Classifier> model_from_meta(const ClassifierMeta& meta);

void write_json(const std::string& path, const nlohmann::json& j);  // atomic; "-" = stdout

}  // namespace lowbit::app
