// Presets and grid expansion of ParaDnn configurations.
#include "lowbit/paradnn/config.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lowbit/core/error.h"

namespace lowbit::paradnn {
namespace {

std::vector<int64_t> doubling(int64_t lo, int64_t hi) {
  std::vector<int64_t> v;
  for (int64_t x = lo; x <= hi; x *= 2) v.push_back(x);
  return v;
}

void require_family(const std::string& family) {
  for (const auto& f : family_names())
    if (f == family) return;
  throw ValueError(fmt::format("[paradnn] unknown family '{}' (expected fc, cnn or rnn)", family));
}

}  // namespace

int64_t ModelConfig::get(const std::string& name) const {
  auto it = hp.find(name);
  if (it == hp.end()) throw ValueError(fmt::format("[paradnn] {} config has no hyperparameter '{}'", family, name));
  return it->second;
}

std::string ModelConfig::key() const {
  std::string k = family;
  for (const auto& [name, v] : hp) k += fmt::format(" {}={}", name, v);
  return k;
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = {{"family", family}};
  for (const auto& [name, v] : hp) j[name] = v;
  return j;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("family") || !j["family"].is_string())
    throw ValueError("[paradnn] config must be a JSON object with a string \"family\"");
  ModelConfig c;
  c.family = j["family"].get<std::string>();
  require_family(c.family);
  for (const auto& name : hyperparameter_names(c.family)) {
    if (!j.contains(name) || !j[name].is_number_integer())
      throw ValueError(fmt::format("[paradnn] {} config needs integer \"{}\"", c.family, name));
    c.hp[name] = j[name].get<int64_t>();
  }
  validate(c);
  return c;
}

std::vector<std::string> family_names() { return {"fc", "cnn", "rnn"}; }
std::vector<std::string> preset_names() { return {"tiny", "small", "paper"}; }

std::vector<std::string> hyperparameter_names(const std::string& family) {
  require_family(family);
  if (family == "fc") return {"batch", "input", "layers", "nodes", "output"};
  if (family == "rnn") return {"batch", "cell", "embedding", "layers", "length", "vocab"};
  return {"batch", "blocks", "bottleneck", "classes", "filters", "image"};
}

Grid preset_grid(const std::string& family, const std::string& preset) {
  require_family(family);
  // tiny: seconds per engine (tests); small: minutes on 2 cores; paper: the reference's ranges.
  if (family == "fc") {
    if (preset == "tiny") return {{"layers", {2, 4}}, {"nodes", {64, 256}}, {"batch", {64, 256}}, {"input", {2000}}, {"output", {200}}};
    if (preset == "small")
      return {{"layers", {4, 8}}, {"nodes", {256, 512, 1024}}, {"batch", {64, 256, 1024}}, {"input", {2000}}, {"output", {200}}};
    if (preset == "paper")
      return {{"layers", doubling(4, 128)}, {"nodes", doubling(32, 8192)}, {"batch", doubling(64, 16384)},
              {"input", {2000, 8000}}, {"output", {200, 1000}}};
  } else if (family == "rnn") {
    if (preset == "tiny")
      return {{"layers", {1, 2}}, {"embedding", {64}}, {"length", {10}}, {"vocab", {1000}}, {"batch", {16}}, {"cell", {0, 1, 2}}};
    if (preset == "small")
      return {{"layers", {1, 2, 4}}, {"embedding", {128, 256}}, {"length", {20}}, {"vocab", {2000}}, {"batch", {32}},
              {"cell", {0, 1, 2}}};
    if (preset == "paper")
      return {{"layers", {1, 3, 5, 7, 9, 11, 13}}, {"embedding", {100, 300, 500, 700, 900}}, {"length", {10, 30, 50, 70, 90}},
              {"vocab", {1000, 10000, 30000}}, {"batch", doubling(64, 1024)}, {"cell", {0, 1, 2}}};
  } else {
    if (preset == "tiny")
      return {{"blocks", {1}}, {"filters", {16}}, {"image", {32, 64}}, {"classes", {100}}, {"batch", {8}}, {"bottleneck", {0, 1}}};
    if (preset == "small")
      return {{"blocks", {1, 2}}, {"filters", {16, 32}}, {"image", {64, 112}}, {"classes", {500}}, {"batch", {16}},
              {"bottleneck", {0, 1}}};
    if (preset == "paper")
      return {{"blocks", {1, 2, 3, 4, 5, 6, 7, 8}}, {"filters", {16, 32, 64}}, {"image", {100, 150, 200, 250, 300}},
              {"classes", {500, 1000, 1500}}, {"batch", doubling(64, 1024)}, {"bottleneck", {0, 1}}};
  }
  throw ValueError(fmt::format("[paradnn] unknown preset '{}' (expected tiny, small or paper)", preset));
}

