// The metadata schema of a classifier checkpoint: what `lowbit eval` and --resume need to
// rebuild the network, check the data set and re-apply the arithmetic it was trained with.
// Stored as the checkpoint's JSON object ("format": "lowbit-classifier"); the training loop
// adds "epochs_done", "optimizer" and "optimizer_steps" (save_training_checkpoint).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "lowbit/data/dataset.h"
#include "lowbit/nn/checkpoint.h"
#include "lowbit/nn/models.h"

namespace lowbit::train {

struct ClassifierMeta {
  std::string model;    // nn::build_model name
  std::string dataset;  // data set it was trained on
  Shape input_shape;    // one sample
  int64_t num_classes = 0;
  data::ChannelStats norm;  // normalization applied to the inputs
  uint64_t seed = 0;        // initialization and stochastic-rounding seed
  // The quantization preset of its GEMMs (fqt::preset arguments); "fp32" = none.
  std::string quant_preset = "fp32";
  int quant_bits = 0, quant_acc_bits = 0;
};

// Metadata of `model` trained on `split` of data set `dataset` (seed and quant left default).
ClassifierMeta classifier_meta(const nn::Classifier& model, const data::DatasetSplit& split, const std::string& dataset);

std::string to_json(const ClassifierMeta& meta);
// IoError naming `origin` when the checkpoint's metadata is not a classifier's. A checkpoint
// without the "quant" record was trained in fp32.
ClassifierMeta parse_classifier_meta(const nn::Checkpoint& ck, const std::string& origin);

// An initialized network of the recorded architecture (parameters still to be loaded).
std::shared_ptr<nn::Classifier> build_classifier(const ClassifierMeta& meta);

}  // namespace lowbit::train
