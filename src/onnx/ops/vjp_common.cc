// Shared VJP machinery: the op-type table, running a node outside a session, and the
// broadcast reduction every binary op's gradient needs.
#include <algorithm>

#include "ops/vjp.h"

namespace lowbit::onnx {

const Array& VjpCtx::input(size_t i) const {
  LOWBIT_CHECK(has(i), "input {} of {} missing in backward", i, node.describe());
  return *in[i];
}

InferCtx VjpCtx::infer() const {
  InferCtx ctx{node, opset, {}, {}, {}};
  for (const Array* a : in) {
    ctx.in.push_back(a ? ValueType{a->type(), a->shape(), true} : ValueType{});
    ctx.values.push_back(a);
  }
  return ctx;
}

Array VjpCtx::grad_out(size_t i) const {
  if (i < dout.size() && dout[i]) return *dout[i];
  LOWBIT_CHECK(i < out.size() && out[i], "output {} of {} missing in backward", i, node.describe());
  return Array::zeros(ElemType::f32, out[i]->shape());
}

const VjpFn* find_vjp(std::string_view op_type) {
  static const VjpTable table = [] {
    VjpTable t;
    add_dense_vjps(t);
    add_pointwise_vjps(t);
    add_shape_vjps(t);
    return t;
  }();
  for (const auto& [name, fn] : table)
    if (name == op_type) return &fn;
  return nullptr;
}

std::vector<Array> run_op(const Node& node, int opset, const std::vector<const Array*>& in) {
  const OpDef& op = resolve_op(node, opset);
  InferCtx ictx{node, opset, {}, {}, std::vector<ValueType>(node.outputs.size())};
  for (const Array* a : in) {
    ictx.in.push_back(a ? ValueType{a->type(), a->shape(), true} : ValueType{});
    ictx.values.push_back(a);
  }
  op.infer(ictx);
  RunCtx run{node, opset, in, {}};
  std::vector<Array> outs(node.outputs.size());
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    LOWBIT_NODE_REQUIRE(ictx.out[i].has_shape || node.outputs[i] == kNoValue, ictx, "output {} has no shape", i);
    if (node.outputs[i] != kNoValue || ictx.out[i].has_shape) outs[i] = Array::empty(ictx.out[i].elem, ictx.out[i].shape);
    run.out.push_back(outs[i].defined() ? &outs[i] : nullptr);
  }
  op.run(run);
  return outs;
}

Array filled(const Shape& shape, float v) {
  Array a = Array::empty(ElemType::f32, shape);
  std::fill(a.data<float>(), a.data<float>() + a.numel(), v);
  return a;
}

Array sum_to_shape(const Array& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Array r = Array::zeros(ElemType::f32, shape);
  const Shape& gs = g.shape();
  const std::vector<int64_t> st = broadcast_strides(shape, gs);
  const float* src = g.data<float>();
  float* dst = r.data<float>();
  // Walks g in row-major order keeping the matching offset into r (stride 0 on broadcast axes).
  std::vector<int64_t> idx(gs.size(), 0);
  int64_t off = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    dst[off] += src[i];
    for (size_t d = gs.size(); d-- > 0;) {
      if (++idx[d] < gs[d]) {
        off += st[d];
        break;
      }
      off -= st[d] * (gs[d] - 1);
      idx[d] = 0;
    }
  }
  return r;
}

}  // namespace lowbit::onnx
