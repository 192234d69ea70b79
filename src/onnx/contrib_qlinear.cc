// ONNX Runtime's quantized contrib ops (domain com.microsoft), as its QOperator quantization
// format, its optimizer on dynamically quantized models and the ONNX Model Zoo's int8 models use
// them: QLinearAdd, QLinearMul, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat,
// QLinearSigmoid, QLinearLeakyRelu and QGemm become the standard DequantizeLinear → op →
// QuantizeLinear they stand for, MatMulIntegerToFloat and DynamicQuantizeMatMul the
// [DynamicQuantizeLinear →] MatMulInteger → Cast → Mul [→ Add] chain, at load, before the
// schema check; Session's QDQ lowering (passes_qdq*.cc) then fuses
// what it can into integer kernels, and the rest runs in float. Results agree with ONNX Runtime
// within one quantization step (its kernels round through fixed-point lookups).
#include <string>
#include <vector>

#include "lowbit/onnx/passes.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

struct Expander {
  Graph& g;
  const Node node;  // a copy: g.nodes grows while the expansion runs
  int serial = 0;

  int input(size_t i) const { return i < node.inputs.size() ? node.inputs[i] : kNoValue; }
  [[noreturn]] void fail(const std::string& why) const {
    throw ValueError(fmt::format("[onnx] node '{}' (com.microsoft {}): {}", node.name, node.op_type, why));
  }
  int required(size_t i, const char* what) const {
    const int v = input(i);
    if (v == kNoValue) fail(fmt::format("input {} ({}) is required", i, what));
    return v;
  }
  // A new node; its output is a new value unless `out` is given.
  int add(const std::string& op, std::vector<int> ins, Attributes attrs = {}, int out = kNoValue) {
    const std::string name = fmt::format("{}/{}_{}", node.name, op, serial++);
    if (out == kNoValue) out = g.add_value(name + "_out");
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(ins);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    g.add_node(std::move(n));
    return out;
  }
  // MatMulInteger(a, b, a_zp, b_zp) as float: · a_scale · b_scale (+ bias), into the node's output.
  void integer_matmul_to_float(int a, int a_scale, int a_zp, size_t b, size_t b_scale, size_t b_zp, size_t bias) {
    std::vector<int> ins = {a, required(b, "B"), a_zp, input(b_zp)};
    while (ins.size() > 2 && ins.back() == kNoValue) ins.pop_back();
    const int acc = add("MatMulInteger", ins);
    const int wide = add("Cast", {acc}, {{"to", Attribute::from_int(1)}});
    const int scale = add("Mul", {a_scale, required(b_scale, "b_scale")});
    if (input(bias) == kNoValue) {
      add("Mul", {wide, scale}, {}, node.outputs.at(0));
    } else {
      add("Add", {add("Mul", {wide, scale}), input(bias)}, {}, node.outputs.at(0));
    }
  }
  int dq(size_t x, size_t scale, size_t zp, Attributes attrs = {}) {
    std::vector<int> ins = {required(x, "codes"), required(scale, "scale")};
    if (input(zp) != kNoValue) ins.push_back(input(zp));
    return add("DequantizeLinear", ins, std::move(attrs));
  }
  // The node's output, quantized with (scale, zero point) at inputs i, i + 1.
  void q(int v, size_t scale, size_t zp) {
    if (input(zp) == kNoValue) fail(fmt::format("input {} (the output zero point) is required: it sets the output type", zp));
    add("QuantizeLinear", {v, required(scale, "output scale"), input(zp)}, {}, node.outputs.at(0));
  }
  Attributes keep(std::initializer_list<const char*> names) const {
    Attributes out;
    for (const char* k : names)
      if (const Attribute* a = node.find(k)) out[k] = *a;
    return out;
  }
  void channels_first_only() const {
    if (node.attr_i("channels_last", 0) != 0) fail("channels_last = 1 is not supported");
  }

