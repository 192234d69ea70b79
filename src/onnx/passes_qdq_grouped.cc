// The QDQ lowering of group-wise int4 weights (passes_qdq.h): DequantizeLinear(x) and a blocked
// DequantizeLinear-21 of constant int8/int4 weight codes in [-8, 7] (zero points all 0, scales
// blocked along K with a block size that is a multiple of 8) → MatMul / Gemm (transA = 0, alpha =
// beta = 1) → [Relu | Clip] → [QuantizeLinear] becomes one lowbit.QGemmGrouped
// (ops/qgemm_grouped.cc). Other block sizes, blocked Conv weights and blocks along N keep the
// reference path (DequantizeLinear then the float op).
#include "ops/op.h"
#include "passes_qdq.h"

namespace lowbit::onnx::qdq {
namespace {

// The blocked weight DQ of a consumer whose K is axis k_axis of the 2-d weights; fills codes,
// scale and the block size.
bool grouped_weight_dq(const Graph& g, int v, int64_t k_axis, int* codes, int* scale, int64_t* block) {
  const Node* dq = producer(g, v);
  if (!dq || dq->op_type != "DequantizeLinear" || !has_input(*dq, 1)) return false;
  const int64_t b = dq->attr_i("block_size", 0);
  if (b <= 0 || b % 8 != 0) return false;
  const Array* w = g.constant(dq->inputs[0]);
  const Array* s = g.constant(dq->inputs[1]);
  if (!w || !s || w->type() != ElemType::i8 || w->dim() != 2 || s->type() != ElemType::f32 || s->dim() != 2) return false;
  int64_t a = dq->attr_i("axis", 1);
  if (a < 0) a += 2;
  if (a != k_axis) return false;
  Shape want = w->shape();
  want[static_cast<size_t>(k_axis)] = (want[static_cast<size_t>(k_axis)] + b - 1) / b;
  if (s->shape() != want) return false;  // the op's own check names the node
  for (int64_t i = 0; i < s->numel(); ++i)
    if (!(s->data<float>()[i] > 0)) return false;
  if (has_input(*dq, 2)) {
    const Array* z = g.constant(dq->inputs[2]);
    if (!z) return false;
    for (int64_t i = 0; i < z->numel(); ++i)
      if (z->get_i64(i) != 0) return false;
  }
  for (int64_t i = 0; i < w->numel(); ++i)
    if (w->data<int8_t>()[i] < -8 || w->data<int8_t>()[i] > 7) return false;
  *codes = dq->inputs[0];
  *scale = dq->inputs[1];
  *block = b;
  return true;
}

}  // namespace

bool lower_grouped(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  const bool gemm = node.op_type == "Gemm", matmul = node.op_type == "MatMul";
  if ((!gemm && !matmul) || !node.domain.empty() || node.inputs.size() < 2) return false;
  if (gemm && (node.attr_i("transA", 0) != 0 || node.attr_f("alpha", 1.0) != 1.0 || node.attr_f("beta", 1.0) != 1.0))
    return false;
  ActQ x;
  if (!act_dq(g, node.inputs[0], &x)) return false;
  const bool trans_b = gemm && node.attr_i("transB", 0) != 0;  // weights N×K, else K×N
  int wq = -1, ws = -1;
  int64_t block = 0;
  if (!grouped_weight_dq(g, node.inputs[1], trans_b ? 1 : 0, &wq, &ws, &block)) return false;
  const Array& w = *g.constant(wq);
  const Array& s = *g.constant(ws);
  const int64_t N = trans_b ? w.shape()[0] : w.shape()[1], K = trans_b ? w.shape()[1] : w.shape()[0];
  const int64_t groups = (K + block - 1) / block;
  const std::string base = node.name.empty() ? "qgrouped" + std::to_string(n) : node.name;
  int bias = kNoValue;
  if (gemm && has_input(node, 2)) {
    bias = float_bias(g, node.inputs[2], base);
    if (bias == -2 || g.constant(bias)->numel() != N) return false;
  }
  // Weights to N×K, scales to [groups, N] (the kernel's order).
  Array wt = Array::empty(ElemType::i8, {N, K});
  Array st = Array::empty(ElemType::f32, {groups, N});
  for (int64_t j = 0; j < N; ++j)
    for (int64_t k = 0; k < K; ++k) wt.data<int8_t>()[j * K + k] = w.data<int8_t>()[trans_b ? j * K + k : k * N + j];
  for (int64_t gi = 0; gi < groups; ++gi)
    for (int64_t j = 0; j < N; ++j) st.data<float>()[gi * N + j] = s.data<float>()[trans_b ? j * groups + gi : gi * N + j];
  const int wv = g.add_value(base + "_w4g", ValueType{ElemType::i8, wt.shape(), true});
  g.constants[wv] = std::move(wt);
  const int sv = g.add_value(base + "_w4g_scale", ValueType{ElemType::f32, st.shape(), true});
  g.constants[sv] = std::move(st);
  Node fused;
  fused.name = base;
  fused.domain = "lowbit";
  fused.op_type = "QGemmGrouped";
  fused.attrs["lowbit_group"] = Attribute::from_int(block);
  fused.inputs = {x.codes, x.scale, x.zp < 0 ? kNoValue : x.zp, wv, sv, kNoValue};
  apply_output(g, plan_output(g, node.outputs[0]), fused, node.outputs[0]);
  fused.inputs.push_back(bias);
  node = std::move(fused);
  g.relink();
  return true;
}

}  // namespace lowbit::onnx::qdq
