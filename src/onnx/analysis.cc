// ModelSummary computation: one inference pass for shapes, then longest-path levels.
#include "lowbit/onnx/analysis.h"

#include <algorithm>
#include <string>

#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"
#include "ops/op.h"

namespace lowbit::onnx {

bool is_heavy_op(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul" || op == "QLinearConv" ||
         op == "QLinearMatMul" || op == "MatMulInteger" || op == "ConvInteger" || op == "LSTM" || op == "GRU" || op == "RNN";
}

namespace {

// Initializers, and the tensors of Constant nodes (some exporters, paddle2onnx among them,
// store every weight that way).
void count_parameters(const Graph& g, int64_t& parameters, int64_t& bytes) {
  const auto add = [&](const Array& a) {
    bytes += static_cast<int64_t>(a.nbytes());
    if (a.type() == ElemType::f32 || a.type() == ElemType::f64 || a.type() == ElemType::f16 || a.type() == ElemType::bf16)
      parameters += a.numel();
  };
  for (const auto& [v, a] : g.constants) add(a);
  for (const Node& n : g.nodes)
    if (!n.dead && n.op_type == "Constant")
      if (const Attribute* t = n.find("value"); t && t->kind == Attribute::Kind::t) add(t->t);
}

void count_subgraphs(const Graph& g, SubgraphSummary& s) {
  for (const Node& node : g.nodes) {
    if (node.dead) continue;
    for (const auto& [key, attr] : node.attrs) {
      if (attr.kind != Attribute::Kind::g || !attr.g) continue;
      const Graph& sub = *attr.g;
      ++s.graphs;
      count_parameters(sub, s.parameters, s.parameter_bytes);
      for (const Node& n : sub.nodes)
        if (!n.dead) {
          ++s.nodes;
          ++s.op_counts[n.op_type];
        }
      count_subgraphs(sub, s);
    }
  }
}

// Op histogram and ASAP levels over `nodes` (a topological order): depth, width, heavy-op graph.
void count_levels(const Graph& g, const std::vector<int>& nodes, ModelSummary& s) {
  std::vector<int> level(g.nodes.size(), 0), heavy_level(g.nodes.size(), 0);
  std::map<int, int> per_level;
  for (int n : nodes) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    ++s.op_counts[node.op_type];
    ++s.nodes;
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
}

}  // namespace

double node_flops(const Graph& g, const Node& node, const std::vector<ValueType>& types) {
  const OpDef& op = resolve_op(node, g.opset);
  if (!op.flops) return 0;
  InferCtx ctx{node, g.opset, {}, {}, {}};
  for (int v : node.inputs) {
    ctx.in.push_back(v == kNoValue ? ValueType{} : types[static_cast<size_t>(v)]);
    ctx.values.push_back(nullptr);
  }
  for (int v : node.outputs) ctx.out.push_back(v == kNoValue ? ValueType{} : types[static_cast<size_t>(v)]);
  // Shapes known only at run time (after a Loop, NonZero...): no static count for this node.
  for (const ValueType& t : ctx.in)
    if (t.elem != ElemType::undefined && !t.has_shape) return 0;
  for (const ValueType& t : ctx.out)
    if (t.elem != ElemType::undefined && !t.has_shape) return 0;
  return op.flops(ctx);
}

ModelSummary summarize(const Graph& model, const std::vector<ValueType>& input_types) {
  ModelSummary s;
  s.opset = model.opset;
  // Shapes of a float16 model come from the float32 form every Session runs; its boundary Casts
  // (appended after the model's nodes) are not the model's ops and are not counted.
  Graph g = model;
  compute_float16_in_float32(g);
  const InferenceResult inf = infer_shapes(g, input_types, true);
  std::vector<int> model_nodes;
  for (int n : inf.runtime_nodes)
    if (static_cast<size_t>(n) < model.nodes.size()) model_nodes.push_back(n);
  count_parameters(model, s.parameters, s.parameter_bytes);  // as stored: float16 weights in 2 bytes
  count_subgraphs(model, s.subgraphs);
  for (size_t i = 0; i < g.inputs.size(); ++i)
    s.inputs.emplace_back(g.values[static_cast<size_t>(g.inputs[i])].name, input_types[i]);
  for (int v : g.outputs) s.outputs.emplace_back(g.values[static_cast<size_t>(v)].name, inf.types[static_cast<size_t>(v)]);
  for (int n : model_nodes) s.flops += node_flops(g, g.nodes[static_cast<size_t>(n)], inf.types);  // folded nodes: no work
  count_levels(g, model_nodes, s);
  return s;
}

ModelSummary summarize_structure(const Graph& g) {
  ModelSummary s;
  s.opset = g.opset;
  count_parameters(g, s.parameters, s.parameter_bytes);
  count_subgraphs(g, s.subgraphs);
  for (int v : g.inputs) s.inputs.emplace_back(g.values[static_cast<size_t>(v)].name, g.values[static_cast<size_t>(v)].type);
  for (int v : g.outputs) s.outputs.emplace_back(g.values[static_cast<size_t>(v)].name, g.values[static_cast<size_t>(v)].type);
  count_levels(g, g.topo_order(), s);
  return s;
}

std::pair<std::string, Shape> parse_input_shape(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  LOWBIT_REQUIRE(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(), "onnx",
                 "input shape '{}' is not NAME=D0,D1,... (e.g. x=1,3,48,320)", spec);
  Shape dims;
  for (size_t at = eq + 1; at <= spec.size();) {
    const size_t comma = std::min(spec.find(',', at), spec.size());
    const std::string d = spec.substr(at, comma - at);
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(d, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LOWBIT_REQUIRE(!d.empty() && used == d.size() && value >= 0 && value <= (int64_t{1} << 40), "onnx",
                   "input shape '{}': '{}' is not a dimension (an integer 0..2^40)", spec, d);
    dims.push_back(value);
    at = comma + 1;
  }
  return {spec.substr(0, eq), dims};
}

std::vector<ValueType> summary_input_types(const Graph& g, int64_t batch, const std::map<std::string, Shape>& given,
                                           bool* guessed) {
  for (const auto& [name, dims] : given) {
    const int v = g.find_value(name);
    LOWBIT_REQUIRE(v >= 0 && std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end(), "onnx",
                   "the model has no input '{}'", name);
    const ValueType& declared = g.values[static_cast<size_t>(v)].type;
    if (!declared.has_shape) continue;
    LOWBIT_REQUIRE(dims.size() == declared.shape.size(), "onnx", "input '{}' has rank {} ({}), not {} ({})", name,
                   declared.shape.size(), shape_str(declared.shape), dims.size(), shape_str(dims));
    for (size_t i = 0; i < dims.size(); ++i)
      LOWBIT_REQUIRE(declared.shape[i] < 0 || declared.shape[i] == dims[i], "onnx",
                     "dimension {} of input '{}' is fixed at {} ({}), not {}", i, name, declared.shape[i],
                     shape_str(declared.shape), dims[i]);
  }
  std::vector<ValueType> out;
  bool any = false;
  for (int v : g.inputs) {
    const Value& value = g.values[static_cast<size_t>(v)];
    ValueType t = value.type;
    if (auto it = given.find(value.name); it != given.end()) {
      t.shape = it->second;
      t.has_shape = true;
    } else {
      LOWBIT_REQUIRE(t.has_shape, "onnx", "input '{}' declares no shape; give one (NAME=D0,D1,...)", value.name);
      for (size_t i = 0; i < t.shape.size(); ++i)
        if (t.shape[i] < 0) {
          t.shape[i] = i == 0 ? batch : 1;
          any = true;
        }
    }
    out.push_back(t);
  }
  if (guessed) *guessed = any;
  return out;
}

ModelSummary summarize_guessing(const Graph& g, const std::vector<ValueType>& input_types, bool guessed) {
  try {
    return summarize(g, input_types);
  } catch (const Error& e) {
    if (!guessed) throw;
    ModelSummary s = summarize_structure(g);
    s.shape_error = e.what();
    return s;
  }
}

}  // namespace lowbit::onnx
