// Lowering of quantized patterns to the fused integer ops of ops/qlinear_fused.cc (domain
// "lowbit": QConv, QGemm, QAdd). Recognized: DequantizeLinear(x) and DequantizeLinear(int8
// constant weights) → Conv / Gemm / MatMul → [Relu | Clip] → [QuantizeLinear]; DQ(a) + DQ(b) →
// Add → [Relu] → Q; and the standard QLinearConv / QLinearMatMul with int8 constant weights.
// Weights whose int8 codes all lie in [-8, 7] run as int4 (W4A8, lowbit_wbits = 4).
// The fused node reads the uint8/int8 codes that fed the DequantizeLinear and writes those of
// the QuantizeLinear, so consecutive quantized ops exchange codes with no float round trip; DQ
// nodes left without readers are removed. Anything not matched keeps running as written.
// Chains that only move codes and the mean of codes are lowered in passes_qdq_codes.cc, products
// of two quantized activations (attention's Q·Kᵀ, P·V) in passes_qdq_act.cc.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "lowbit/onnx/passes.h"
#include "ops/op.h"
#include "passes_qdq.h"

namespace lowbit::onnx {
namespace {

using namespace qdq;

// Scales must be positive and finite, zero points of the codes' type and as long as the scales,
// a per-axis parameter's axis inside the input's rank: else the model is wrong, named by node.
// data_at < 0: no axis check; axis_attr false: the axis is 0 (QLinearConv's weights).
void check_qparams(const Graph& g, const Node& n, size_t scale_at, size_t zp_at, int data_at, bool axis_attr = true) {
  const Array* s = has_input(n, scale_at) ? g.constant(n.inputs[scale_at]) : nullptr;
  if (!s) return;
  auto fail = [&](const std::string& what) { node_fail(n, g.opset, "{}", what); };
  if (s->type() != ElemType::f32) fail(fmt::format("scale (input {}) must be float32", scale_at));
  if (s->numel() == 0) fail(fmt::format("scale (input {}) is empty", scale_at));
  for (int64_t i = 0; i < s->numel(); ++i) {
    const double v = s->get_f64(i);
    if (!(v > 0) || !std::isfinite(v))
      fail(fmt::format("scale (input {}) element {} is {}; scales must be positive and finite", scale_at, i, v));
  }
  if (const Array* z = has_input(n, zp_at) ? g.constant(n.inputs[zp_at]) : nullptr) {
    if (z->numel() != s->numel())
      fail(fmt::format("zero point (input {}) has {} element(s) but the scale has {}", zp_at, z->numel(), s->numel()));
    if (z->type() != ElemType::u8 && z->type() != ElemType::i8 && z->type() != ElemType::i32)
      fail(fmt::format("zero point (input {}) of type {} is not an 8-bit integer", zp_at, elem_name(z->type())));
    if (z->type() == ElemType::i32)
      for (int64_t i = 0; i < z->numel(); ++i)
        if (z->get_i64(i) != 0) fail(fmt::format("int32 zero point (input {}) must be 0, element {} is {}", zp_at, i, z->get_i64(i)));
  }
  if (n.attr_i("block_size", 0) != 0) return;  // blocked: its shape is checked by the op (ops/quantize_linear.cc)
  if (data_at >= 0 && (s->numel() > 1 || s->dim() == 1) && has_input(n, static_cast<size_t>(data_at))) {
    const ValueType& t = g.values[static_cast<size_t>(n.inputs[static_cast<size_t>(data_at)])].type;
    const int64_t axis = axis_attr ? n.attr_i("axis", 1) : 0;
    if (t.has_shape) {
      const auto rank = static_cast<int64_t>(t.shape.size());
      if (axis < -rank || axis >= rank) fail(fmt::format("axis {} is out of range for input rank {}", axis, rank));
      const int64_t d = t.shape[static_cast<size_t>(axis < 0 ? axis + rank : axis)];
      if (s->numel() > 1 && d >= 0 && d != s->numel())
        fail(fmt::format("scale has {} elements but axis {} of the input has {}", s->numel(), axis, d));
    } else if (axis < -8 || axis >= 8) {
      fail(fmt::format("axis {} is out of range", axis));
    }
  }
}

// A DequantizeLinear of constant int8 weights with zero points all 0 (symmetric), per tensor or
// along `axis` (the output-channel axis of the consumer).
bool weight_dq(const Graph& g, int v, int64_t axis, int* codes, int* scale) {
  const Node* dq = producer(g, v);
  if (!dq || dq->op_type != "DequantizeLinear" || !has_input(*dq, 1)) return false;
  const Array* w = g.constant(dq->inputs[0]);
  const Array* s = g.constant(dq->inputs[1]);
  if (!w || !s || w->type() != ElemType::i8 || dq->attr_i("block_size", 0) != 0) return false;  // blocked: lower_grouped
  if (has_input(*dq, 2)) {
    const Array* z = g.constant(dq->inputs[2]);
    if (!z) return false;
    for (int64_t i = 0; i < z->numel(); ++i)
      if (z->get_i64(i) != 0) return false;
  }
  if (s->numel() > 1) {
    int64_t a = dq->attr_i("axis", 1);
    if (a < 0) a += w->dim();
    if (a != axis) return false;
  }
  *codes = dq->inputs[0];
  *scale = dq->inputs[1];
  return true;
}

}  // namespace

// Shared with passes_qdq_grouped.cc (passes_qdq.h).
namespace qdq {

// A float bias: a constant, or DequantizeLinear of a constant (ONNX Runtime's int32 bias).
int float_bias(Graph& g, int v, const std::string& base) {
  if (v == kNoValue) return kNoValue;
  if (const Array* b = g.constant(v); b && b->type() == ElemType::f32) return v;
  const Node* dq = producer(g, v);
  if (!dq || dq->op_type != "DequantizeLinear") return -2;
  const Array* q = g.constant(dq->inputs[0]);
  const Array* s = has_input(*dq, 1) ? g.constant(dq->inputs[1]) : nullptr;
  if (!q || !s || (s->numel() != 1 && s->numel() != q->numel())) return -2;
  Array f = Array::empty(ElemType::f32, q->shape());
  for (int64_t i = 0; i < q->numel(); ++i)
    f.data<float>()[i] = static_cast<float>(static_cast<double>(q->get_i64(i)) * s->get_f64(s->numel() == 1 ? 0 : i));
  const int fv = g.add_value(base + "_qbias", ValueType{ElemType::f32, f.shape(), true});
  g.constants[fv] = std::move(f);
  return fv;
}

OutputFusion plan_output(const Graph& g, int out) {
  OutputFusion f;
  int cur = out;
  if (const int a = g.sole_consumer(cur); a >= 0) {
    const Node& act = g.nodes[static_cast<size_t>(a)];
    bool ok = act.op_type == "Relu";
    if (act.op_type == "Clip" && g.opset >= 11) {
      ok = (!has_input(act, 1) || g.constant(act.inputs[1])) && (!has_input(act, 2) || g.constant(act.inputs[2]));
      if (ok && has_input(act, 1)) f.lo = g.constant(act.inputs[1])->get_f64(0);
      if (ok && has_input(act, 2)) f.hi = g.constant(act.inputs[2])->get_f64(0);
    }
    if (ok) {
      f.act = a;
      cur = act.outputs[0];
    }
  }
  if (const int q = g.sole_consumer(cur); q >= 0) {
    const Node& qn = g.nodes[static_cast<size_t>(q)];
    const Array* s = has_input(qn, 1) ? g.constant(qn.inputs[1]) : nullptr;
    const Array* z = has_input(qn, 2) ? g.constant(qn.inputs[2]) : nullptr;
    // int4 / uint4 codes (output_dtype 21, 22) have a narrower range than the fused op writes.
    if (qn.op_type == "QuantizeLinear" && s && s->numel() == 1 && (!has_input(qn, 2) || (z && z->numel() == 1)) &&
        qn.attr_i("output_dtype", 0) <= 3) {
      f.q = q;
      f.y_scale = qn.inputs[1];
      f.y_zp = has_input(qn, 2) ? qn.inputs[2] : kNoValue;
    }
  }
  return f;
}

// Moves the activation into `fused`'s attributes, y_scale / y_zp into its inputs 6 and 7
// (kNoValue for a float result) and takes over the last node's outputs.
void apply_output(Graph& g, const OutputFusion& f, Node& fused, int out) {
  fused.outputs = {out};
  fused.inputs.resize(8, kNoValue);
  if (f.act >= 0) {
    Node& act = g.nodes[static_cast<size_t>(f.act)];
    fused.attrs["lowbit_act"] = Attribute::from_string(act.op_type);
    if (act.op_type == "Clip") {
      fused.attrs["lowbit_act_a"] = Attribute::from_float(f.lo);
      fused.attrs["lowbit_act_b"] = Attribute::from_float(f.hi);
    }
    act.dead = true;
    fused.outputs = act.outputs;
  }
  if (f.q >= 0) {
    Node& qn = g.nodes[static_cast<size_t>(f.q)];
    fused.inputs[6] = f.y_scale;
    if (f.y_zp != kNoValue) {
      fused.inputs[7] = f.y_zp;
    } else {
      const int zv = g.add_value(fused.name + "_yzp", ValueType{ElemType::u8, {}, true});
      g.constants[zv] = Array::scalar<uint8_t>(0);
      fused.inputs[7] = zv;
    }
    fused.outputs = qn.outputs;
    qn.dead = true;
  }
}

}  // namespace qdq

namespace {

// W4A8: constant int8 weights whose codes all lie in [-8, 7] (what `lowbit quantize --weights
// int4` writes; ONNX before opset 21 has no int4 type) are marked for the packed-int4 GEMM,
// which reads half the weight bytes and gives the same sums. Depthwise convs keep their own
// int8 kernel. LOWBIT_ONNX_INT4=0 keeps every weight int8 (the W8A8 side of a comparison).
void mark_int4(const Array& w, Node& fused) {
  if (fused.attr_i("group", 1) != 1) return;
  if (const char* e = std::getenv("LOWBIT_ONNX_INT4"); e && std::string_view(e) == "0") return;
  const int8_t* c = w.data<int8_t>();
  for (int64_t i = 0; i < w.numel(); ++i)
    if (c[i] < -8 || c[i] > 7) return;
  fused.attrs["lowbit_wbits"] = Attribute::from_int(4);
}

Attributes conv_attrs(const Node& n) {
  Attributes a;
  for (const char* k : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
    if (const Attribute* v = n.find(k)) a[k] = *v;
  return a;
}

// DQ → Conv / Gemm / MatMul → ... ; returns whether node n was replaced.
bool lower_linear(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  const bool conv = node.op_type == "Conv", gemm = node.op_type == "Gemm", matmul = node.op_type == "MatMul";
  if (!conv && !gemm && !matmul) return false;
  const int64_t group = conv ? node.attr_i("group", 1) : 1;
  if (gemm && (node.attr_i("transA", 0) != 0 || node.attr_f("alpha", 1.0) != 1.0 || node.attr_f("beta", 1.0) != 1.0))
    return false;
  ActQ x;
  if (node.inputs.size() < 2 || !act_dq(g, node.inputs[0], &x)) return false;
  const bool trans_b = gemm && node.attr_i("transB", 0) != 0;
  const int64_t w_axis = conv || trans_b ? 0 : 1;
  int wq = -1, ws = -1;
  if (!weight_dq(g, node.inputs[1], w_axis, &wq, &ws)) return false;
  const Array& w = *g.constant(wq);
  if ((conv && w.dim() != 4) || (!conv && w.dim() != 2)) return false;
  // Grouped convs: only depthwise (one filter per channel), and only with a trailing Q (the
  // depthwise kernel requantizes); others keep the float path.
  if (group != 1 && (w.shape()[0] != group || w.shape()[1] != 1 || plan_output(g, node.outputs[0]).q < 0)) return false;
  const std::string base = node.name.empty() ? "qnode" + std::to_string(n) : node.name;
  int bias = kNoValue;
  if (!matmul && has_input(node, 2)) {
    bias = float_bias(g, node.inputs[2], base);
    if (bias == -2) return false;
    const Array* b = g.constant(bias);
    if (b->numel() != w.shape()[static_cast<size_t>(w_axis)]) return false;
  }
  int w_nk = wq;
  if (!conv && !trans_b) {  // the igemm reads weights as N×K
    const int64_t K = w.shape()[0], N = w.shape()[1];
    Array t = Array::empty(ElemType::i8, {N, K});
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) t.data<int8_t>()[j * K + k] = w.data<int8_t>()[k * N + j];
    w_nk = g.add_value(base + "_wt", ValueType{ElemType::i8, t.shape(), true});
    g.constants[w_nk] = std::move(t);
  }
  Node fused;
  fused.name = base;
  fused.domain = "lowbit";
  fused.op_type = conv ? "QConv" : "QGemm";
  if (conv) fused.attrs = conv_attrs(node);
  fused.inputs = {x.codes, x.scale, x.zp < 0 ? kNoValue : x.zp, w_nk, ws, kNoValue};
  mark_int4(*g.constant(w_nk), fused);
  apply_output(g, plan_output(g, node.outputs[0]), fused, node.outputs[0]);
  fused.inputs.push_back(bias);
  node = std::move(fused);
  g.relink();
  return true;
}

// DQ(a) + DQ(b) → Add → [Relu] → Q, all uint8.
bool lower_add(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  if (node.op_type != "Add" || node.inputs.size() != 2) return false;
  ActQ a, b;
  if (!act_dq(g, node.inputs[0], &a) || !act_dq(g, node.inputs[1], &b)) return false;
  for (int z : {a.zp, b.zp})
    if (z >= 0 && g.constant(z)->type() != ElemType::u8) return false;
  Node fused;
  fused.name = node.name.empty() ? "qadd" + std::to_string(n) : node.name;
  fused.domain = "lowbit";
  fused.op_type = "QAdd";
  const OutputFusion f = plan_output(g, node.outputs[0]);
  if (f.q < 0 || (f.y_zp != kNoValue && g.constant(f.y_zp)->type() != ElemType::u8)) return false;
  if (f.act >= 0 && g.nodes[static_cast<size_t>(f.act)].op_type != "Relu") return false;
  apply_output(g, f, fused, node.outputs[0]);
  fused.inputs = {a.codes, a.scale, a.zp < 0 ? kNoValue : a.zp, b.codes, b.scale, b.zp < 0 ? kNoValue : b.zp,
                  fused.inputs[6], fused.inputs[7]};
  node = std::move(fused);
  g.relink();
  return true;
}

// Standard QLinearConv / QLinearMatMul with constant int8 weights and zero weight zero points.
bool lower_qlinear(Graph& g, size_t n) {
  Node& node = g.nodes[n];
  const bool conv = node.op_type == "QLinearConv", mm = node.op_type == "QLinearMatMul";
  if ((!conv && !mm) || node.inputs.size() < 8) return false;
  if (conv && node.attr_i("group", 1) != 1) return false;
  const Array* w = g.constant(node.inputs[3]);
  const Array* wz = has_input(node, 5) ? g.constant(node.inputs[5]) : nullptr;
  if (!w || w->type() != ElemType::i8 || !wz || !g.constant(node.inputs[4]) || !g.constant(node.inputs[6])) return false;
  for (int64_t i = 0; i < wz->numel(); ++i)
    if (wz->get_i64(i) != 0) return false;
  if ((conv && w->dim() != 4) || (mm && w->dim() != 2) || g.constant(node.inputs[1]) == nullptr) return false;
  const std::string base = node.name.empty() ? "qlinear" + std::to_string(n) : node.name;
  std::vector<int> in(node.inputs.begin(), node.inputs.end());
  int bias = kNoValue;
  if (conv && has_input(node, 8)) {  // int32 bias in units of x_scale·w_scale[m]
    const Array* b = g.constant(node.inputs[8]);
    if (!b) return false;
    const Array &xs = *g.constant(node.inputs[1]), &ws = *g.constant(node.inputs[4]);
    Array f = Array::empty(ElemType::f32, b->shape());
    for (int64_t i = 0; i < b->numel(); ++i)
      f.data<float>()[i] = static_cast<float>(b->get_i64(i) * xs.get_f64(0) * ws.get_f64(ws.numel() == 1 ? 0 : i));
    bias = g.add_value(base + "_qbias", ValueType{ElemType::f32, f.shape(), true});
    g.constants[bias] = std::move(f);
  }
  if (mm) {
    const int64_t K = w->shape()[0], N = w->shape()[1];
    Array t = Array::empty(ElemType::i8, {N, K});
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) t.data<int8_t>()[j * K + k] = w->data<int8_t>()[k * N + j];
    in[3] = g.add_value(base + "_wt", ValueType{ElemType::i8, t.shape(), true});
    g.constants[in[3]] = std::move(t);
  }
  Node fused;
  fused.name = base;
  fused.domain = "lowbit";
  fused.op_type = conv ? "QConv" : "QGemm";
  if (conv) fused.attrs = conv_attrs(node);
  fused.inputs = {in[0], in[1], in[2], in[3], in[4], kNoValue, in[6], in[7], bias};
  mark_int4(*g.constant(in[3]), fused);
  fused.outputs = node.outputs;
  node = std::move(fused);
  g.relink();
  return true;
}

// QConv (requantized to uint8) → QAdd with a residual: the Add joins the conv as its epilogue
// (ops/qlinear_fused.cc: inputs 9-13 and lowbit_add), so the conv's codes are added while still
// in cache instead of making a round trip through memory (ResNet blocks: the last 1×1 conv of
// each block). The fused node takes the QAdd's place, after the residual's producer. Depthwise
// convs and a conv read twice by the Add are left alone. LOWBIT_ONNX_QADD_FUSE=0 turns it off.
int fuse_qconv_add(Graph& g) {
  if (const char* e = std::getenv("LOWBIT_ONNX_QADD_FUSE"); e && std::string_view(e) == "0") return 0;
  int count = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& add = g.nodes[n];
    if (add.dead || add.domain != "lowbit" || add.op_type != "QAdd" || add.inputs.size() != 8 || !has_input(add, 6) ||
        add.inputs[0] == add.inputs[3])
      continue;
    for (int side = 0; side < 2; ++side) {
      const int conv_out = add.inputs[side == 0 ? 0 : 3];
      const Node* c = producer(g, conv_out);
      if (!c || c->domain != "lowbit" || c->op_type != "QConv" || c->attr_i("group", 1) != 1 || c->find("lowbit_add") ||
          c->inputs.size() != 9 || !has_input(*c, 6) || !has_input(*c, 7) || g.sole_consumer(conv_out) != static_cast<int>(n))
        continue;
      const Array* cz = g.constant(c->inputs[7]);
      if (!cz || cz->type() != ElemType::u8) continue;
      const size_t r = side == 0 ? 3 : 0;  // the residual operand's codes, scale, zero point
      Node fused = *c;
      fused.inputs.insert(fused.inputs.end(), {add.inputs[r], add.inputs[r + 1], add.inputs[r + 2], add.inputs[6], add.inputs[7]});
      fused.attrs["lowbit_add"] = Attribute::from_int(side + 1);
      if (const Attribute* act = add.find("lowbit_act")) fused.attrs["lowbit_add_act"] = *act;
      fused.outputs = add.outputs;
      g.nodes[static_cast<size_t>(g.values[static_cast<size_t>(conv_out)].producer)].dead = true;
      add = std::move(fused);
      g.relink();
      ++count;
      break;
    }
  }
  if (count) g.remove_dead();
  return count;
}

}  // namespace

