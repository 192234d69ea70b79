// Classifier checkpoint metadata to and from its JSON object.
#include "lowbit/train/classifier_meta.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"

namespace lowbit::train {

ClassifierMeta classifier_meta(const nn::Classifier& model, const data::DatasetSplit& split, const std::string& dataset) {
  ClassifierMeta m;
  m.model = model.name();
  m.dataset = dataset;
  m.input_shape = split.train.sample_shape();
  m.num_classes = model.num_classes();
  m.norm = split.stats;
  return m;
}

std::string to_json(const ClassifierMeta& m) {
  nlohmann::json j;
  j["format"] = "lowbit-classifier";
  j["model"] = m.model;
  j["input_shape"] = m.input_shape;
  j["num_classes"] = m.num_classes;
  j["dataset"] = m.dataset;
  j["norm_mean"] = m.norm.mean;
  j["norm_std"] = m.norm.stddev;
  j["seed"] = m.seed;
  j["quant"] = {{"preset", m.quant_preset}, {"bits", m.quant_bits}, {"acc_bits", m.quant_acc_bits}};
  return j.dump();
}

ClassifierMeta parse_classifier_meta(const nn::Checkpoint& ck, const std::string& origin) {
  const nlohmann::json j = nlohmann::json::parse(ck.meta_json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw IoError(fmt::format("[checkpoint] {}: metadata is not a JSON object", origin));
  if (!j.contains("format") || j["format"] != "lowbit-classifier")
    throw IoError(fmt::format("[checkpoint] {}: not a classifier checkpoint (metadata 'format' missing)", origin));
  // Every field checked for type and range: the metadata decides what build_model allocates.
  const auto bad = [&](const char* key, const std::string& expected) {
    return IoError(fmt::format("[checkpoint] {}: metadata '{}' must be {}", origin, key, expected));
  };
  const auto text = [&](const nlohmann::json& o, const char* key, std::string& out) {
    if (!o.contains(key) || !o[key].is_string()) throw bad(key, "a string");
    out = o[key].get<std::string>();
  };
  const auto integer = [&](const nlohmann::json& o, const char* key, int64_t lo, int64_t hi) {
    if (!o.contains(key) || !o[key].is_number_integer() || o[key].get<int64_t>() < lo || o[key].get<int64_t>() > hi)
      throw bad(key, fmt::format("an integer in [{}, {}]", lo, hi));
    return o[key].get<int64_t>();
  };
  const auto floats = [&](const char* key, std::vector<float>& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_array()) throw bad(key, "a list of finite numbers");
    for (const auto& v : j[key]) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) throw bad(key, "a list of finite numbers");
      out.push_back(v.get<float>());
    }
  };
  ClassifierMeta m;
  text(j, "model", m.model);
  if (j.contains("dataset")) text(j, "dataset", m.dataset);
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
  floats("norm_mean", m.norm.mean);
  floats("norm_std", m.norm.stddev);
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) throw bad("seed", "a non-negative integer");
    m.seed = j["seed"].get<uint64_t>();
  }
  if (j.contains("quant")) {
    const nlohmann::json& q = j["quant"];
    if (!q.is_object()) throw bad("quant", "an object {preset, bits, acc_bits}");
    text(q, "preset", m.quant_preset);
    m.quant_bits = static_cast<int>(integer(q, "bits", 0, 32));
    m.quant_acc_bits = static_cast<int>(integer(q, "acc_bits", 0, 64));
  }
  return m;
}

std::shared_ptr<nn::Classifier> build_classifier(const ClassifierMeta& meta) {
  return nn::build_model(meta.model, meta.input_shape, meta.num_classes);
}

}  // namespace lowbit::train