  void expand() {
    const std::string& op = node.op_type;
    if (node.outputs.empty() || node.outputs[0] == kNoValue) fail("has no output");
    if (op == "QLinearAdd" || op == "QLinearMul") {
      const int a = dq(0, 1, 2), b = dq(3, 4, 5);
      q(add(op == "QLinearAdd" ? "Add" : "Mul", {a, b}), 6, 7);
    } else if (op == "QLinearSigmoid") {
      q(add("Sigmoid", {dq(0, 1, 2)}), 3, 4);
    } else if (op == "QLinearLeakyRelu") {
      q(add("LeakyRelu", {dq(0, 1, 2)}, keep({"alpha"})), 3, 4);
    } else if (op == "QLinearGlobalAveragePool") {
      channels_first_only();
      q(add("GlobalAveragePool", {dq(0, 1, 2)}), 3, 4);
    } else if (op == "QLinearAveragePool") {
      channels_first_only();
      q(add("AveragePool", {dq(0, 1, 2)}, keep({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"})),
        3, 4);
    } else if (op == "QLinearConcat") {  // (Y_scale, Y_zp, (X, X_scale, X_zp)...)
      if (node.inputs.size() < 5 || (node.inputs.size() - 2) % 3 != 0) fail("expects Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) triples");
      std::vector<int> parts;
      for (size_t i = 2; i < node.inputs.size(); i += 3) parts.push_back(dq(i, i + 1, i + 2));
      q(add("Concat", parts, keep({"axis"})), 0, 1);
    } else if (op == "QGemm") {  // (A, a_scale, a_zp, B, b_scale, b_zp, [C int32], [y_scale, y_zp])
      const int64_t trans_b = node.attr_i("transB", 0);
      const int a = dq(0, 1, 2);
      // b_scale / b_zero_point may hold one value per output column: B's axis 1, or 0 when transposed.
      const int b = dq(3, 4, 5, {{"axis", Attribute::from_int(trans_b ? 0 : 1)}});
      std::vector<int> ins = {a, b};
      if (input(6) != kNoValue) {  // int32 bias in the accumulator's scale a_scale·b_scale
        // A constant product when both scales are constants, so the QDQ lowering (which runs
        // before constant folding) sees a constant bias scale and fuses the Gemm.
        const Array *as = g.constant(required(1, "a_scale")), *bs = g.constant(required(4, "b_scale"));
        int scale = kNoValue;
        if (as && bs && as->type() == ElemType::f32 && bs->type() == ElemType::f32 && as->numel() == 1) {
          Array prod = Array::empty(ElemType::f32, bs->shape());
          for (int64_t i = 0; i < bs->numel(); ++i) prod.data<float>()[i] = as->data<float>()[0] * bs->data<float>()[i];
          scale = g.add_value(fmt::format("{}/bias_scale", node.name), ValueType{ElemType::f32, bs->shape(), true});
          g.constants[scale] = std::move(prod);
        } else {
          scale = add("Mul", {input(1), input(4)});
        }
        ins.push_back(add("DequantizeLinear", {input(6), scale}, {{"axis", Attribute::from_int(0)}}));
      }
      const int y = add("Gemm", ins, keep({"alpha", "transA", "transB"}));
      if (input(7) == kNoValue) {  // float output
        add("Identity", {y}, {}, node.outputs.at(0));
      } else {
        q(y, 7, 8);
      }
    } else if (op == "MatMulIntegerToFloat") {  // (A, B, a_scale, b_scale, [a_zp], [b_zp], [bias])
      integer_matmul_to_float(required(0, "A"), required(2, "a_scale"), input(4), 1, 3, 5, 6);
    } else if (op == "DynamicQuantizeMatMul") {  // (A float, B, b_scale, [b_zp], [bias])
      const std::string name = fmt::format("{}/DynamicQuantizeLinear", node.name);
      const int codes = g.add_value(name + "_codes"), scale = g.add_value(name + "_scale"), zp = g.add_value(name + "_zp");
      Node dql;
      dql.name = name;
      dql.op_type = "DynamicQuantizeLinear";
      dql.inputs = {required(0, "A")};
      dql.outputs = {codes, scale, zp};
      g.add_node(std::move(dql));
      integer_matmul_to_float(codes, scale, zp, 1, 2, 3, 4);
    } else {
      fail("unsupported op (lowbit runs these com.microsoft ops: QLinearAdd, QLinearMul, QLinearSigmoid, "
           "QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat, QGemm, "
           "MatMulIntegerToFloat, DynamicQuantizeMatMul, and the standard ops ONNX Runtime also registers there, "
           "such as Gelu)");
    }
  }
};

bool is_contrib_qlinear(const Node& n) {
  static const char* kOps[] = {"QLinearAdd",    "QLinearMul",           "QLinearSigmoid",       "QLinearLeakyRelu",
                               "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearConcat", "QGemm",
                               "MatMulIntegerToFloat",     "DynamicQuantizeMatMul"};
  if (n.domain != "com.microsoft") return false;
  for (const char* op : kOps)
    if (n.op_type == op) return true;
  return false;
}

}  // namespace

int expand_contrib_qlinear(Graph& g) {
  int expanded = 0;
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    if (g.nodes[i].dead || !is_contrib_qlinear(g.nodes[i])) continue;
    Expander e{g, g.nodes[i]};
    g.nodes[i].dead = true;
    e.expand();
    ++expanded;
  }
  if (expanded) g.relink();
  return expanded;
}

}  // namespace lowbit::onnx