namespace qdq {

bool act_dq(const Graph& g, int v, ActQ* out) {
  const Node* dq = producer(g, v);
  if (!dq || dq->op_type != "DequantizeLinear" || !has_input(*dq, 1) || g.is_constant(dq->inputs[0])) return false;
  const Array* s = g.constant(dq->inputs[1]);
  if (!s || s->numel() != 1) return false;
  const Array* z = has_input(*dq, 2) ? g.constant(dq->inputs[2]) : nullptr;
  if (has_input(*dq, 2) && (!z || z->numel() != 1 || (z->type() != ElemType::u8 && z->type() != ElemType::i8))) return false;
  *out = ActQ{dq->inputs[0], dq->inputs[1], has_input(*dq, 2) ? dq->inputs[2] : -1};
  return true;
}

}  // namespace qdq

void validate_qparams(const Graph& g) {
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear") check_qparams(g, n, 1, 2, 0);
    if (n.op_type == "QLinearConv" || n.op_type == "QLinearMatMul") {
      check_qparams(g, n, 1, 2, -1);
      check_qparams(g, n, 4, 5, n.op_type == "QLinearConv" ? 3 : -1, false);
      check_qparams(g, n, 6, 7, -1);
    }
  }
}

int lower_quantized(Graph& g) {
  begin_internal_forms(g);  // the fused ops it writes are lowbit-internal
  g.relink();
  validate_qparams(g);
  int count = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (!g.nodes[n].dead && lower_code_chain(g, n)) ++count;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (g.nodes[n].dead) continue;
    if (lower_grouped(g, n) || lower_linear(g, n) || lower_add(g, n) || lower_qlinear(g, n) || lower_mean(g, n) ||
        lower_act_matmul(g, n))
      ++count;
  }
  if (count) g.remove_dead();
  count += fuse_qconv_add(g);
  // Q/DQ nodes left between float ops (per tensor): the quantizer kernels (ops/qdq_fast.cc).
  for (Node& node : g.nodes) {
    const bool q = node.op_type == "QuantizeLinear", dq = node.op_type == "DequantizeLinear";
    if (node.dead || (!q && !dq) || !node.domain.empty() || node.inputs.size() < 2) continue;
    const Array* s = g.constant(node.inputs[1]);
    const Array* z = has_input(node, 2) ? g.constant(node.inputs[2]) : nullptr;
    if (!s || s->numel() != 1 || (has_input(node, 2) && (!z || z->numel() != 1))) continue;
    if (node.attr_i("output_dtype", 0) > 3 || node.attr_i("block_size", 0) != 0) continue;  // int4 codes, blocked
    if (z && z->type() != ElemType::u8 && z->type() != ElemType::i8) continue;
    node.domain = "lowbit";
    node.op_type = q ? "Quantize" : "Dequantize";
  }
  return count;
}

}  // namespace lowbit::onnx
