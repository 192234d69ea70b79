// Helpers shared by the train/eval/bench commands: data set loading by name and JSON output.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lowbit/data/dataset.h"

namespace lowbit::app {

// Loads and normalizes (train statistics) a split by name; data_dir empty = the default place.
data::DatasetSplit load_split(const std::string& dataset, const std::string& data_dir);

void write_json(const std::string& path, const nlohmann::json& j);  // atomic; "-" = stdout

}  // namespace lowbit::app
