// The QDQ lowering's ops on codes (passes_qdq.h): chains that only move or pick elements (MaxPool)
// between a DequantizeLinear and a QuantizeLinear with equal parameters run on the codes (Slice+Pad of a
// CIFAR ResNet shortcut fused into lowbit.SubsamplePad), and the mean of dequantized codes.
#include <algorithm>
#include <string>
#include <vector>

#include "ops/op.h"
#include "passes_qdq.h"

namespace lowbit::onnx::qdq {
namespace {

bool same_scalar(const Graph& g, int a, int b) {
  if (a == b) return true;
  const Array *x = a >= 0 ? g.constant(a) : nullptr, *y = b >= 0 ? g.constant(b) : nullptr;
  if (a < 0 || b < 0) return (!x || x->get_f64(0) == 0) && (!y || y->get_f64(0) == 0);  // absent zero point = 0
  return x && y && x->numel() == 1 && y->numel() == 1 && x->type() == y->type() && x->get_f64(0) == y->get_f64(0);
}

// Ops that move elements without changing them: on codes they give the codes of their float
// result, as long as a Pad fills with the zero point.
bool moves_elements(const Graph& g, const Node& n) {
  if (n.op_type == "Slice" || n.op_type == "Reshape" || n.op_type == "Flatten" || n.op_type == "Transpose" ||
      n.op_type == "Squeeze" || n.op_type == "Unsqueeze")
    return true;
  // MaxPool picks elements (max commutes with x -> s*(x - z), s > 0; padding never wins); its
  // optional Indices output would change meaning on a different layout, so only the plain form.
  if (n.op_type == "MaxPool") return n.outputs.size() == 1 || n.outputs[1] == kNoValue;
  if (n.op_type != "Pad" || n.attr_s("mode", "constant") != "constant" || g.opset < 11) return false;
  if (!has_input(n, 2)) return true;
  const Array* v = g.constant(n.inputs[2]);
  return v && v->numel() == 1 && v->get_f64(0) == 0.0;
}

// A constant 1-d int input as a vector (empty when absent or not constant).
std::vector<int64_t> const_ints(const Graph& g, const Node& n, size_t i) {
  const Array* a = has_input(n, i) ? g.constant(n.inputs[i]) : nullptr;
  return a && a->dim() == 1 ? a->to_i64_vector() : std::vector<int64_t>{};
}

}  // namespace

// A chain [Pad(channels), Slice(spatial), ...] (chain holds the last node first; the Slices cut
// H and/or W, each axis once) becomes one lowbit.SubsamplePad, which can stay channels-last
// (ops/qcode_shortcut.cc). The Pad's fill value (absent: zero) becomes the op's fill.
bool fuse_subsample_pad(Graph& g, const std::vector<int>& chain) {
  if (chain.size() < 2 || chain.size() > 3) return false;
  Node& pad = g.nodes[static_cast<size_t>(chain[0])];
  if (pad.op_type != "Pad" || !pad.domain.empty() || g.opset < 11 || has_input(pad, 3)) return false;  // Pad-18 axes: pads not in rank order
  if (pad.attr_s("mode", "constant") != "constant" || (has_input(pad, 2) && !g.is_constant(pad.inputs[2]))) return false;
  const auto pads = const_ints(g, pad, 1);
  if (pads.size() != 8 || pads[1] < 0 || pads[5] < 0) return false;
  for (size_t i : {size_t{0}, size_t{2}, size_t{3}, size_t{4}, size_t{6}, size_t{7}})
    if (pads[i] != 0) return false;
  const int64_t big = int64_t{1} << 40;
  int64_t start[2] = {0, 0}, end[2] = {big, big}, step[2] = {1, 1};
  bool seen[2] = {false, false};
  for (size_t i = 1; i < chain.size(); ++i) {
    const Node& slice = g.nodes[static_cast<size_t>(chain[i])];
    if (slice.op_type != "Slice" || !slice.domain.empty()) return false;
    const auto starts = const_ints(g, slice, 1), ends = const_ints(g, slice, 2), axes = const_ints(g, slice, 3);
    auto steps = has_input(slice, 4) ? const_ints(g, slice, 4) : std::vector<int64_t>(starts.size(), 1);
    if (starts.empty() || starts.size() != ends.size() || starts.size() != axes.size() || starts.size() != steps.size()) return false;
    for (size_t j = 0; j < axes.size(); ++j) {
      const int64_t a = axes[j] == -2 ? 2 : axes[j] == -1 ? 3 : axes[j];
      if ((a != 2 && a != 3) || seen[a - 2] || starts[j] < 0 || ends[j] < 0 || steps[j] < 1) return false;
      seen[a - 2] = true;
      start[a - 2] = starts[j];
      end[a - 2] = std::min(ends[j], big);
      step[a - 2] = steps[j];
    }
  }
  Node fused;
  fused.name = pad.name.empty() ? "subsample_pad" + std::to_string(chain[0]) : pad.name;
  fused.domain = "lowbit";
  fused.op_type = "SubsamplePad";
  fused.inputs = {g.nodes[static_cast<size_t>(chain.back())].inputs[0], has_input(pad, 2) ? pad.inputs[2] : kNoValue};
  fused.outputs = pad.outputs;
  fused.attrs = {{"start_h", Attribute::from_int(start[0])}, {"end_h", Attribute::from_int(end[0])},
                 {"step_h", Attribute::from_int(step[0])},   {"start_w", Attribute::from_int(start[1])},
                 {"end_w", Attribute::from_int(end[1])},     {"step_w", Attribute::from_int(step[1])},
                 {"pad_c_before", Attribute::from_int(pads[1])}, {"pad_c_after", Attribute::from_int(pads[5])}};
  for (size_t i = 1; i < chain.size(); ++i) g.nodes[static_cast<size_t>(chain[i])].dead = true;
  pad = std::move(fused);
  return true;
}

// DQ(x, s, z) → Slice / Pad / Reshape ... → Q(s, z): the chain runs on the codes x directly
// (its Pad filling with z) and the DQ/Q pair disappears.
bool lower_code_chain(Graph& g, size_t n) {
  Node& q = g.nodes[n];
  if (q.op_type != "QuantizeLinear" || !has_input(q, 1) || !g.constant(q.inputs[1]) || g.constant(q.inputs[1])->numel() != 1)
    return false;
  std::vector<int> chain;  // node ids, last first
  int cur = q.inputs[0];
  while (true) {
    const int p = g.values[static_cast<size_t>(cur)].producer;
    if (p < 0 || g.nodes[static_cast<size_t>(p)].dead) return false;
    const Node& pn = g.nodes[static_cast<size_t>(p)];
    if (pn.op_type == "DequantizeLinear") break;  // its other readers keep it
    if (g.sole_consumer(cur) < 0) return false;
    if (!moves_elements(g, pn)) return false;
    for (size_t i = 1; i < pn.inputs.size(); ++i)
      if (pn.inputs[i] != kNoValue && !g.is_constant(pn.inputs[i])) return false;
    chain.push_back(p);
    cur = pn.inputs[0];
  }
  const Node& dq = g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(cur)].producer)];
  const int qz = has_input(q, 2) ? q.inputs[2] : -1, dz = has_input(dq, 2) ? dq.inputs[2] : -1;
  if (chain.empty() || !has_input(dq, 1) || dz < 0 || !same_scalar(g, q.inputs[1], dq.inputs[1]) || !same_scalar(g, qz, dz))
    return false;
  if (g.constant(dz)->type() != ElemType::u8 && g.constant(dz)->type() != ElemType::i8) return false;
  const bool picks = std::any_of(chain.begin(), chain.end(), [&](int id) { return g.nodes[static_cast<size_t>(id)].op_type == "MaxPool"; });
  if (picks && !(g.constant(q.inputs[1])->get_f64(0) > 0)) return false;  // max commutes only with a positive scale
  const int codes = dq.inputs[0];
  Node& first = g.nodes[static_cast<size_t>(chain.back())];
  first.inputs[0] = codes;
  for (int id : chain) {
    Node& c = g.nodes[static_cast<size_t>(id)];
    g.values[static_cast<size_t>(c.outputs[0])].type = ValueType{};  // now codes: re-inferred
    if (c.op_type != "Pad") continue;
    c.inputs.resize(3, kNoValue);
    const int zv = g.add_value(c.name + "_code_pad");
    g.constants[zv] = g.constant(dz)->clone();
    g.values[static_cast<size_t>(zv)].type = ValueType{g.constants[zv].type(), {}, true};
    c.inputs[2] = zv;
  }
  Node& last = g.nodes[static_cast<size_t>(chain.front())];
  last.outputs = g.nodes[n].outputs;
  g.nodes[n].dead = true;
  fuse_subsample_pad(g, chain);
  g.relink();
  return true;
}

// GlobalAveragePool(DequantizeLinear(x)) (per tensor) → lowbit.DequantizeMeanHW(x): the mean
// of the codes, read channels-last when the producer writes it so.
bool lower_mean(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  if (node.op_type != "GlobalAveragePool" || node.inputs.size() != 1) return false;
  ActQ x;
  if (!act_dq(g, node.inputs[0], &x)) return false;
  Node fused;
  fused.name = node.name.empty() ? "qmean" + std::to_string(n) : node.name;
  fused.domain = "lowbit";
  fused.op_type = "DequantizeMeanHW";
  fused.inputs = {x.codes, x.scale, x.zp < 0 ? kNoValue : x.zp};
  fused.outputs = node.outputs;
  node = std::move(fused);
  g.relink();
  return true;
}


}  // namespace lowbit::onnx::qdq
