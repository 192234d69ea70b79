// Constant folding, BatchNorm folding, Conv+Add (residual) and Conv/Gemm+activation fusion.
#include "lowbit/onnx/passes.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

bool constant_scalar(const Graph& g, int v, double* out) {
  const Array* a = g.constant(v);
  if (!a || a->numel() != 1) return false;
  *out = a->get_f64(0);
  return true;
}

}  // namespace

int fold_constants(Graph& g) {
  int folded = 0;
  for (int n : g.topo_order()) {
    Node& node = g.nodes[static_cast<size_t>(n)];
    bool all_const = true;
    for (int v : node.inputs) all_const = all_const && (v == kNoValue || g.is_constant(v));
    if (!all_const) continue;
    const OpDef& op = resolve_op(node, g.opset);
    if (op.own_outputs) continue;  // If/Loop/Scan: run by the session, never at load (a Loop may be long)
    InferCtx ictx{node, g.opset, {}, {}, std::vector<ValueType>(node.outputs.size())};
    for (int v : node.inputs) {
      const Array* a = v == kNoValue ? nullptr : g.constant(v);
      ictx.in.push_back(a ? ValueType{a->type(), a->shape(), true} : ValueType{});
      ictx.values.push_back(a);
    }
    op.infer(ictx);
    RunCtx run{node, g.opset, ictx.values, {}};
    std::vector<Array> outs;
    outs.reserve(node.outputs.size());
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      LOWBIT_CHECK(ictx.out[i].has_shape, "constant node {} has no static shape", node.describe());
      outs.push_back(Array::empty(ictx.out[i].elem, ictx.out[i].shape));
      run.out.push_back(node.outputs[i] == kNoValue ? nullptr : &outs.back());
    }
    op.run(run);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const int v = node.outputs[i];
      if (v == kNoValue) continue;
      g.constants[v] = std::move(outs[i]);
      g.values[static_cast<size_t>(v)].type = ValueType{g.constants[v].type(), g.constants[v].shape(), true};
    }
    node.dead = true;
    ++folded;
  }
  g.relink();
  return folded;
}

int fold_batchnorm(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& conv = g.nodes[n];
    if (conv.dead || conv.op_type != "Conv" || conv.inputs.size() < 2 || conv.find("lowbit_act")) continue;
    const int bn_id = g.sole_consumer(conv.outputs[0]);
    if (bn_id < 0) continue;
    Node& bn = g.nodes[static_cast<size_t>(bn_id)];
    if (bn.op_type != "BatchNormalization" || bn.outputs.size() != 1 || bn.inputs[0] != conv.outputs[0]) continue;
    const Array* w = g.constant(conv.inputs[1]);
    const Array* b = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue ? g.constant(conv.inputs[2]) : nullptr;
    const bool has_b = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
    if (!w || (has_b && !b) || w->type() != ElemType::f32) continue;
    const Array *scale = g.constant(bn.inputs[1]), *shift = g.constant(bn.inputs[2]), *mean = g.constant(bn.inputs[3]),
                *var = g.constant(bn.inputs[4]);
    if (!scale || !shift || !mean || !var) continue;
    const int64_t K = w->shape()[0], per = w->numel() / K;
    if (scale->numel() != K || shift->numel() != K || mean->numel() != K || var->numel() != K) continue;
    const double eps = bn.attr_f("epsilon", 1e-5);
    Array w2 = w->clone(), b2 = Array::empty(ElemType::f32, {K});
    for (int64_t k = 0; k < K; ++k) {
      // y = s * (conv + b - mean) + shift with s = scale / sqrt(var + eps), in double.
      const double s = scale->get_f64(k) / std::sqrt(var->get_f64(k) + eps);
      for (int64_t i = 0; i < per; ++i) w2.data<float>()[k * per + i] = static_cast<float>(w->data<float>()[k * per + i] * s);
      b2.data<float>()[k] = static_cast<float>(((b ? b->get_f64(k) : 0.0) - mean->get_f64(k)) * s + shift->get_f64(k));
    }
    const std::string base = conv.name.empty() ? "conv" : conv.name;
    const int wv = g.add_value(base + "_bnfold_w", ValueType{ElemType::f32, w2.shape(), true});
    const int bv = g.add_value(base + "_bnfold_b", ValueType{ElemType::f32, b2.shape(), true});
    g.constants[wv] = std::move(w2);
    g.constants[bv] = std::move(b2);
    conv.inputs = {conv.inputs[0], wv, bv};
    conv.outputs = bn.outputs;
    bn.dead = true;
    g.relink();
    ++count;
  }
  return count;
}

int fuse_conv_add(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& conv = g.nodes[n];
    if (conv.dead || conv.op_type != "Conv" || conv.inputs.size() < 2 || conv.inputs.size() > 3 ||
        conv.find("lowbit_act") || conv.find("lowbit_sum"))
      continue;
    const int add_id = g.sole_consumer(conv.outputs[0]);
    if (add_id < 0) continue;
    Node& add = g.nodes[static_cast<size_t>(add_id)];
    if (add.op_type != "Add" || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) continue;
    const int other = add.inputs[0] == conv.outputs[0] ? add.inputs[1] : add.inputs[0];
    // No cycle can form: the conv's output has one consumer (this Add), so `other` cannot
    // depend on it.
    conv.inputs.resize(3, kNoValue);
    conv.inputs.push_back(other);
    conv.attrs["lowbit_sum"] = Attribute::from_int(1);
    conv.outputs = add.outputs;
    add.dead = true;
    g.relink();
    ++count;
  }
  return count;
}

