// bf16 lowering (passes.h): Conv / Gemm / MatMul whose input comes through
// Cast(to=BFLOAT16) -> Cast(to=FLOAT) and whose constant weights are all bfloat16 values (a
// bfloat16 initializer behind a Cast, folded to float) compute in bf16: the node reads the
// uncast input and carries lowbit_bf16=1, so its kernel rounds x and w to bfloat16 and sums in
// fp32 (kernels::PlanMath::bf16) — the same arithmetic as the float graph, without the two
// Casts and with the CPU's bf16 dot products. The exporter writes the Casts back.
#include <cstdlib>
#include <utility>
#include <vector>
#include <string_view>

#include "lowbit/kernels/bf16.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"

namespace lowbit::onnx {
namespace {

// The producer of v if it is a Cast to `to` (one input), else nullptr.
const Node* cast_to(const Graph& g, int v, ElemType to) {
  const int p = g.values[static_cast<size_t>(v)].producer;
  if (p < 0) return nullptr;
  const Node& n = g.nodes[static_cast<size_t>(p)];
  if (n.dead || n.op_type != "Cast" || !n.domain.empty() || n.inputs.size() != 1) return nullptr;
  return n.attr_i("to", 0) == static_cast<int64_t>(to) ? &n : nullptr;
}

bool all_bf16_exact(const Array& w) {
  if (w.type() != ElemType::f32) return false;
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    if (!kernels::is_bf16_exact(p[i])) return false;
  return true;
}

}  // namespace

int lower_bf16(Graph& g) {
  if (const char* e = std::getenv("LOWBIT_ONNX_BF16"); e && std::string_view(e) == "0") return 0;
  begin_internal_forms(g);
  g.relink();
  // Candidates: (node, the float value before the two Casts).
  std::vector<std::pair<size_t, int>> found;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (n.dead || !n.domain.empty() || n.find("lowbit_bf16") || n.inputs.size() < 2) continue;
    if (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
    if (n.op_type == "Gemm" && n.attr_i("transA", 0)) continue;  // x is read transposed: keep the Casts
    const Array* w = g.constant(n.inputs[1]);
    if (!w || !all_bf16_exact(*w)) continue;
    const Node* up = cast_to(g, n.inputs[0], ElemType::f32);
    const Node* down = up ? cast_to(g, up->inputs[0], ElemType::bf16) : nullptr;
    if (down) found.emplace_back(id, down->inputs[0]);
  }
  if (found.empty()) return 0;
  // The value before the Casts must be float (a double or float16 one would change the layer's
  // input type): declared types, else shape inference of the graph as it stands.
  std::vector<ElemType> elem(g.values.size(), ElemType::undefined);
  for (size_t v = 0; v < g.values.size(); ++v) elem[v] = g.values[v].type.elem;
  bool unknown = false;
  for (const auto& f : found) unknown = unknown || elem[static_cast<size_t>(f.second)] == ElemType::undefined;
  if (unknown) {
    try {
      const InferenceResult inf = infer_shapes(g, declared_input_types(g, 1), false);
      for (size_t v = 0; v < g.values.size() && v < inf.types.size(); ++v)
        if (elem[v] == ElemType::undefined) elem[v] = inf.types[v].elem;
    } catch (const ValueError&) {
      return 0;  // left to the float path, whose own checks report the problem
    }
  }
  int count = 0;
  for (const auto& [id, x] : found) {
    if (elem[static_cast<size_t>(x)] != ElemType::f32) continue;
    Node& n = g.nodes[id];
    n.inputs[0] = x;
    n.attrs["lowbit_bf16"] = Attribute::from_int(1);
    ++count;
  }
  if (count) g.relink();
  return count;
}

}  // namespace lowbit::onnx
