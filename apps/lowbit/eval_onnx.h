// `lowbit eval model.onnx --dataset D --data-dir DIR [--mean/--std/--scale] [--reference fp32.onnx]`:
// accuracy of an ONNX classifier (src/ptq/evaluate.h). The data set and preprocessing default to
// what the model's metadata_props record (ptq::model_data_info; `lowbit export` writes them).
// The eval command (cmd_eval.cc) hands over here when it is given a model file instead of --checkpoint.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace lowbit::app {

struct OnnxEvalArgs {
  std::string model, reference;
  std::string inputs_npy, labels_npy;  // a preprocessed .npy set instead of a data set
  std::string dump_dir;
  int64_t dump_calib = 256;  // write the preprocessed test split as inputs.npy / labels.npy here
  std::vector<float> mean, std;
  float scale = 1.0f;
  int64_t batch = 100;
  // Flags given explicitly override the model's metadata_props (lowbit.dataset/preprocess).
  bool dataset_given = false, scale_given = false;
  CLI::Option* scale_option = nullptr;
};

// Adds the positional model and the ONNX-only options to the eval command.
void add_onnx_eval_options(CLI::App& cmd, OnnxEvalArgs* a);
void run_onnx_eval(const OnnxEvalArgs& a, std::string dataset, const std::string& data_dir, const std::string& json);

}  // namespace lowbit::app
