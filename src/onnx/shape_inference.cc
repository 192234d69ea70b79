// Whole-graph inference driver: walks nodes in topological order, calling each op's infer with
// whatever input values are known, and evaluates fully known nodes on the spot.
#include "lowbit/onnx/shape_inference.h"

#include "ops/op.h"

namespace lowbit::onnx {

std::vector<ValueType> declared_input_types(const Graph& g, int64_t symbolic_dim) {
  std::vector<ValueType> out;
  for (int v : g.inputs) {
    ValueType t = g.values[static_cast<size_t>(v)].type;
    if (!t.has_shape)
      throw ValueError(fmt::format("[onnx] input '{}' has no declared shape; pass an input to fix it",
                                   g.values[static_cast<size_t>(v)].name));
    for (int64_t& d : t.shape)
      if (d < 0) d = symbolic_dim;
    out.push_back(t);
  }
  return out;
}

InferenceResult infer_shapes(const Graph& g, const std::vector<ValueType>& input_types, bool fold) {
  InferenceResult r;
  r.types.resize(g.values.size());
  LOWBIT_REQUIRE(input_types.size() == g.inputs.size(), "onnx", "graph has {} inputs, {} given", g.inputs.size(),
                 input_types.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const ValueType& t = input_types[i];
    const Value& v = g.values[static_cast<size_t>(g.inputs[i])];
    LOWBIT_REQUIRE(t.has_shape, "onnx", "input '{}' needs a concrete shape", v.name);
    for (int64_t d : t.shape) LOWBIT_REQUIRE(d >= 0, "onnx", "input '{}' shape {} is not concrete", v.name, shape_str(t.shape));
    try {
      checked_numel(t.shape, "onnx input");
    } catch (const Error& e) {
      throw ValueError(fmt::format("[onnx] input '{}' shape {}: {}", v.name, shape_str(t.shape), e.what()));
    }
    if (v.type.elem != ElemType::undefined)
      LOWBIT_REQUIRE(v.type.elem == t.elem, "onnx", "input '{}' expects {}, got {}", v.name, elem_name(v.type.elem),
                     elem_name(t.elem));
    if (v.type.has_shape) {
      bool ok = v.type.shape.size() == t.shape.size();
      for (size_t d = 0; ok && d < t.shape.size(); ++d) ok = v.type.shape[d] < 0 || v.type.shape[d] == t.shape[d];
      LOWBIT_REQUIRE(ok, "onnx", "input '{}' expects shape {} (-1 = any), got {}", v.name, shape_str(v.type.shape),
                     shape_str(t.shape));
    }
    r.types[static_cast<size_t>(g.inputs[i])] = t;
  }
  for (const auto& [v, a] : g.constants) {
    r.types[static_cast<size_t>(v)] = ValueType{a.type(), a.shape(), true};
    r.known[v] = a;
  }
  for (int n : g.topo_order()) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    const OpDef& op = resolve_op(node, g.opset);
    InferCtx ctx{node, g.opset, {}, {}, std::vector<ValueType>(node.outputs.size())};
    bool all_known = true, shapes_known = true;
    for (int v : node.inputs) {
      if (v == kNoValue) {
        ctx.in.emplace_back();
        ctx.values.push_back(nullptr);
        continue;
      }
      ctx.in.push_back(r.types[static_cast<size_t>(v)]);
      auto it = r.known.find(v);
      ctx.values.push_back(it == r.known.end() ? nullptr : &it->second);
      all_known = all_known && it != r.known.end();
      shapes_known = shapes_known && ctx.in.back().has_shape;
    }
    op.infer(ctx);
    // If/Loop/Scan are never folded here, even on constants: a Loop from a file may run long,
    // and planning must stay cheap; they run with the session (bounded there).
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.outputs[i] != kNoValue) r.types[static_cast<size_t>(node.outputs[i])] = ctx.out[i];
    bool outputs_shaped = true;
    for (size_t i = 0; i < node.outputs.size(); ++i) outputs_shaped = outputs_shaped && ctx.out[i].has_shape;
    if (fold && outputs_shaped && (all_known || (op.shape_only && shapes_known))) {
      // Evaluate now. Shape-only ops need no input data: view a null buffer of the right shape.
      RunCtx run{node, g.opset, {}, {}};
      std::vector<Array> dummies;
      dummies.reserve(node.inputs.size());
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (ctx.values[i]) {
          run.in.push_back(ctx.values[i]);
        } else if (node.inputs[i] == kNoValue) {
          run.in.push_back(nullptr);
        } else {
          dummies.push_back(Array::view(ctx.in[i].elem, ctx.in[i].shape, nullptr, nullptr));
          run.in.push_back(&dummies.back());
        }
      }
      std::vector<Array> outs;
      outs.reserve(node.outputs.size());
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        outs.push_back(Array::empty(ctx.out[i].elem, ctx.out[i].shape));
        run.out.push_back(node.outputs[i] == kNoValue ? nullptr : &outs.back());
      }
      op.run(run);
      for (size_t i = 0; i < node.outputs.size(); ++i)
        if (node.outputs[i] != kNoValue) r.known[node.outputs[i]] = std::move(outs[i]);
      continue;
    }
    r.runtime_nodes.push_back(n);
  }
  if (fold) {
    // Runtime nodes whose outputs only folded nodes read (a shape source kept for Shape readers,
    // as passes_shuffle.cc leaves the Concat and shuffle behind a fused slice) never run.
    std::vector<bool> needed(g.values.size(), false);
    for (int v : g.outputs) needed[static_cast<size_t>(v)] = true;
    std::vector<int> kept;
    for (auto it = r.runtime_nodes.rbegin(); it != r.runtime_nodes.rend(); ++it) {
      const Node& node = g.nodes[static_cast<size_t>(*it)];
      bool used = false;
      for (int v : node.outputs) used = used || (v != kNoValue && needed[static_cast<size_t>(v)]);
      if (!used) continue;
      kept.push_back(*it);
      for (int v : node.inputs)
        if (v != kNoValue) needed[static_cast<size_t>(v)] = true;
    }
    r.runtime_nodes.assign(kept.rbegin(), kept.rend());
  }
  for (int v : g.outputs)
    LOWBIT_REQUIRE(r.types[static_cast<size_t>(v)].elem != ElemType::undefined, "onnx", "output '{}' has no inferred type",
                   g.values[static_cast<size_t>(v)].name);
  return r;
}

}  // namespace lowbit::onnx
