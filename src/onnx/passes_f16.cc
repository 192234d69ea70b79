// float16 models computed in float32 (lowbit has no float16 arithmetic): every internal float16
// value, constant and element-type attribute becomes float32; the graph's float16 inputs and
// outputs keep their type through Casts at the boundary (as ONNX Runtime's CPU provider inserts
// casts around ops without float16 kernels).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "lowbit/onnx/passes.h"

namespace lowbit::onnx {
namespace {

constexpr int64_t kProtoFloat = 1, kProtoFloat16 = 10;

Array widen(const Array& a) {
  Array out = Array::empty(ElemType::f32, a.shape());
  const uint16_t* src = a.data<uint16_t>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) dst[i] = half_to_float(src[i]);
  return out;
}

bool is_half_cast(const Node& n) { return n.op_type == "Cast" && n.attr_i("to", 0) == kProtoFloat16; }

// Whether anything float16 is left to widen. At the top level the inputs and the boundary Casts
// back to float16 (the only Casts to float16 left after a pass) are not, so a second pass is a no-op.
bool holds_half(const Graph& g, bool top_level) {
  std::vector<bool> boundary(g.values.size(), false);
  if (top_level) {
    for (int v : g.inputs) boundary[static_cast<size_t>(v)] = true;
    for (const Node& n : g.nodes)
      if (!n.dead && is_half_cast(n))
        for (int v : n.outputs)
          if (v != kNoValue) boundary[static_cast<size_t>(v)] = true;
  }
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].type.elem == ElemType::f16 && !boundary[v]) return true;
  for (const auto& [v, a] : g.constants)
    if (a.type() == ElemType::f16) return true;
  for (const Node& n : g.nodes) {
    if (n.dead || (top_level && is_half_cast(n))) continue;
    for (const auto& [key, a] : n.attrs)
      if ((a.kind == Attribute::Kind::t && a.t.type() == ElemType::f16) ||
          (a.kind == Attribute::Kind::g && a.g && holds_half(*a.g, false)) ||
          (a.kind == Attribute::Kind::i && a.i == kProtoFloat16 && (key == "to" || key == "dtype" || key == "output_dtype")))
        return true;
  }
  return false;
}

// Constants, declared types, attributes and subgraphs; the top level's inputs stay float16.
void widen_internals(Graph& g, bool top_level) {
  for (auto& [v, a] : g.constants)
    if (a.type() == ElemType::f16) {
      a = widen(a);
      g.values[static_cast<size_t>(v)].type.elem = ElemType::f32;
    }
  for (size_t v = 0; v < g.values.size(); ++v) {
    const bool outer_input = top_level && std::find(g.inputs.begin(), g.inputs.end(), static_cast<int>(v)) != g.inputs.end();
    if (g.values[v].type.elem == ElemType::f16 && !outer_input) g.values[v].type.elem = ElemType::f32;
  }
  for (Node& n : g.nodes)
    for (auto& [key, a] : n.attrs) {
      if (a.kind == Attribute::Kind::t && a.t.type() == ElemType::f16) a.t = widen(a.t);
      // Element-type attributes: Cast's target, the generators' and random ops' dtype,
      // DequantizeLinear's output type.
      if (a.kind == Attribute::Kind::i && a.i == kProtoFloat16 && (key == "to" || key == "dtype" || key == "output_dtype"))
        a.i = kProtoFloat;
      if (a.kind == Attribute::Kind::g && a.g && holds_half(*a.g, false)) {
        auto sub = std::make_shared<Graph>(*a.g);
        widen_internals(*sub, false);
        a.g = std::move(sub);
      }
    }
}

}  // namespace

int compute_float16_in_float32(Graph& g) {
  if (!holds_half(g, true)) return 0;
  const auto is_input = [&](int v) { return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end(); };
  std::vector<bool> half_output(g.outputs.size());  // as declared (an undeclared output stays float32)
  for (size_t i = 0; i < g.outputs.size(); ++i)
    half_output[i] = g.values[static_cast<size_t>(g.outputs[i])].type.elem == ElemType::f16 && !is_input(g.outputs[i]);
  widen_internals(g, true);
  const auto add_cast = [&](int from, int to, int64_t type, const std::string& name) {
    Node cast;
    cast.name = name;
    cast.op_type = "Cast";
    cast.inputs = {from};
    cast.outputs = {to};
    cast.attrs["to"] = Attribute::from_int(type);
    g.add_node(std::move(cast));
  };
  int casts = 0;
  // float16 inputs: one Cast to float32 that every reader reads instead.
  for (int in : std::vector<int>(g.inputs)) {
    if (g.values[static_cast<size_t>(in)].type.elem != ElemType::f16) continue;
    ValueType wide = g.values[static_cast<size_t>(in)].type;
    wide.elem = ElemType::f32;
    const std::string name = g.values[static_cast<size_t>(in)].name;
    const int v32 = g.add_value(name + "/float32", wide);
    for (Node& n : g.nodes)
      for (int& x : n.inputs)
        if (x == in) x = v32;
    add_cast(in, v32, kProtoFloat, name + "/to_float32");
    ++casts;
  }
  // float16 outputs (float32 inside now): a Cast back, under the output's own name.
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (!half_output[i]) continue;
    const int inner = g.outputs[i];
    ValueType half = g.values[static_cast<size_t>(inner)].type;
    half.elem = ElemType::f16;
    const std::string name = g.values[static_cast<size_t>(inner)].name;
    g.values[static_cast<size_t>(inner)].name = name + "/float32";
    const int out = g.add_value(name, half);
    add_cast(inner, out, kProtoFloat16, name + "/to_float16");
    g.outputs[i] = out;
    ++casts;
  }
  g.relink();
  return casts;
}

}  // namespace lowbit::onnx
