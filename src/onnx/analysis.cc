// ModelSummary computation: one inference pass for shapes, then longest-path levels.
#include "lowbit/onnx/analysis.h"

#include <algorithm>

#include "lowbit/onnx/shape_inference.h"
#include "ops/op.h"

namespace lowbit::onnx {

bool is_heavy_op(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul" || op == "QLinearConv" ||
         op == "QLinearMatMul" || op == "MatMulInteger" || op == "ConvInteger" || op == "LSTM" || op == "GRU" || op == "RNN";
}

ModelSummary summarize(const Graph& g, const std::vector<ValueType>& input_types) {
  ModelSummary s;
  s.opset = g.opset;
  const InferenceResult inf = infer_shapes(g, input_types, true);
  for (const auto& [v, a] : g.constants) {
    s.parameter_bytes += static_cast<int64_t>(a.nbytes());
    if (a.type() == ElemType::f32 || a.type() == ElemType::f64 || a.type() == ElemType::f16) s.parameters += a.numel();
  }
  for (size_t i = 0; i < g.inputs.size(); ++i)
    s.inputs.emplace_back(g.values[static_cast<size_t>(g.inputs[i])].name, input_types[i]);
  for (int v : g.outputs) s.outputs.emplace_back(g.values[static_cast<size_t>(v)].name, inf.types[static_cast<size_t>(v)]);
  // Levels over runtime nodes only (folded shape arithmetic is not work).
  std::vector<int> level(g.nodes.size(), 0), heavy_level(g.nodes.size(), 0);
  std::map<int, int> per_level;
  for (int n : inf.runtime_nodes) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    ++s.op_counts[node.op_type];
    ++s.nodes;
    const OpDef& op = resolve_op(node, g.opset);
    if (op.flops) {
      InferCtx ctx{node, g.opset, {}, {}, {}};
      for (int v : node.inputs) {
        ctx.in.push_back(v == kNoValue ? ValueType{} : inf.types[static_cast<size_t>(v)]);
        ctx.values.push_back(nullptr);
      }
      for (int v : node.outputs) ctx.out.push_back(v == kNoValue ? ValueType{} : inf.types[static_cast<size_t>(v)]);
      // Shapes known only at run time (after a Loop, NonZero...): no static count for this node.
      bool shaped = true;
      for (const ValueType& t : ctx.in) shaped = shaped && (t.elem == ElemType::undefined || t.has_shape);
      for (const ValueType& t : ctx.out) shaped = shaped && (t.elem == ElemType::undefined || t.has_shape);
      if (shaped) s.flops += op.flops(ctx);
    }
    int lv = 0, hv = 0;
    for (int v : node.inputs) {
      if (v == kNoValue) continue;
      const int p = g.values[static_cast<size_t>(v)].producer;
      if (p < 0) continue;
      lv = std::max(lv, level[static_cast<size_t>(p)]);
      hv = std::max(hv, heavy_level[static_cast<size_t>(p)]);
    }
    level[static_cast<size_t>(n)] = lv + 1;
    heavy_level[static_cast<size_t>(n)] = hv + (is_heavy_op(node.op_type) ? 1 : 0);
    if (is_heavy_op(node.op_type)) ++s.heavy_nodes;
    ++per_level[lv + 1];
    s.depth = std::max(s.depth, lv + 1);
    s.heavy_depth = std::max(s.heavy_depth, heavy_level[static_cast<size_t>(n)]);
  }
  for (const auto& [lv, count] : per_level) s.max_width = std::max(s.max_width, count);
  s.avg_width = s.depth ? static_cast<double>(s.nodes) / s.depth : 0;
  s.heavy_avg_width = s.heavy_depth ? static_cast<double>(s.heavy_nodes) / s.heavy_depth : 0;
  return s;
}

}  // namespace lowbit::onnx
