// Classifier checkpoint metadata to and from its JSON object.
#include "lowbit/train/classifier_meta.h"

#include <nlohmann/json.hpp>

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
  if (j.value("format", "") != "lowbit-classifier")
    throw IoError(fmt::format("[checkpoint] {}: not a classifier checkpoint (metadata 'format' missing)", origin));
  try {
    ClassifierMeta m;
    m.model = j.at("model").get<std::string>();
    m.dataset = j.value("dataset", "");
    m.input_shape = j.at("input_shape").get<Shape>();
    m.num_classes = j.at("num_classes").get<int64_t>();
    m.norm.mean = j.value("norm_mean", std::vector<float>{});
    m.norm.stddev = j.value("norm_std", std::vector<float>{});
    m.seed = j.value("seed", uint64_t{0});
    if (j.contains("quant")) {
      const auto& q = j.at("quant");
      m.quant_preset = q.value("preset", "fp32");
      m.quant_bits = q.value("bits", 0);
      m.quant_acc_bits = q.value("acc_bits", 0);
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("[checkpoint] {}: bad metadata: {}", origin, e.what()));
  }
}

std::shared_ptr<nn::Classifier> build_classifier(const ClassifierMeta& meta) {
  return nn::build_model(meta.model, meta.input_shape, meta.num_classes);
}

}  // namespace lowbit::train
