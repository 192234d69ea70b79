// Graph inputs from .npy arrays or random draws, validated against the declared inputs (model_inputs.h).
#include "lowbit/onnx/model_inputs.h"

#include <fmt/format.h>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"

namespace lowbit::onnx {

int64_t index_range(const Graph& g, size_t input) {
  LOWBIT_CHECK(input < g.inputs.size());
  // Follow the value through shape-only ops to the Gather that reads it as indices.
  std::vector<int> frontier{g.inputs[input]};
  for (size_t k = 0; k < frontier.size() && k < 64; ++k) {
    for (int n : g.values[static_cast<size_t>(frontier[k])].consumers) {
      const Node& node = g.nodes[static_cast<size_t>(n)];
      const std::string& op = node.op_type;
      if (op == "Gather" && node.inputs.size() >= 2 && node.inputs[1] == frontier[k] && g.is_constant(node.inputs[0])) {
        const Array& table = g.constants.at(node.inputs[0]);
        int64_t axis = node.attrs.count("axis") ? node.attrs.at("axis").i : 0;
        if (axis < 0) axis += table.dim();
        if (axis >= 0 && axis < table.dim()) return table.shape()[static_cast<size_t>(axis)];
      } else if ((op == "Cast" || op == "Reshape" || op == "Unsqueeze" || op == "Squeeze" || op == "Flatten" || op == "Identity") &&
                 !node.inputs.empty() && node.inputs[0] == frontier[k]) {
        frontier.push_back(node.outputs[0]);
      }
    }
  }
  return 0;
}

Array fit_input(const Graph& g, size_t input, Array a, const std::string& what, const std::string& op) {
  LOWBIT_CHECK(input < g.inputs.size());
  const Value& v = g.values[static_cast<size_t>(g.inputs[input])];
  const ElemType want = v.type.elem;
  if (a.type() == ElemType::f64 && want == ElemType::f32) {
    Array f = Array::empty(ElemType::f32, a.shape());
    for (int64_t k = 0; k < a.numel(); ++k) f.data<float>()[k] = static_cast<float>(a.data<double>()[k]);
    a = std::move(f);
  }
  if (a.type() == ElemType::i32 && want == ElemType::i64) {
    Array l = Array::empty(ElemType::i64, a.shape());
    for (int64_t k = 0; k < a.numel(); ++k) l.data<int64_t>()[k] = a.data<int32_t>()[k];
    a = std::move(l);
  }
  // The declared input type decides (uint8 images of quantized models, int64 token ids, ...).
  if (want != ElemType::undefined)
    LOWBIT_REQUIRE(a.type() == want, op, "{}: element type {}, but input '{}' is {}", what, elem_name(a.type()), v.name, elem_name(want));
  else
    LOWBIT_REQUIRE(elem_supported(a.type()) && a.type() != ElemType::string, op, "{}: element type {} is not supported", what,
                   elem_name(a.type()));
  if (v.type.has_shape) {
    bool ok = a.dim() == static_cast<int64_t>(v.type.shape.size());
    for (size_t d = 1; ok && d < v.type.shape.size(); ++d) ok = v.type.shape[d] < 0 || v.type.shape[d] == a.shape()[d];
    LOWBIT_REQUIRE(ok, op, "{} has shape {} but input '{}' is {} (batch first)", what, shape_str(a.shape()), v.name,
                   shape_str(v.type.shape));
  }
  if (a.type() == ElemType::i64 || a.type() == ElemType::i32) {
    if (const int64_t rows = index_range(g, input); rows > 0)
      for (int64_t k = 0; k < a.numel(); ++k) {
        const int64_t id = a.get_i64(k);
        LOWBIT_REQUIRE(id >= -rows && id < rows, op, "{}: value {} at flat index {} of input '{}' is outside the table it indexes ({} rows: expected [0, {}))",
                       what, id, k, v.name, rows, rows);
      }
  }
  return a;
}

std::vector<Array> random_inputs(const Graph& g, int64_t batch, uint64_t seed, const std::string& op) {
  std::vector<Array> out;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.values[static_cast<size_t>(g.inputs[i])];
    LOWBIT_REQUIRE(v.type.has_shape, op, "input '{}' has no declared shape; give its data as .npy", v.name);
    Shape shape = v.type.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      LOWBIT_REQUIRE(d == 0, op, "input '{}' has a symbolic dimension {} besides the batch; give its data as .npy", v.name, d);
      shape[d] = batch;
    }
    if (!shape.empty() && v.type.shape[0] >= 0 && batch != shape[0] && batch != 1)
      throw ValueError(fmt::format("[{}] input '{}' has a fixed batch of {}; batch {} cannot apply", op, v.name, shape[0], batch));
    Array a = Array::empty(v.type.elem, shape);
    if (v.type.elem == ElemType::f32) {
      normal_fill(seed, i, 0, a.numel(), a.data<float>());
    } else if (v.type.elem == ElemType::i64 || v.type.elem == ElemType::i32) {
      const int64_t rows = index_range(g, i);  // token / segment ids; 0: a mask, all ones
      Rng rng(seed, i);
      for (int64_t k = 0; k < a.numel(); ++k) {
        const int64_t x = rows > 0 ? static_cast<int64_t>(rng.below(static_cast<uint64_t>(rows))) : 1;
        if (v.type.elem == ElemType::i64) a.data<int64_t>()[k] = x;
        else a.data<int32_t>()[k] = static_cast<int32_t>(x);
      }
    } else if (v.type.elem == ElemType::u8 || v.type.elem == ElemType::i8 || v.type.elem == ElemType::boolean) {
      Rng rng(seed, i);  // uniform bytes (codes of a quantized model's input), 0/1 for bool
      auto* p = reinterpret_cast<uint8_t*>(a.raw());
      for (int64_t k = 0; k < a.numel(); ++k) p[k] = static_cast<uint8_t>(rng.below(v.type.elem == ElemType::boolean ? 2 : 256));
    } else {
      throw ValueError(fmt::format("[{}] input '{}' of type {}: give its data as .npy", op, v.name, elem_name(v.type.elem)));
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace lowbit::onnx
