// Activation range estimation for post-training quantization: runs the float model over the
// calibration batch and returns, for each requested tensor, the clipping range [lo, hi] chosen
// by min/max, a percentile, the MSE-optimal clip, or the entropy (KL) criterion of TensorRT.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/input_batch.h"

namespace lowbit::ptq {

enum class CalibMethod { minmax, percentile, mse, entropy };
CalibMethod parse_calib_method(const std::string& name);  // ValueError listing the valid names
const char* calib_method_name(CalibMethod m);

struct CalibOptions {
  CalibMethod method = CalibMethod::minmax;
  double percentile = 99.99;  // percentile method: keep this share of values inside the range
  int64_t batch = 64;         // samples per run of the model
  int bins = 2048;            // histogram bins over [min, max] (non-minmax methods)
};

struct TensorRange {
  float min = 0, max = 0;  // observed
  float lo = 0, hi = 0;    // chosen clipping range (lo <= 0 <= hi)
  // Per-channel moments E[x] and E[x^2] over the calibration set (every other axis averaged),
  // when a channel axis was asked for; empty otherwise.
  std::vector<double> mean, sq;
};

// The channel axis of a tensor's moments: an axis, kLastAxis, or kNoMoments.
inline constexpr int kNoMoments = -1, kLastAxis = -2;

// Ranges of `tensors` (value ids of g) over `calib` (every graph input, batch first);
// channel_axes (one per tensor, or empty for none) asks for per-channel moments too.
std::vector<TensorRange> calibrate(const onnx::Graph& g, const std::vector<int>& tensors, const InputBatch& calib,
                                   const CalibOptions& opt, const std::vector<int>& channel_axes = {});

// Range choice from a histogram over [min, max] (exposed for tests): counts.size() bins.
TensorRange choose_range(float min, float max, const std::vector<double>& counts, const CalibOptions& opt);

// Rows [r0, r1) of a batch-first array.
onnx::Array batch_rows(const onnx::Array& x, int64_t r0, int64_t r1);

}  // namespace lowbit::ptq
