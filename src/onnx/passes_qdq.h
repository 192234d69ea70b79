// Pieces shared by the two files of the QDQ lowering (passes_qdq.cc: linear ops and Add;
// passes_qdq_codes.cc: ops that only move codes, and the mean of codes). Private to src/onnx.
#pragma once

#include <cstddef>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx::qdq {

inline const Node* producer(const Graph& g, int v) {
  if (v < 0) return nullptr;
  const int p = g.values[static_cast<size_t>(v)].producer;
  return p < 0 || g.nodes[static_cast<size_t>(p)].dead ? nullptr : &g.nodes[static_cast<size_t>(p)];
}

inline bool has_input(const Node& n, size_t i) { return i < n.inputs.size() && n.inputs[i] != kNoValue; }

// A DequantizeLinear of activation codes (non-constant input, per-tensor constant parameters).
struct ActQ {
  int codes = -1, scale = -1, zp = -1;
};
bool act_dq(const Graph& g, int v, ActQ* out);

// DQ(x, s, z) → Slice / Pad / Reshape ... → Q(s, z) on the codes (node n is the Q).
bool lower_code_chain(Graph& g, size_t n);
// [Pad(channels only, constant), Slice(H/W), (Slice)] (last node first) → lowbit.SubsamplePad on
// any element type; false (graph unchanged) when the chain is not of that form.
bool fuse_subsample_pad(Graph& g, const std::vector<int>& chain);
// GlobalAveragePool(DequantizeLinear(x)) → lowbit.DequantizeMeanHW (node n is the pool).
bool lower_mean(Graph& g, size_t n);

}  // namespace lowbit::onnx::qdq
