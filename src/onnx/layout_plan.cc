// Channels-last planning: start from every value whose producer offers an NHWC output and whose
// readers all accept it, then drop values until the ops' pairing rules hold (a fused residual is
// stored in its conv output's layout). Only ever removes, so it terminates.
#include "layout_plan.h"

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
    if (!op.channels_last || node.outputs.size() != 1) continue;
    InferCtx ctx{node, g.opset, {}, {}, {}};
    for (int v : node.inputs) {
      ctx.in.push_back(v == kNoValue ? ValueType{} : inf.types[static_cast<size_t>(v)]);
      auto it = v == kNoValue ? inf.known.end() : inf.known.find(v);
      ctx.values.push_back(it == inf.known.end() ? nullptr : &it->second);
    }
    accepts[static_cast<size_t>(n)] = op.channels_last(ctx);
  }
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (val.producer < 0 || is_output[v] || inf.known.count(static_cast<int>(v)) || val.consumers.empty()) continue;
    if (!runtime[static_cast<size_t>(val.producer)] || accepts[static_cast<size_t>(val.producer)] == 0) continue;
    bool ok = true;
    for (int c : val.consumers) {
      const Node& node = g.nodes[static_cast<size_t>(c)];
      for (size_t i = 0; ok && i < node.inputs.size(); ++i)
        if (node.inputs[i] == static_cast<int>(v))
          ok = runtime[static_cast<size_t>(c)] && i < 63 && ((accepts[static_cast<size_t>(c)] >> i) & 1);
    }
    nhwc[v] = ok;
  }
  // Pairing: an op that reads an input at position >= 1 as NHWC (a conv's residual) writes it
  // into its output, so both must agree; with kTiedLayout (pooling) input 0 as well.
  for (bool changed = true; changed;) {
    changed = false;
    for (int n : inf.runtime_nodes) {
      const Node& node = g.nodes[static_cast<size_t>(n)];
      if (accepts[static_cast<size_t>(n)] == 0) continue;
      const int out = node.outputs[0];
      const bool tied = accepts[static_cast<size_t>(n)] & kTiedLayout;
      for (size_t i = tied ? 0 : 1; i < node.inputs.size() && i < 63; ++i) {
        const int v = node.inputs[i];
        if (v == kNoValue || !((accepts[static_cast<size_t>(n)] >> i) & 1)) continue;
        if (nhwc[static_cast<size_t>(v)] != nhwc[static_cast<size_t>(out)]) {
          nhwc[static_cast<size_t>(v)] = nhwc[static_cast<size_t>(out)] = false;
          changed = true;
        }
      }
    }
  }
  return nhwc;
}

}  // namespace lowbit::onnx
