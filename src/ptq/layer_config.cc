// Per-layer precision configurations as JSON (quantize_model.h): what `lowbit ptq` writes and
// `lowbit quantize --config` reads. {"default": "int8", "layers": {"<node>": "fp32", ...}}.
#include <set>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/ptq/quantize_model.h"

namespace lowbit::ptq {

LayerConfig config_from_json(const QdqPlan& plan, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(fmt::format("[ptq] the layer configuration is not JSON: {}", e.what()));
  }
  LOWBIT_REQUIRE(j.is_object(), "ptq", "the layer configuration must be a JSON object with \"default\" and/or \"layers\"");
  auto prec = [](const nlohmann::json& v, const std::string& where) {
    LOWBIT_REQUIRE(v.is_string(), "ptq", "{} must be a precision name (fp32, int8, w4a8)", where);
    return parse_precision(v.get<std::string>());
  };
  const Precision def = j.contains("default") ? prec(j["default"], "\"default\"") : Precision::fp32;
  LayerConfig config(plan.layers.size(), def);
  if (j.contains("layers")) {
    LOWBIT_REQUIRE(j["layers"].is_object(), "ptq", "\"layers\" must map node names to precisions");
    for (const auto& [name, v] : j["layers"].items()) {
      size_t i = 0;
      while (i < plan.layers.size() && plan.layers[i].node != name) ++i;
      LOWBIT_REQUIRE(i < plan.layers.size(), "ptq", "the configuration names layer '{}', which is not a Conv/Gemm/MatMul of the model", name);
      config[i] = prec(v, "layer '" + name + "'");
    }
  }
  return config;
}

std::string config_to_json(const QdqPlan& plan, const LayerConfig& config) {
  nlohmann::json j;
  j["default"] = "fp32";
  j["layers"] = nlohmann::json::object();
  for (size_t i = 0; i < config.size(); ++i) j["layers"][plan.layers[i].node] = precision_name(config[i]);
  return j.dump(2);
}

}  // namespace lowbit::ptq
