// Calibration and evaluation inputs for ONNX models: a .npy batch, or one of lowbit's data sets
// with the model's preprocessing given by flags (x·scale − mean[c]) / std[c] per channel.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::ptq {

struct Preprocess {
  std::vector<float> mean, std;  // per channel (dimension 1); empty: none
  float scale = 1.0f;            // applied first to the loader's [0, 1] images
};

// What a classifier file says about the data it expects, in ONNX metadata_props (written by
// `lowbit export`, read by `lowbit eval` / `lowbit quantize` when no flag overrides it):
//   lowbit.dataset      data set name ("fashion-mnist", "dsads", ...)
//   lowbit.preprocess   JSON {"scale": s, "mean": [...], "std": [...]} (per channel, exact floats)
//   lowbit.class_names  JSON list of names in label order
struct ModelDataInfo {
  std::string dataset;                   // "" when not recorded
  bool has_preprocess = false;
  Preprocess pre;
  std::vector<std::string> class_names;
};
void set_model_data_info(onnx::Graph& g, const ModelDataInfo& info);
// ValueError naming the key when a recorded value is malformed.
ModelDataInfo model_data_info(const onnx::Graph& g);
ModelDataInfo parse_model_data_info(const std::map<std::string, std::string>& metadata);  // the same, fuzzable

struct DataSource {
  std::string source;    // path to a .npy file, or a data set name (cifar10, fashion-mnist, ...)
  std::string data_dir;  // for data sets ("" = the loader's default)
  Preprocess pre;
  int64_t count = 256;   // samples taken (every ⌊N / count⌋-th of the train split, or the first rows)
};

// A float32 batch [count, ...] fitting `input` (the model's first input: same rank, same
// non-batch dimensions where declared). A file of another dtype or shape, an empty file or an
// unknown name is an error naming the file or the data set.
onnx::Array load_calibration(const DataSource& src, const onnx::ValueType& input);

// The test split of a data set, preprocessed, with its labels (for evaluation).
struct LabelledSet {
  onnx::Array inputs;            // [N, ...] float32
  std::vector<int32_t> labels;   // N
  std::vector<std::string> class_names;
};
LabelledSet load_test_split(const std::string& dataset, const std::string& data_dir, const Preprocess& pre);
// A preprocessed float32 .npy batch [N, ...] and its int64 (or int32) labels [N]; errors name
// the file (wrong dtype, rank, count, or a negative label).
LabelledSet load_labelled_npy(const std::string& inputs, const std::string& labels);

}  // namespace lowbit::ptq
