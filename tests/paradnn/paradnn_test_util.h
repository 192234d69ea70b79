// Helpers of the paradnn tests: scratch folder, results files (JSON Lines), peer availability
// (absent peer -> skip with the reason, or fail under LOWBIT_REQUIRE_PEERS), small configurations.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/paradnn/config.h"
#include "require_peer.h"

namespace lowbit::paradnn::test {

inline std::string scratch(const std::string& name) {
  const char* t = std::getenv("LOWBIT_TEST_TMP");
  const std::filesystem::path dir = std::filesystem::path(t ? t : "/tmp") / ("paradnn_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Every row of a sweep's JSON Lines results file.
inline std::vector<nlohmann::json> read_rows(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

inline std::string torch_missing() {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0)
    return "PyTorch is not installed (/usr/bin/python3 -c 'import torch' failed; scripts/setup)";
  return "";
}

inline std::string ort_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed (scripts/setup-onnx)";
  if (!std::filesystem::exists(std::string(LOWBIT_SOURCE_DIR) + "/data/peers/ort/node_modules/onnxruntime-node"))
    return "onnxruntime-node is not installed under data/peers/ort (scripts/setup-onnx)";
  return "";
}

inline ModelConfig fc(int64_t layers, int64_t nodes, int64_t batch, int64_t input = 100, int64_t output = 10) {
  return {"fc", {{"layers", layers}, {"nodes", nodes}, {"batch", batch}, {"input", input}, {"output", output}}};
}

inline ModelConfig cnn(int64_t blocks, int64_t filters, int64_t image, int64_t bottleneck, int64_t batch = 2) {
  return {"cnn", {{"blocks", blocks}, {"filters", filters}, {"image", image}, {"classes", 10}, {"batch", batch},
                  {"bottleneck", bottleneck}}};
}

}  // namespace lowbit::paradnn::test

namespace lowbit::paradnn::test {

inline ModelConfig rnn(int64_t cell, int64_t layers = 2, int64_t emb = 6, int64_t length = 3, int64_t vocab = 11, int64_t batch = 2) {
  return {"rnn", {{"cell", cell}, {"layers", layers}, {"embedding", emb}, {"length", length}, {"vocab", vocab}, {"batch", batch}}};
}

}  // namespace lowbit::paradnn::test
