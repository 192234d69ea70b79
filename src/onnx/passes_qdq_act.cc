// The QDQ lowering of products whose B is not a constant weight (passes_qdq.h): attention's
// DQ(Q)·DQ(Kᵀ) and DQ(P)·DQ(V), and MatMulInteger / QLinearMatMul that lower_qlinear leaves
// (non-constant B, non-zero B zero point), become lowbit.QMatMul (ops/qmatmul_act.cc), which
// packs B on every run. Only per-tensor parameters lower: per-row/per-column scales or zero
// points, non-constant parameters, or codes of another type keep the node running as written
// (the reference loops or the float simulation), which is also what ONNX Runtime computes.
#include <string>

#include "ops/op.h"
#include "passes_qdq.h"

namespace lowbit::onnx::qdq {
namespace {

bool is_8bit(ElemType t) { return t == ElemType::u8 || t == ElemType::i8; }

// A constant scalar (one value) of one of the types, or an absent optional input.
bool scalar_or_absent(const Graph& g, const Node& n, size_t i, bool zero_point) {
  if (!has_input(n, i)) return true;
  const Array* c = g.constant(n.inputs[i]);
  if (!c || c->numel() != 1) return false;
  return zero_point ? is_8bit(c->type()) : c->type() == ElemType::f32;
}

// DequantizeLinear with per-tensor constant parameters over 8-bit codes (activation or constant).
bool tensor_dq(const Graph& g, int v, ActQ* out) {
  const Node* dq = producer(g, v);
  if (!dq || dq->op_type != "DequantizeLinear" || !dq->domain.empty() || !has_input(*dq, 1)) return false;
  if (!scalar_or_absent(g, *dq, 1, false) || !scalar_or_absent(g, *dq, 2, true)) return false;
  if (!has_input(*dq, 2)) {  // the codes' type must be known to be 8-bit (int32 codes keep the float path)
    const ValueType& t = g.values[static_cast<size_t>(dq->inputs[0])].type;
    if (!is_8bit(t.elem)) return false;
  }
  *out = ActQ{dq->inputs[0], dq->inputs[1], has_input(*dq, 2) ? dq->inputs[2] : -1};
  return true;
}

Node fused_node(const Node& node, size_t n) {
  Node fused;
  fused.name = node.name.empty() ? "qmatmul" + std::to_string(n) : node.name;
  fused.domain = "lowbit";
  fused.op_type = "QMatMul";
  return fused;
}

// DQ(a) · DQ(b) → MatMul → [Relu | Clip] → [QuantizeLinear to 8-bit codes].
bool lower_dq_matmul(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  ActQ a, b;
  if (node.inputs.size() != 2 || !tensor_dq(g, node.inputs[0], &a) || !tensor_dq(g, node.inputs[1], &b)) return false;
  const OutputFusion f = plan_output(g, node.outputs[0]);
  if (f.q >= 0 && f.y_zp != kNoValue && !is_8bit(g.constant(f.y_zp)->type())) return false;
  Node fused = fused_node(node, n);
  apply_output(g, f, fused, node.outputs[0]);
  fused.inputs = {a.codes, a.scale, a.zp < 0 ? kNoValue : a.zp, b.codes, b.scale, b.zp < 0 ? kNoValue : b.zp,
                  fused.inputs[6], fused.inputs[7]};
  if (fused.inputs[6] == kNoValue) fused.inputs.resize(6);
  node = std::move(fused);
  g.relink();
  return true;
}

// MatMulInteger (a, b, [a_zp], [b_zp]) with scalar zero points → QMatMul with int32 output.
bool lower_matmul_integer(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  if (node.inputs.size() < 2 || !scalar_or_absent(g, node, 2, true) || !scalar_or_absent(g, node, 3, true)) return false;
  Node fused = fused_node(node, n);
  fused.inputs = {node.inputs[0], kNoValue, has_input(node, 2) ? node.inputs[2] : kNoValue,
                  node.inputs[1], kNoValue, has_input(node, 3) ? node.inputs[3] : kNoValue};
  fused.outputs = node.outputs;
  node = std::move(fused);
  g.relink();
  return true;
}

// QLinearMatMul with every scale and zero point a constant scalar → QMatMul (same inputs).
bool lower_qlinear_matmul(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  if (node.inputs.size() != 8) return false;
  for (size_t i = 1; i < 8; i += 1)
    if (i != 3 && (!has_input(node, i) || !scalar_or_absent(g, node, i, i == 2 || i == 5 || i == 7))) return false;
  Node fused = fused_node(node, n);
  fused.inputs = node.inputs;
  fused.outputs = node.outputs;
  node = std::move(fused);
  g.relink();
  return true;
}

}  // namespace

bool lower_act_matmul(Graph& g, size_t n) {
  const Node& node = g.nodes[n];
  if (!node.domain.empty() || node.outputs.empty()) return false;
  if (node.op_type == "MatMul") return lower_dq_matmul(g, n);
  if (node.op_type == "MatMulInteger") return lower_matmul_integer(g, n);
  if (node.op_type == "QLinearMatMul") return lower_qlinear_matmul(g, n);
  return false;
}

}  // namespace lowbit::onnx::qdq
