// Post-training quantization of a float ONNX graph into a QDQ graph in ONNX Runtime's layout:
// uint8 activations per tensor (QuantizeLinear → DequantizeLinear on every input and output
// of Conv, Gemm, MatMul and Add), int8 weights per output channel (or per tensor) with zero
// zero points (int4 weights: int8 codes in [-7, 7]), int32 biases in units of x_scale·w_scale. Both ONNX Runtime and lowbit (which
// lowers these patterns to its integer kernels) run the result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/calibrate.h"
#include "lowbit/ptq/weight_range.h"

namespace lowbit::ptq {

struct QuantizeOptions {
  CalibOptions calib;
  bool per_channel = true;
  int weight_bits = 8;                // 8, or 4 (W4A8: int8 codes in [-7, 7])
  // int4 only: > 0 gives MatMul/Gemm weights one scale per group_size consecutive k of each
  // output channel (a multiple of 8), written as INT4 codes read by a blocked
  // DequantizeLinear-21 along K; the model is restated at opset 21 (onnx::upgrade_to_opset21)
  // and such layers keep a float bias. Conv weights stay per channel. 0: per channel / tensor.
  int64_t group_size = 0;
  WeightRange weight_range = WeightRange::minmax;  // weight scales (weight_range.h)
  bool bias_correction = false;       // absorb the weights' expected output shift dW·E[x] into the bias
  std::vector<std::string> exclude;   // node names left in float
  // MatMuls of two activations (attention's Q·Kᵀ, P·V) are layers too: both inputs quantized
  // per tensor from their calibrated ranges, no weights (lowbit runs them on kernels/qmatmul.h).
  bool act_matmul = true;
  std::string config_json;            // per-layer precisions (config_from_json); replaces exclude
};

struct TensorReport {
  std::string name;
  float min = 0, max = 0, lo = 0, hi = 0, scale = 0;
  int zero_point = 0;
  double sqnr_db = 0;  // float model vs quantized model on the first calibration batch
};

struct LayerReport {
  std::string node, op, precision;  // precision: "w8a8", "w4a8", "a8a8" (activation × activation MatMul) or "fp32"
  std::string input, output;        // tensor names (quantized ones appear in `tensors`)
  float w_scale_min = 0, w_scale_max = 0;
  int64_t channels = 0;             // weight scales (1 when per tensor)
  bool bias_corrected = false;      // the bias absorbed dW·E[x] (QuantizeOptions::bias_correction)
};

struct QuantizeReport {
  std::vector<LayerReport> layers;
  std::vector<TensorReport> tensors;
  double output_sqnr_db = 0;  // the first graph output, float vs quantized
  int64_t calib_samples = 0;
};

// g: the float model (BatchNorm is folded into convs first). calib: its inputs, batch first.
// Equivalent to build_qdq(plan_qdq(g, calib, opt), all int8 but opt.exclude) plus the SQNR report.
onnx::Graph quantize_model(const onnx::Graph& g, const InputBatch& calib, const QuantizeOptions& opt, QuantizeReport* report);

// ---- Per-layer precision (mixed precision) -----------------------------------------------
// A layer is a Conv, Gemm or MatMul with a constant float weight: its weight and its input
// activation take the layer's precision; or (QuantizeOptions::act_matmul) a MatMul of two
// activations: both inputs take it, int8 (w4a8 means int8 there: no weights; bf16 leaves it fp32). Adds follow their neighbours: an Add is quantized when
// both its inputs already are (so all-int8 gives exactly quantize_model's graph).
enum class Precision { fp32, bf16, int8, w4a8 };
const char* precision_name(Precision p);
Precision parse_precision(const std::string& s);  // ValueError listing the names
double weight_bytes_per_value(Precision p);        // 4, 2, 1, 0.5

// Whether this build can execute a precision; "" if so, else the reason (for messages/reports).
std::string precision_unavailable(Precision p);

struct QuantLayer {
  std::string node, op;
  int node_id = -1, in = -1, out = -1;  // value ids in QdqPlan::graph (out = -1: left float)
  int64_t weight_values = 0;
  int in_b = -1;                        // an activation × activation MatMul's second input (else -1)
  bool act_act() const { return in_b >= 0; }
};

// Everything calibration knows, computed once: the folded float graph, the layers, and the
// activation parameters of every tensor any configuration may quantize.
struct QdqPlan {
  onnx::Graph graph;                    // fp32, constants and BatchNorm folded
  QuantizeOptions opt;
  std::vector<QuantLayer> layers;       // topological order; a config indexes this
  std::vector<int> adds;                // node ids of quantizable Adds (not excluded)
  std::vector<int> tensors;             // calibrated activation tensors
  std::vector<TensorRange> ranges;      // per tensors[i]
  std::map<int, std::pair<float, int>> act;  // value id -> (scale, zero point)
  int64_t calib_samples = 0;
};
using LayerConfig = std::vector<Precision>;  // one per QdqPlan::layers

QdqPlan plan_qdq(const onnx::Graph& g, const InputBatch& calib, const QuantizeOptions& opt);

// The QDQ graph of one configuration. Cheap: no calibration. dq_of (optional) maps each
// quantized activation (plan value id) to its DequantizeLinear output; layers (optional) gets a
// report line per layer.
onnx::Graph build_qdq(const QdqPlan& plan, const LayerConfig& config, std::map<int, int>* dq_of = nullptr,
                      std::vector<LayerReport>* layers = nullptr);

// The layer's weight as a config with it at `p` computes with: Q(W) dequantized (float32, W's
// shape), made by the same weight quantizer build_qdq uses. For sensitivities (‖Q(W) − W‖²).
onnx::Array quantized_weight(const QdqPlan& plan, size_t layer, Precision p);

// Config JSON: {"default": "int8", "layers": {"<node>": "fp32", ...}}; a node the plan does not
// have or an unknown precision is an error naming it.
LayerConfig config_from_json(const QdqPlan& plan, const std::string& json_text);
std::string config_to_json(const QdqPlan& plan, const LayerConfig& config);
std::string config_key(const LayerConfig& config);  // compact "8F48..." one letter per layer

}  // namespace lowbit::ptq
