// Runs ONNX Runtime (onnxruntime-node via bench/peers/ort_run.js) as a subprocess for the
// comparison tests. Absent node or onnxruntime-node -> ort_missing() says why (tests skip).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lowbit/onnx/npy.h"
#include "test_util.h"

namespace lowbit::onnx::test {

inline std::string ort_node_dir() {
  if (const char* d = std::getenv("ORT_NODE_DIR")) return d;
  return source_dir() + "/data/peers/ort/node_modules/onnxruntime-node";
}

// Empty when ORT can run; else the reason to skip.
inline std::string ort_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed (scripts/setup-onnx)";
  if (!std::filesystem::exists(ort_node_dir()))
    return "onnxruntime-node is not installed at " + ort_node_dir() + " (scripts/setup-onnx)";
  return "";
}

// Outputs of ONNX Runtime (1 thread) for the model at `path` on `inputs`.
inline std::vector<Array> run_ort(const std::string& path, const std::vector<Array>& inputs, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(temp_dir()) / ("ort_" + tag);
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string cmd = "node '" + source_dir() + "/bench/peers/ort_run.js' --model '" + path + "' --out-dir '" +
                    (dir / "out").string() + "'";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string f = (dir / ("input_" + std::to_string(i) + ".npy")).string();
    save_npy(f, inputs[i]);
    cmd += " --input '" + f + "'";
  }
  if (std::system(cmd.c_str()) != 0) throw IoError("ort_run.js failed: " + cmd);
  std::vector<Array> out;
  for (size_t i = 0; fs::exists(dir / "out" / ("output_" + std::to_string(i) + ".npy")); ++i)
    out.push_back(load_npy((dir / "out" / ("output_" + std::to_string(i) + ".npy")).string()));
  return out;
}

}  // namespace lowbit::onnx::test
