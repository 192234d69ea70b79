// Static model statistics for `lowbit inspect` and the parallelism tuner: op histogram,
// parameters, FLOPs (2 per multiply-add) and graph depth/width, both over all nodes and over
// the reduced graph of heavy ops (Conv/ConvTranspose/Gemm/MatMul) that the tuner reads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

// The nodes of If/Loop/Scan subgraphs, recursively: they run once per branch taken or per
// iteration, so they are listed apart from the top-level graph and their FLOPs are not counted.
struct SubgraphSummary {
  int graphs = 0, nodes = 0;
  int64_t parameters = 0, parameter_bytes = 0;
  std::map<std::string, int> op_counts;
};

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
  SubgraphSummary subgraphs;
  std::string shape_error;  // set by summarize_guessing when it fell back to the structure
};

// FLOPs of one node at the value types `types` (indexed by value id, as InferenceResult::types):
// 0 for ops without a count and for nodes with a shape known only at run time.
double node_flops(const Graph& g, const Node& node, const std::vector<ValueType>& types);
// input_types: concrete shapes (see declared_input_types). Runs shape inference, no folding.
ModelSummary summarize(const Graph& g, const std::vector<ValueType>& input_types);
// Without shapes (when no concrete input shape is known): the op histogram, depth and width
// over every live node (nothing folded), parameters and subgraphs; flops stays 0 and the
// inputs/outputs carry their declared types (-1 for a symbolic dimension).
ModelSummary summarize_structure(const Graph& g);

// `lowbit inspect`'s input sizes: "NAME=D0,D1,..." parsed (ValueError naming the text).
std::pair<std::string, Shape> parse_input_shape(const std::string& spec);
// Concrete input types for a summary: `given` (input name -> shape, checked against the declared
// rank and fixed dimensions), else the declared shape with a symbolic first dimension = batch and
// other symbolic dimensions = 1. *guessed: whether any symbolic dimension was substituted.
std::vector<ValueType> summary_input_types(const Graph& g, int64_t batch, const std::map<std::string, Shape>& given,
                                           bool* guessed);
// summarize at `input_types`; when shape inference fails there and the sizes were guessed (an OCR
// model's symbolic width set to 1), summarize_structure with the reason in shape_error. At the
// model's own or the user's sizes a failure is the model's error and is thrown.
ModelSummary summarize_guessing(const Graph& g, const std::vector<ValueType>& input_types, bool guessed);
bool is_heavy_op(const std::string& op_type);

}  // namespace lowbit::onnx
