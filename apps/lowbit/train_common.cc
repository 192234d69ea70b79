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

ClassifierMeta parse_meta(const nn::Checkpoint& ck, const std::string& origin) {
  const nlohmann::json j = nlohmann::json::parse(ck.meta_json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw IoError(fmt::format("[checkpoint] {}: metadata is not a JSON object", origin));
  const auto bad = [&](const char* key, const char* expected) {
    return IoError(fmt::format("[checkpoint] {}: metadata '{}' must be {}", origin, key, expected));
  };
  if (!j.contains("format") || j["format"] != "lowbit-classifier")
    throw IoError(fmt::format("[checkpoint] {}: not a classifier checkpoint (metadata 'format' missing)", origin));
  ClassifierMeta m;
  const auto text = [&](const nlohmann::json& o, const char* key, std::string& out) {
    if (!o.contains(key) || !o[key].is_string()) throw bad(key, "a string");
    out = o[key].get<std::string>();
  };
  const auto integer = [&](const nlohmann::json& o, const char* key, int64_t lo, int64_t hi) {
    if (!o.contains(key) || !o[key].is_number_integer() || o[key].get<int64_t>() < lo || o[key].get<int64_t>() > hi)
      throw bad(key, fmt::format("an integer in [{}, {}]", lo, hi).c_str());
    return o[key].get<int64_t>();
  };
  text(j, "model", m.model);
  text(j, "dataset", m.dataset);
  if (!j.contains("input_shape") || !j["input_shape"].is_array() || j["input_shape"].empty() || j["input_shape"].size() > 4)
    throw bad("input_shape", "a list of 1 to 4 dimensions");
  int64_t elements = 1;
  for (const auto& d : j["input_shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (int64_t{1} << 30) / elements)
      throw bad("input_shape", "a list of positive dimensions (at most 2^30 elements)");
    elements *= d.get<int64_t>();
    m.input_shape.push_back(d.get<int64_t>());
  }
  m.num_classes = integer(j, "num_classes", 1, int64_t{1} << 16);
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) throw bad("seed", "a non-negative integer");
    m.seed = j["seed"].get<uint64_t>();
  }
  if (j.contains("quant")) {
    const nlohmann::json& q = j["quant"];
    if (!q.is_object()) throw bad("quant", "an object {preset, bits, acc_bits}");
    m.has_quant = true;
    text(q, "preset", m.quant_preset);
    m.bits = static_cast<int>(integer(q, "bits", 0, 32));
    m.acc_bits = static_cast<int>(integer(q, "acc_bits", 0, 64));
  }
  return m;
}

std::shared_ptr<nn::Classifier> model_from_meta(const ClassifierMeta& meta) {
  return nn::build_model(meta.model, meta.input_shape, meta.num_classes);
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