std::vector<int64_t> parse_values(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw ValueError(fmt::format("[paradnn] --set '{}': expected name=v1,v2,... or name=lo..hi", spec));
  const std::string values = spec.substr(eq + 1);
  auto number = [&](const std::string& s) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size())
      throw ValueError(fmt::format("[paradnn] --set '{}': '{}' is not an integer", spec, s));
    return v;
  };
  std::vector<int64_t> out;
  if (const auto dots = values.find(".."); dots != std::string::npos) {
    const int64_t lo = number(values.substr(0, dots)), hi = number(values.substr(dots + 2));
    if (lo < 1 || hi < lo) throw ValueError(fmt::format("[paradnn] --set '{}': need 1 <= lo <= hi", spec));
    out = doubling(lo, hi);
  } else {
    size_t start = 0;
    while (start <= values.size()) {
      const auto comma = values.find(',', start);
      out.push_back(number(values.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

void apply_override(Grid& grid, const std::string& family, const std::string& spec) {
  std::vector<int64_t> values = parse_values(spec);
  const std::string name = spec.substr(0, spec.find('='));
  const auto names = hyperparameter_names(family);
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw ValueError(fmt::format("[paradnn] --set '{}': {} has no hyperparameter '{}' (expected one of {}, or threads)", spec,
                                 family, name, fmt::join(names, ", ")));
  grid[name] = std::move(values);
}

std::vector<ModelConfig> expand(const std::string& family, const Grid& grid) {
  const auto names = hyperparameter_names(family);
  for (const auto& n : names)
    if (!grid.count(n) || grid.at(n).empty()) throw ValueError(fmt::format("[paradnn] grid has no values for '{}'", n));
  std::vector<ModelConfig> out;
  std::vector<size_t> idx(names.size(), 0);
  while (true) {
    ModelConfig c{family, {}};
    for (size_t i = 0; i < names.size(); ++i) c.hp[names[i]] = grid.at(names[i])[idx[i]];
    validate(c);
    out.push_back(std::move(c));
    size_t d = names.size();
    while (d > 0) {
      --d;
      if (++idx[d] < grid.at(names[d]).size()) break;
      idx[d] = 0;
      if (d == 0) return out;
    }
  }
}

void validate(const ModelConfig& c) {
  auto in = [&](const char* name, int64_t lo, int64_t hi) {
    const int64_t v = c.get(name);
    if (v < lo || v > hi)
      throw ValueError(fmt::format("[paradnn] {} {}={} is out of range (expected {}..{})", c.family, name, v, lo, hi));
  };
  in("batch", 1, 1 << 16);
  if (c.family == "fc") {
    in("layers", 1, 1024);
    in("nodes", 1, 1 << 16);
    in("input", 1, 1 << 20);
    in("output", 2, 1 << 20);
  } else if (c.family == "rnn") {
    in("cell", 0, 2);  // 0 RNN (tanh), 1 LSTM, 2 GRU
    in("embedding", 1, 1 << 14);
    in("layers", 1, 64);
    in("length", 1, 4096);
    in("vocab", 2, 1 << 20);
  } else {
    in("blocks", 1, 64);
    in("filters", 1, 1024);
    in("image", 32, 4096);  // 32: the 7x7/2 stem, pool and three stride-2 groups leave >= 1 pixel
    in("classes", 2, 1 << 20);
    in("bottleneck", 0, 1);
  }
}

}  // namespace lowbit::paradnn
