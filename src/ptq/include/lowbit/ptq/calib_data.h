// Calibration and evaluation inputs for ONNX models: .npy batches (one per graph input), random
// draws for the declared inputs, or one of lowbit's data sets with the model's preprocessing
// given by flags (x·scale − mean[c]) / std[c] per channel.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/input_batch.h"

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

// A batch for every input of g, at most src.count samples (the first rows), from src.source:
//   a data set name        one float image input: its train split, preprocessed by src.pre
//   file.npy               a single-input model
//   a=x.npy,b=y.npy        one .npy per input, by input name (every input exactly once)
//   a folder               holding <input name>.npy for every input
//   random:N               N samples of onnx::random_inputs(g, N, seed): floats ~ N(0, 1), token
//                          ids uniform over the embedding table they index, masks all ones
// Each array passes onnx::fit_input (declared element type, non-batch dimensions, token ids in
// the table's range) and all hold the same number of samples. Errors name the input, the file
// or the data set and what was expected.
InputBatch load_calibration(const DataSource& src, const onnx::Graph& g, uint64_t seed = 1);

// Whether `name` is one of lowbit's data sets (cifar10, fashion-mnist, ...).
bool is_dataset_name(const std::string& name);

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
