// Accuracy of an ONNX classifier on a labelled set: top-1, top-5, per-class accuracy, and the
// share of samples on which a reference model (e.g. the fp32 model a quantized one came from)
// predicts the same class. Runs in batches; `progress` (may be null) is told after each one.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/calib_data.h"

namespace lowbit::ptq {

struct EvalReport {
  int64_t samples = 0;
  double top1 = 0, top5 = 0;
  std::vector<double> per_class;        // accuracy per label
  std::vector<int64_t> per_class_count;
  double agreement = -1;                // top-1 agreement with the reference; -1 without one
  double reference_top1 = -1;
  double seconds = 0;                   // wall time of the model's runs (without the reference)
};

struct EvalOptions {
  int64_t batch = 100;
  int intra_op = 0;
  std::function<void(int64_t done, int64_t total)> progress;
};

// The model's first output must be [N, classes] scores.
EvalReport evaluate_classifier(const onnx::Graph& model, const LabelledSet& data, const onnx::Graph* reference,
                               const EvalOptions& opt);

}  // namespace lowbit::ptq
