// VJPs of the data-movement ops. Reshape-like ops (Flatten, Reshape, Squeeze, Unsqueeze,
// Identity, Dropout in inference) pass the gradient through reshaped. The others (Transpose,
// Slice, Pad, Concat, Gather, Expand, Tile, Split, DepthToSpace, SpaceToDepth) run their own
// forward op on an int64 index array (element i holds i + 1, 0 = padding) and scatter-add the
// output gradient back through that map, so their semantics are never written twice.
// QuantizeLinear / DequantizeLinear pass gradients straight through (STE): a Q→DQ pair is the
// identity for gradients; scales and zero points get none.
#include <numeric>

#include "ops/vjp.h"

namespace lowbit::onnx {
namespace {

void pass_through(VjpCtx& c) {
  c.din[0] = c.grad_out().reshaped(c.input(0).shape());
}

Array iota_plus_one(const Shape& shape) {
  Array a = Array::empty(ElemType::i64, shape);
  std::iota(a.data<int64_t>(), a.data<int64_t>() + a.numel(), int64_t{1});
  return a;
}

// data: the inputs that carry data (the rest are shapes, indices, pads...).
void index_map_vjp(VjpCtx& c, const std::vector<size_t>& data) {
  Node node = c.node;  // copy: a padding value must be 0 (the "no source" index)
  if (node.find("value")) node.attrs["value"] = Attribute::from_float(0.0);
  const Array zero_scalar = Array::scalar<int64_t>(0);
  for (size_t k : data) {
    if (!c.wants(k)) continue;
    std::vector<Array> maps;
    maps.reserve(c.in.size());
    std::vector<const Array*> in = c.in;
    for (size_t j : data) {
      maps.push_back(j == k ? iota_plus_one(c.input(j).shape()) : Array::zeros(ElemType::i64, c.input(j).shape()));
      in[j] = &maps.back();
    }
    if (node.op_type == "Pad" && in.size() > 2 && in[2]) in[2] = &zero_scalar;
    const std::vector<Array> outs = run_op(node, c.opset, in);
    Array g = Array::zeros(ElemType::f32, c.input(k).shape());
    float* dst = g.data<float>();
    for (size_t o = 0; o < outs.size() && o < c.dout.size(); ++o) {
      if (!c.dout[o]) continue;
      const int64_t* m = outs[o].data<int64_t>();
      const float* src = c.dout[o]->data<float>();
      LOWBIT_CHECK(outs[o].numel() == c.dout[o]->numel(), "index map of {} output {}", c.node.describe(), o);
      for (int64_t i = 0; i < outs[o].numel(); ++i)
        if (m[i] > 0) dst[m[i] - 1] += src[i];
    }
    c.din[k] = g;
  }
}

}  // namespace

void add_shape_vjps(VjpTable& t) {
  for (const char* op : {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "QuantizeLinear",
                         "DequantizeLinear"})
    t.emplace_back(op, pass_through);
  for (const char* op : {"Transpose", "Slice", "Pad", "Gather", "Expand", "Tile", "Split", "DepthToSpace", "SpaceToDepth"})
    t.emplace_back(op, [](VjpCtx& c) { index_map_vjp(c, {0}); });
  t.emplace_back("Concat", [](VjpCtx& c) {
    std::vector<size_t> all(c.in.size());
    std::iota(all.begin(), all.end(), size_t{0});
    index_map_vjp(c, all);
  });
}

}  // namespace lowbit::onnx
