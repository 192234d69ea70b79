// Channels-last planning: start from every value whose producer offers an NHWC output and whose
// readers all accept it, then drop values until the ops' pairing rules hold (a fused residual is
// stored in its conv output's layout). Only ever removes, so it terminates.
#include "layout_plan.h"

#include <algorithm>

#include "ops/op.h"

namespace lowbit::onnx {

std::vector<bool> plan_channels_last(const Graph& g, const InferenceResult& inf) {
  std::vector<bool> nhwc(g.values.size(), false);
  std::vector<uint64_t> accepts(g.nodes.size(), 0);  // per node: inputs it may read NHWC
  std::vector<bool> runtime(g.nodes.size(), false);
  for (int n : inf.runtime_nodes) {
    runtime[static_cast<size_t>(n)] = true;
    const Node& node = g.nodes[static_cast<size_t>(n)];
    const OpDef& op = resolve_op(node, g.opset);
    if (!op.channels_last) continue;
    InferCtx ctx{node, g.opset, {}, {}, {}};
    for (int v : node.inputs) {
      ctx.in.push_back(v == kNoValue ? ValueType{} : inf.types[static_cast<size_t>(v)]);
      auto it = v == kNoValue ? inf.known.end() : inf.known.find(v);
      ctx.values.push_back(it == inf.known.end() ? nullptr : &it->second);
    }
    const uint64_t bits = op.channels_last(ctx);
    const bool every_output = (bits & kTiedLayout) && (bits & kEveryOutput);
    accepts[static_cast<size_t>(n)] = node.outputs.size() == 1 || every_output ? bits : 0;
  }
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (val.producer < 0 || is_output[v] || inf.known.count(static_cast<int>(v)) || val.consumers.empty()) continue;
    if (!runtime[static_cast<size_t>(val.producer)] || accepts[static_cast<size_t>(val.producer)] == 0) continue;
    bool ok = true;
    for (int c : val.consumers) {
      if (!runtime[static_cast<size_t>(c)]) continue;  // folded at planning (Shape): never reads the data
      const Node& node = g.nodes[static_cast<size_t>(c)];
      for (size_t i = 0; ok && i < node.inputs.size(); ++i)
        if (node.inputs[i] == static_cast<int>(v))
          ok = i < 62 && ((accepts[static_cast<size_t>(c)] >> i) & 1);
    }
    nhwc[v] = ok;
  }
  // Pairing: an op that reads an input at position >= 1 as NHWC (a conv's residual) writes it
  // into its output, so both must agree; with kTiedLayout input 0 as well, and with kEveryOutput
  // every output. A group that disagrees goes NCHW as a whole.
  std::vector<int> group;
  for (bool changed = true; changed;) {
    changed = false;
    for (int n : inf.runtime_nodes) {
      const Node& node = g.nodes[static_cast<size_t>(n)];
      const uint64_t bits = accepts[static_cast<size_t>(n)];
      if (bits == 0) continue;
      group.clear();
      for (int out : node.outputs)
        if (out != kNoValue) group.push_back(out);
      for (size_t i = bits & kTiedLayout ? 0 : 1; i < node.inputs.size() && i < 62; ++i)
        if (node.inputs[i] != kNoValue && ((bits >> i) & 1)) group.push_back(node.inputs[i]);
      const auto stored_nhwc = [&](int v) { return static_cast<bool>(nhwc[static_cast<size_t>(v)]); };
      if (std::all_of(group.begin(), group.end(), stored_nhwc) || std::none_of(group.begin(), group.end(), stored_nhwc)) continue;
      for (int v : group) nhwc[static_cast<size_t>(v)] = false;
      changed = true;
    }
  }
  return nhwc;
}

}  // namespace lowbit::onnx
