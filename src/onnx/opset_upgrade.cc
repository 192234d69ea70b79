// upgrade_to_opset21 (passes.h): a graph of opset 13-20 restated at opset 21, so that a
// quantizer can add INT4 weights and blocked DequantizeLinear-21 to it. Between 13 and 21 the
// ops lowbit runs changed form only in opset 18 (Reduce* take `axes` as an input; ReduceSum did
// so at 13) and in meaning only for GroupNormalization (21: scale per channel) and GridSample
// (20: mode names); everything else gained types or optional attributes only.
#include <string_view>

#include "lowbit/onnx/passes.h"

namespace lowbit::onnx {

void upgrade_to_opset21(Graph& g, const std::string& why) {
  if (g.opset >= 21) return;
  if (g.opset < 13)
    throw ValueError(fmt::format("[onnx] {}: the model is opset {}; opset 13 or newer is needed to restate it at opset 21",
                                 why, g.opset));
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.dead || !n.domain.empty()) continue;
    if (n.op_type == "GroupNormalization" || n.op_type == "GridSample")
      throw ValueError(fmt::format("[onnx] {}: node '{}' ({}) changed meaning by opset 21; it cannot be restated", why, n.name,
                                   n.op_type));
    const std::string_view op = n.op_type;
    const bool reduce = op.substr(0, 6) == "Reduce" && op != "ReduceSum";
    if (!reduce || g.opset >= 18 || !n.attrs.count("axes")) continue;
    const std::vector<int64_t> axes = n.attrs.at("axes").is;
    const int v = g.add_value(n.name + "_axes", ValueType{ElemType::i64, {static_cast<int64_t>(axes.size())}, true});
    g.constants[v] = Array::from<int64_t>({static_cast<int64_t>(axes.size())}, axes);
    Node& m = g.nodes[i];  // add_value does not move nodes, but keep the reference fresh
    m.attrs.erase("axes");
    m.inputs.resize(std::max<size_t>(m.inputs.size(), 1));
    m.inputs.push_back(v);
  }
  g.opset = 21;
  g.relink();
}

}  // namespace lowbit::onnx
