// The self-attention core of PyTorch's encoder exports as one lowbit.Attention node (ops/attention.cc):
//   x5 [B,T,3,H,dh] -> Transpose(2,0,3,1,4) -> Split(axis 0, three 1s) -> Squeeze(0) x3 -> q, k, v
//   k -> Transpose(0,1,3,2);  MatMul(q, k^T) -> [Mul(scalar constant)] -> Softmax(last axis)
//   -> MatMul(., v) -> Transpose(0,2,1,3) -> y [B,T,H,dh]
// Every intermediate must have exactly that one reader; anything else is left alone. Runs on
// float and on quantized graphs alike (after lower_quantized, the attention core stays float).
#include <vector>

#include "lowbit/onnx/passes.h"

namespace lowbit::onnx {
namespace {

// The node reading v, when it is v's only reader and of type op.
const Node* sole_reader(const Graph& g, int v, const char* op, int* id) {
  *id = v < 0 ? -1 : g.sole_consumer(v);
  if (*id < 0) return nullptr;
  const Node& n = g.nodes[static_cast<size_t>(*id)];
  return !n.dead && n.domain.empty() && n.op_type == op ? &n : nullptr;
}

bool is_transpose(const Node& n, std::vector<int64_t> perm) { return n.attr_ints("perm") == perm; }

// Ints from an attribute (older opsets) or a constant input (newer); `missing` when neither.
std::vector<int64_t> ints_of(const Graph& g, const Node& n, const char* attr, size_t input,
                             std::vector<int64_t> missing) {
  if (n.find(attr)) return n.attr_ints(attr);
  if (n.inputs.size() > input && n.inputs[input] != kNoValue) {
    const Array* a = g.constant(n.inputs[input]);
    return a && a->dim() == 1 ? a->to_i64_vector() : std::vector<int64_t>{-999};
  }
  return missing;
}

bool float_type_or_unknown(const Graph& g, int v) {
  const ElemType e = g.values[static_cast<size_t>(v)].type.elem;
  return e == ElemType::undefined || e == ElemType::f32 || e == ElemType::f64;
}

// Fuses the chain starting at the Transpose `t0`; returns false (graph untouched) if it is not one.
bool fuse_at(Graph& g, size_t t0_id) {
  const Node& t0 = g.nodes[t0_id];
  if (!is_transpose(t0, {2, 0, 3, 1, 4}) || t0.inputs.empty() || !float_type_or_unknown(g, t0.inputs[0])) return false;
  std::vector<int> dead{static_cast<int>(t0_id)};
  int split_id;
  const Node* split = sole_reader(g, t0.outputs[0], "Split", &split_id);
  if (!split || split->attr_i("axis", 0) != 0 || split->outputs.size() != 3) return false;
  const std::vector<int64_t> parts = ints_of(g, *split, "split", 1, {1, 1, 1});
  if (parts != std::vector<int64_t>{1, 1, 1}) return false;
  dead.push_back(split_id);
  int qkv[3];
  for (int i = 0; i < 3; ++i) {
    int sq_id;
    const Node* sq = sole_reader(g, split->outputs[static_cast<size_t>(i)], "Squeeze", &sq_id);
    if (!sq || ints_of(g, *sq, "axes", 1, {}) != std::vector<int64_t>{0}) return false;
    qkv[i] = sq->outputs[0];
    dead.push_back(sq_id);
  }
  int kt_id, s_id, mul_id, sm_id, pv_id, t2_id;
  const Node* kt = sole_reader(g, qkv[1], "Transpose", &kt_id);
  if (!kt || !is_transpose(*kt, {0, 1, 3, 2})) return false;
  const Node* qk = sole_reader(g, qkv[0], "MatMul", &s_id);
  if (!qk || qk->inputs[0] != qkv[0] || qk->inputs[1] != kt->outputs[0] || g.sole_consumer(kt->outputs[0]) != s_id)
    return false;
  double scale = 1.0;
  int scores = qk->outputs[0];
  if (const Node* mul = sole_reader(g, scores, "Mul", &mul_id)) {
    const int c = mul->inputs[0] == scores ? mul->inputs[1] : mul->inputs[0];
    const Array* a = g.constant(c);
    if (!a || a->numel() != 1 || (a->type() != ElemType::f32 && a->type() != ElemType::f64) || mul->inputs[0] == mul->inputs[1])
      return false;
    scale = a->get_f64(0);
    dead.push_back(mul_id);
    scores = mul->outputs[0];
  }
  const Node* sm = sole_reader(g, scores, "Softmax", &sm_id);
  if (!sm) return false;
  const int64_t axis = sm->attr_i("axis", g.opset >= 13 ? -1 : 1);
  if (axis != -1 && axis != 3) return false;  // rank 4: the last axis, at every opset
  const Node* pv = sole_reader(g, sm->outputs[0], "MatMul", &pv_id);
  if (!pv || pv->inputs[0] != sm->outputs[0] || pv->inputs[1] != qkv[2] || g.sole_consumer(qkv[2]) != pv_id)
    return false;
  const Node* t2 = sole_reader(g, pv->outputs[0], "Transpose", &t2_id);
  if (!t2 || !is_transpose(*t2, {0, 2, 1, 3})) return false;
  for (int id : {kt_id, s_id, sm_id, pv_id, t2_id}) dead.push_back(id);
  Node att;
  att.name = t0.name + "_attention";
  att.domain = "lowbit";
  att.op_type = "Attention";
  att.inputs = {t0.inputs[0]};
  att.outputs = t2->outputs;
  att.attrs["scale"] = Attribute::from_float(scale);
  for (int id : dead) g.nodes[static_cast<size_t>(id)].dead = true;
  g.nodes.push_back(std::move(att));
  g.relink();
  return true;
}

}  // namespace

int fuse_attention(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (!n.dead && n.domain.empty() && n.op_type == "Transpose" && fuse_at(g, id)) ++count;
  }
  return count;
}

}  // namespace lowbit::onnx
