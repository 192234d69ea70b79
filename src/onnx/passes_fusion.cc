// Pattern fusions for transformer exports: PyTorch's Erf-based Gelu and the decomposed
// LayerNorm (opsets < 17 have no LayerNormalization op). Matches are exact op chains with
// constant parameters; anything else is left alone.
#include <cmath>

#include "lowbit/onnx/passes.h"

namespace lowbit::onnx {
namespace {

// For a binary node reading `v`, the other operand (or -1).
int other_input(const Node& n, int v) {
  if (n.inputs.size() != 2) return -1;
  if (n.inputs[0] == v) return n.inputs[1];
  if (n.inputs[1] == v) return n.inputs[0];
  return -1;
}

bool is_scalar_const(const Graph& g, int v, double expect, double tol) {
  const Array* a = g.constant(v);
  return a && a->numel() == 1 && (a->type() == ElemType::f32 || a->type() == ElemType::f64) &&
         std::fabs(a->get_f64(0) - expect) <= tol;
}

const Node* node_at(const Graph& g, int id, const char* op) {
  if (id < 0) return nullptr;
  const Node& n = g.nodes[static_cast<size_t>(id)];
  return !n.dead && n.op_type == op ? &n : nullptr;
}

// ReduceMean over the last axis, keepdims: axes {-1} as the attribute (< 18) or a constant input (18).
bool last_axis_mean(const Graph& g, const Node& n) {
  if (n.op_type != "ReduceMean" || n.attr_i("keepdims", 1) != 1) return false;
  if (n.inputs.size() == 1) return n.attr_ints("axes") == std::vector<int64_t>{-1};
  const Array* axes = n.inputs.size() == 2 && n.inputs[1] != kNoValue ? g.constant(n.inputs[1]) : nullptr;
  return axes && axes->dim() == 1 && axes->to_i64_vector() == std::vector<int64_t>{-1};
}

}  // namespace

int fuse_gelu(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t e = 0; e < g.nodes.size(); ++e) {
    const Node& erf = g.nodes[e];
    if (erf.dead || erf.op_type != "Erf") continue;
    const Value& in = g.values[static_cast<size_t>(erf.inputs[0])];
    const Node* div = node_at(g, in.producer, "Div");
    if (!div || g.sole_consumer(erf.inputs[0]) != static_cast<int>(e) || div->inputs[0] == div->inputs[1]) continue;
    if (!is_scalar_const(g, div->inputs[1], std::sqrt(2.0), 1e-4)) continue;
    const int x = div->inputs[0];
    const int add_id = g.sole_consumer(erf.outputs[0]);
    const Node* add = node_at(g, add_id, "Add");
    if (!add || !is_scalar_const(g, other_input(*add, erf.outputs[0]), 1.0, 0)) continue;
    const int mul_id = g.sole_consumer(add->outputs[0]);
    const Node* mul = node_at(g, mul_id, "Mul");
    if (!mul || other_input(*mul, add->outputs[0]) != x) continue;
    const int half_id = g.sole_consumer(mul->outputs[0]);
    const Node* half = node_at(g, half_id, "Mul");
    if (!half || !is_scalar_const(g, other_input(*half, mul->outputs[0]), 0.5, 0)) continue;
    Node gelu;
    gelu.name = erf.name + "_gelu";
    gelu.op_type = "Gelu";
    gelu.inputs = {x};
    gelu.outputs = half->outputs;
    for (int id : {in.producer, static_cast<int>(e), add_id, mul_id, half_id}) g.nodes[static_cast<size_t>(id)].dead = true;
    g.nodes.push_back(std::move(gelu));
    g.relink();
    ++count;
  }
  return count;
}

int fuse_layernorm(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t m = 0; m < g.nodes.size(); ++m) {
    const Node& mean = g.nodes[m];
    if (mean.dead || !last_axis_mean(g, mean)) continue;
    const int x = mean.inputs[0];
    const int sub_id = g.sole_consumer(mean.outputs[0]);
    const Node* sub = node_at(g, sub_id, "Sub");
    if (!sub || sub->inputs[0] != x || sub->inputs[1] != mean.outputs[0]) continue;
    const auto& users = g.values[static_cast<size_t>(sub->outputs[0])].consumers;
    if (users.size() != 2) continue;
    int pow_id = -1, div_id = -1;
    for (int u : users) {
      if (node_at(g, u, "Pow")) pow_id = u;
      if (node_at(g, u, "Div")) div_id = u;
    }
    if (pow_id < 0 || div_id < 0) continue;
    const Node &pw = g.nodes[static_cast<size_t>(pow_id)], &dv = g.nodes[static_cast<size_t>(div_id)];
    if (pw.inputs[0] != sub->outputs[0] || !is_scalar_const(g, pw.inputs[1], 2.0, 0) || dv.inputs[0] != sub->outputs[0])
      continue;
    const int var_id = g.sole_consumer(pw.outputs[0]);
    if (var_id < 0 || !last_axis_mean(g, g.nodes[static_cast<size_t>(var_id)]) || g.nodes[static_cast<size_t>(var_id)].dead)
      continue;
    const int add_eps_id = g.sole_consumer(g.nodes[static_cast<size_t>(var_id)].outputs[0]);
    const Node* add_eps = node_at(g, add_eps_id, "Add");
    if (!add_eps) continue;
    const int eps_v = other_input(*add_eps, g.nodes[static_cast<size_t>(var_id)].outputs[0]);
    const Array* eps = eps_v >= 0 ? g.constant(eps_v) : nullptr;
    if (!eps || eps->numel() != 1) continue;
    const int sqrt_id = g.sole_consumer(add_eps->outputs[0]);
    const Node* sq = node_at(g, sqrt_id, "Sqrt");
    if (!sq || g.sole_consumer(sq->outputs[0]) != div_id || dv.inputs[1] != sq->outputs[0]) continue;
    const int mul_id = g.sole_consumer(dv.outputs[0]);
    const Node* mul = node_at(g, mul_id, "Mul");
    const int gamma = mul ? other_input(*mul, dv.outputs[0]) : -1;
    if (!mul || gamma < 0 || !g.constant(gamma)) continue;
    const int addb_id = g.sole_consumer(mul->outputs[0]);
    const Node* addb = node_at(g, addb_id, "Add");
    const int beta = addb ? other_input(*addb, mul->outputs[0]) : -1;
    if (!addb || beta < 0 || !g.constant(beta) || g.constant(gamma)->dim() != 1 || g.constant(beta)->dim() != 1) continue;
    Node ln;
    ln.name = mean.name + "_layernorm";
    ln.op_type = "LayerNormalization";
    ln.inputs = {x, gamma, beta};
    ln.outputs = addb->outputs;
    ln.attrs["axis"] = Attribute::from_int(-1);
    ln.attrs["epsilon"] = Attribute::from_float(eps->get_f64(0));
    for (int id : {static_cast<int>(m), sub_id, pow_id, var_id, add_eps_id, sqrt_id, div_id, mul_id, addb_id})
      g.nodes[static_cast<size_t>(id)].dead = true;
    g.nodes.push_back(std::move(ln));
    g.relink();
    ++count;
  }
  return count;
}

}  // namespace lowbit::onnx
