// Post-training quantization of a float ONNX graph into a QDQ graph in ONNX Runtime's layout:
// uint8 activations per tensor (QuantizeLinear → DequantizeLinear on every input and output
// of Conv, Gemm, MatMul and Add), int8 weights per output channel (or per tensor) with zero
// zero points (int4 weights: int8 codes in [-7, 7]), int32 biases in units of x_scale·w_scale. Both ONNX Runtime and lowbit (which
// lowers these patterns to its integer kernels) run the result.
#pragma once

#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/calibrate.h"

namespace lowbit::ptq {

struct QuantizeOptions {
  CalibOptions calib;
  bool per_channel = true;
  int weight_bits = 8;                // 8, or 4 (W4A8: int8 codes in [-7, 7], scale amax/7)
  std::vector<std::string> exclude;   // node names left in float
};

struct TensorReport {
  std::string name;
  float min = 0, max = 0, lo = 0, hi = 0, scale = 0;
  int zero_point = 0;
  double sqnr_db = 0;  // float model vs quantized model on the first calibration batch
};

struct LayerReport {
  std::string node, op, precision;  // precision: "w8a8", "w4a8" or "fp32"
  std::string input, output;        // tensor names (quantized ones appear in `tensors`)
  float w_scale_min = 0, w_scale_max = 0;
  int64_t channels = 0;             // weight scales (1 when per tensor)
};

struct QuantizeReport {
  std::vector<LayerReport> layers;
  std::vector<TensorReport> tensors;
  double output_sqnr_db = 0;  // the first graph output, float vs quantized
  int64_t calib_samples = 0;
};

// g: the float model (BatchNorm is folded into convs first). calib: its first input, batch first.
onnx::Graph quantize_model(const onnx::Graph& g, const onnx::Array& calib, const QuantizeOptions& opt, QuantizeReport* report);

}  // namespace lowbit::ptq