namespace {

// SiLU written out: y read by exactly Sigmoid(y) and Mul(y, s) (either operand order), the
// Sigmoid read only by that Mul, y not a graph output. Returns the Mul's id (or -1) and the
// Sigmoid's in *sig.
int silu_mul(const Graph& g, int y, int* sig) {
  const Value& val = g.values[static_cast<size_t>(y)];
  if (val.consumers.size() != 2 || std::find(g.outputs.begin(), g.outputs.end(), y) != g.outputs.end()) return -1;
  for (int i = 0; i < 2; ++i) {
    const int s = val.consumers[static_cast<size_t>(i)], m = val.consumers[static_cast<size_t>(1 - i)];
    const Node &sn = g.nodes[static_cast<size_t>(s)], &mn = g.nodes[static_cast<size_t>(m)];
    if (sn.dead || mn.dead || sn.op_type != "Sigmoid" || mn.op_type != "Mul" || sn.inputs.size() != 1 ||
        mn.inputs.size() != 2 || g.sole_consumer(sn.outputs[0]) != m)
      continue;
    const bool operands = (mn.inputs[0] == y && mn.inputs[1] == sn.outputs[0]) ||
                          (mn.inputs[1] == y && mn.inputs[0] == sn.outputs[0]);
    if (!operands) continue;
    *sig = s;
    return m;
  }
  return -1;
}

}  // namespace

int fuse_activations(Graph& g) {
  begin_internal_forms(g);
  int count = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& node = g.nodes[n];
    const bool bn = node.op_type == "BatchNormalization";  // DenseNet's BN -> ReLU: only Relu fuses
    if (node.dead || (node.op_type != "Conv" && node.op_type != "Gemm" && !bn) || node.find("lowbit_act")) continue;
    if (int sig = -1, mul = node.op_type == "Conv" ? silu_mul(g, node.outputs[0], &sig) : -1; mul >= 0) {
      node.attrs["lowbit_act"] = Attribute::from_string("Silu");
      node.outputs = g.nodes[static_cast<size_t>(mul)].outputs;
      g.nodes[static_cast<size_t>(sig)].dead = true;
      g.nodes[static_cast<size_t>(mul)].dead = true;
      g.relink();
      ++count;
      continue;
    }
    const int act_id = g.sole_consumer(node.outputs[0]);
    if (act_id < 0) continue;
    Node& act = g.nodes[static_cast<size_t>(act_id)];
    if (act.inputs.empty() || act.inputs[0] != node.outputs[0] || (bn && act.op_type != "Relu")) continue;
    Attributes extra;
    if (act.op_type == "Relu" || act.op_type == "HardSwish" || act.op_type == "Sigmoid") {
      extra["lowbit_act"] = Attribute::from_string(act.op_type);
    } else if (act.op_type == "LeakyRelu") {
      extra["lowbit_act"] = Attribute::from_string("LeakyRelu");
      extra["lowbit_act_a"] = Attribute::from_float(act.attr_f("alpha", 0.01));
    } else if (act.op_type == "Clip") {
      double lo = -INFINITY, hi = INFINITY;
      if (g.opset < 11) lo = act.attr_f("min", lo), hi = act.attr_f("max", hi);  // Clip-6: attributes
      if (act.inputs.size() > 1 && act.inputs[1] != kNoValue && !constant_scalar(g, act.inputs[1], &lo)) continue;
      if (act.inputs.size() > 2 && act.inputs[2] != kNoValue && !constant_scalar(g, act.inputs[2], &hi)) continue;
      extra["lowbit_act"] = Attribute::from_string("Clip");
      extra["lowbit_act_a"] = Attribute::from_float(lo);
      extra["lowbit_act_b"] = Attribute::from_float(hi);
    } else {
      continue;
    }
    for (auto& [k, v] : extra) node.attrs[k] = v;
    node.outputs = act.outputs;
    act.dead = true;
    g.relink();
    ++count;
  }
  return count;
}

void begin_internal_forms(Graph& g) {
  if (g.optimized) return;
  g.validate();  // schema-check the nodes while they are still standard ONNX
  g.optimized = true;
}

void optimize_graph(Graph& g) {
  begin_internal_forms(g);  // every pass below may write lowbit-internal node forms
  // LOWBIT_ONNX_INT8=0 keeps quantized models on the float simulation (for comparisons).
  if (const char* e = std::getenv("LOWBIT_ONNX_INT8"); !e || std::string_view(e) != "0") lower_quantized(g);
  fold_constants(g);
  fold_batchnorm(g);
  lower_bf16(g);
  fuse_subsample_pads(g);
  fuse_channel_shuffle(g);
  fuse_concat_shuffle_slices(g);
  fuse_gelu(g);
  fuse_layernorm(g);
  // LOWBIT_ONNX_ATTENTION=0 keeps the attention chain as separate nodes (for A/B comparisons).
  if (const char* e = std::getenv("LOWBIT_ONNX_ATTENTION"); !e || std::string_view(e) != "0") fuse_attention(g);
  fuse_conv_add(g);
  fuse_activations(g);
  g.remove_dead();
}

}  // namespace lowbit::onnx
