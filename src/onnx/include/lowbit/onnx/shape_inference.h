// Shape and type inference over a whole graph for concrete input types, with partial
// evaluation: a node whose inputs are all known (constants, or shapes for Shape/Size) is
// executed here and its outputs become constants, so Shape->Gather->Reshape chains resolve.
#pragma once

#include <map>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

struct InferenceResult {
  std::vector<ValueType> types;   // per value id
  std::map<int, Array> known;     // constants plus values folded here
  std::vector<int> runtime_nodes; // topological order of nodes still to run
};

// input_types: one per graph input (concrete shapes; -1 dims are an error). Throws ValueError
// naming the node on inconsistent shapes or types.
InferenceResult infer_shapes(const Graph& g, const std::vector<ValueType>& input_types, bool fold = true);

// The graph inputs' declared types with symbolic dimensions replaced by `symbolic_dim`.
std::vector<ValueType> declared_input_types(const Graph& g, int64_t symbolic_dim = 1);

}  // namespace lowbit::onnx
