// Static model statistics for `lowbit inspect` and the parallelism tuner: op histogram,
// parameters, FLOPs (2 per multiply-add) and graph depth/width, both over all nodes and over
// the reduced graph of heavy ops (Conv/ConvTranspose/Gemm/MatMul) that the tuner reads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

struct ModelSummary {
  int opset = 0;
  std::map<std::string, int> op_counts;
  int64_t parameters = 0;          // elements of floating-point initializers
  int64_t parameter_bytes = 0;     // all initializers
  double flops = 0;                // for the given input shapes
  int nodes = 0;
  int depth = 0;                   // longest path, in nodes
  int max_width = 0;               // most nodes at one ASAP level
  double avg_width = 0;            // nodes / depth
  int heavy_nodes = 0, heavy_depth = 0;
  double heavy_avg_width = 0;      // the tuner's inter-op hint
  std::vector<std::pair<std::string, ValueType>> inputs, outputs;
};

// input_types: concrete shapes (see declared_input_types). Runs shape inference, no folding.
ModelSummary summarize(const Graph& g, const std::vector<ValueType>& input_types);
bool is_heavy_op(const std::string& op_type);

}  // namespace lowbit::onnx
