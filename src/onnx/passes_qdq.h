// Pieces shared by the two files of the QDQ lowering (passes_qdq.cc: linear ops and Add;
// passes_qdq_codes.cc: ops that only move codes, and the mean of codes). Private to src/onnx.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
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

// What follows a fused node's result `out`: an optional Relu/Clip (constant bounds), then an
// optional QuantizeLinear (per tensor, constant parameters, 8-bit codes). Nothing is changed
// until apply_output, which moves the activation into `fused`'s attributes, y_scale / y_zp into
// its inputs 6 and 7 and takes over the last node's outputs.
struct OutputFusion {
  int act = -1, q = -1;   // node ids
  double lo = -INFINITY, hi = INFINITY;
  int y_scale = kNoValue, y_zp = kNoValue;  // from the Q node
};
OutputFusion plan_output(const Graph& g, int out);
void apply_output(Graph& g, const OutputFusion& f, Node& fused, int out);
// A float bias: the constant itself, a new constant from DequantizeLinear(constant), kNoValue
// for none, -2 for anything else.
int float_bias(Graph& g, int v, const std::string& base);
// DQ(x) → MatMul / Gemm(DQ(int4 weights, blocked scales along K)) → ... (passes_qdq_grouped.cc).
bool lower_grouped(Graph& g, size_t n);

// DQ(x, s, z) → Slice / Pad / Reshape ... → Q(s, z) on the codes (node n is the Q).
bool lower_code_chain(Graph& g, size_t n);
// [Pad(channels only, constant), Slice(H/W), (Slice)] (last node first) → lowbit.SubsamplePad on
// any element type; false (graph unchanged) when the chain is not of that form.
bool fuse_subsample_pad(Graph& g, const std::vector<int>& chain);
// GlobalAveragePool(DequantizeLinear(x)) → lowbit.DequantizeMeanHW (node n is the pool).
bool lower_mean(Graph& g, size_t n);
// Products of two quantized tensors that are not a constant weight's (passes_qdq_act.cc):
// DQ(a) · DQ(b) → MatMul → [Relu | Clip] → [Q], MatMulInteger and QLinearMatMul with per-tensor
// parameters → lowbit.QMatMul (ops/qmatmul_act.cc). Node n is the MatMul-like node.
bool lower_act_matmul(Graph& g, size_t n);

}  // namespace lowbit::onnx::qdq
