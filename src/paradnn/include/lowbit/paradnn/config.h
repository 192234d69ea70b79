// ParaDnn model configurations: a family and its integer hyperparameters, the named presets
// (tiny, small, paper) and the expansion of a preset plus --set overrides into a grid.
//   fc   layers, nodes, input, output, batch
//   cnn  blocks (per group), filters, image, classes, batch, bottleneck (0 basic, 1 bottleneck)
//   rnn  layers, embedding (= cell width), length (time steps), vocab, batch, cell (0 RNN, 1 LSTM, 2 GRU)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::paradnn {

struct ModelConfig {
  std::string family;
  std::map<std::string, int64_t> hp;

  int64_t get(const std::string& name) const;  // throws ValueError naming the missing key
  std::string key() const;                     // canonical "fc batch=64 input=2000 ..."
  nlohmann::json to_json() const;              // {"family": ..., <hp>...}
  static ModelConfig from_json(const nlohmann::json& j);  // validates
};

using Grid = std::map<std::string, std::vector<int64_t>>;

std::vector<std::string> family_names();
std::vector<std::string> preset_names();
std::vector<std::string> hyperparameter_names(const std::string& family);

Grid preset_grid(const std::string& family, const std::string& preset);
// The values of "name=v1,v2" or "name=lo..hi" (doubling); ValueError naming the spec.
std::vector<int64_t> parse_values(const std::string& spec);
// "nodes=512,1024" or "nodes=64..1024" (doubling); the name must be one of the family's.
void apply_override(Grid& grid, const std::string& family, const std::string& spec);
// Cartesian product in a fixed order (names sorted, values as given); every config validated.
std::vector<ModelConfig> expand(const std::string& family, const Grid& grid);
// Ranges that keep the generated network well formed (errors name the value and the range).
void validate(const ModelConfig& c);

}  // namespace lowbit::paradnn
