// A batch of a model's inputs for calibration and evaluation: one array per graph input, in the
// graph's input order, every one with the same number of samples on dimension 0 (token ids,
// attention masks and segment ids of a BERT; one image batch for a CNN).
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::ptq {

struct InputBatch {
  std::vector<onnx::Array> arrays;

  InputBatch() = default;
  // Implicit: a single-input model's batch is one array.
  InputBatch(onnx::Array single);  // NOLINT(google-explicit-constructor)
  // ValueError when the arrays disagree on the number of samples (dimension 0) or one is a scalar.
  explicit InputBatch(std::vector<onnx::Array> per_input);

  int64_t samples() const;                             // 0 for an empty batch
  InputBatch rows(int64_t r0, int64_t r1) const;       // samples [r0, r1) of every array
  InputBatch cycled(int64_t n) const;                  // n samples: rows repeated from the first
};

}  // namespace lowbit::ptq
