// The "lowbit.*" metadata_props of a classifier file (calib_data.h: ModelDataInfo). Reads
// outside input: every value is checked (JSON shape, numbers that fit float32); fuzzed by
// fuzz/json_fuzz.cc.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/ptq/calib_data.h"

namespace lowbit::ptq {

void set_model_data_info(onnx::Graph& g, const ModelDataInfo& info) {
  if (!info.dataset.empty()) g.metadata["lowbit.dataset"] = info.dataset;
  if (info.has_preprocess)
    g.metadata["lowbit.preprocess"] =
        nlohmann::json{{"scale", info.pre.scale}, {"mean", info.pre.mean}, {"std", info.pre.std}}.dump();
  if (!info.class_names.empty()) g.metadata["lowbit.class_names"] = nlohmann::json(info.class_names).dump();
}

ModelDataInfo model_data_info(const onnx::Graph& g) { return parse_model_data_info(g.metadata); }

ModelDataInfo parse_model_data_info(const std::map<std::string, std::string>& metadata) {
  ModelDataInfo info;
  const auto bad = [](const char* key, const char* expected) {
    return ValueError(fmt::format("[model metadata] '{}' must be {}", key, expected));
  };
  if (auto it = metadata.find("lowbit.dataset"); it != metadata.end()) info.dataset = it->second;
  if (auto it = metadata.find("lowbit.preprocess"); it != metadata.end()) {
    const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
    // Numbers a float holds (a double beyond float range would be undefined to convert).
    const auto finite_float = [&](const nlohmann::json& v) {
      if (!v.is_number() || !(std::fabs(v.get<double>()) <= 3.0e38))
        throw bad("lowbit.preprocess", "a JSON object {scale, mean, std} of finite float32 numbers");
      return v.get<float>();
    };
    const auto floats = [&](const char* key, std::vector<float>& out) {
      if (!j.contains(key)) return;
      if (!j[key].is_array()) throw bad("lowbit.preprocess", "a JSON object {scale, mean: [...], std: [...]}");
      for (const auto& v : j[key]) out.push_back(finite_float(v));
    };
    if (j.is_discarded() || !j.is_object()) throw bad("lowbit.preprocess", "a JSON object {scale, mean: [...], std: [...]}");
    if (j.contains("scale")) info.pre.scale = finite_float(j["scale"]);
    floats("mean", info.pre.mean);
    floats("std", info.pre.std);
    info.has_preprocess = true;
  }
  if (auto it = metadata.find("lowbit.class_names"); it != metadata.end()) {
    const nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
    if (j.is_discarded() || !j.is_array()) throw bad("lowbit.class_names", "a JSON list of strings");
    for (const auto& v : j) {
      if (!v.is_string()) throw bad("lowbit.class_names", "a JSON list of strings");
      info.class_names.push_back(v.get<std::string>());
    }
  }
  return info;
}

}  // namespace lowbit::ptq
