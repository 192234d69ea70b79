// The op table (built once from each family's list) and helpers shared by the op files.
#include <algorithm>
#include <mutex>

#include "lowbit/kernels/broadcast.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

const OpList& table() {
  static const OpList ops = [] {
    OpList all;
    add_elementwise_ops(all);
    add_activation_ops(all);
    add_rnn_ops(all);
    add_conv_ops(all);
    add_pool_ops(all);
    add_matmul_ops(all);
    add_norm_ops(all);
    add_shape_ops(all);
    add_tensor_ops(all);
    add_reduce_ops(all);
    add_quant_ops(all);
    add_qlinear_fused_ops(all);
    add_math_ops(all);
    add_loss_ops(all);
    add_einsum_ops(all);
    add_nms_ops(all);
    add_generator_ops(all);
    add_dynamic_quant_ops(all);
    add_grid_sample_ops(all);
    add_unique_ops(all);
    add_roi_align_ops(all);
    add_index_ops(all);
    add_layout_ops(all);
    add_resize_ops(all);
    add_scatter_ops(all);
    add_activation_extra_ops(all);
    add_select_ops(all);
    add_norm_extra_ops(all);
    add_control_flow_ops(all);
    add_bitwise_ops(all);
    add_col2im_ops(all);
    add_channel_shuffle_ops(all);
    return all;
  }();
  return ops;
}

bool same_domain(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view d) { return d == "ai.onnx" ? std::string_view() : d; };
  return norm(a) == norm(b);
}

}  // namespace

std::string node_where(const Node& node, int opset) {
  return fmt::format("node '{}' ({}{}{}, opset {})", node.name, node.domain.empty() ? "" : node.domain,
                     node.domain.empty() ? "" : ".", node.op_type, opset);
}

const Shape& InferCtx::shape(size_t i) const {
  LOWBIT_NODE_REQUIRE(has(i), *this, "input {} is required", i);
  LOWBIT_CHECK(in[i].has_shape, "shape of input {} of {} is unknown", i, node.describe());
  return in[i].shape;
}

const Array& RunCtx::input(size_t i) const {
  LOWBIT_CHECK(has(i), "input {} of {} missing at run time", i, node.describe());
  return *in[i];
}

const OpDef* find_op(std::string_view domain, std::string_view op_type) {
  for (const OpDef& op : table())
    if (op.name == op_type && same_domain(op.domain, domain)) return &op;
  // Gelu and friends are also accepted in the com.microsoft domain, where exporters put them.
  if (domain == "com.microsoft")
    for (const OpDef& op : table())
      if (op.name == op_type && op.domain.empty()) return &op;
  return nullptr;
}

std::vector<const OpDef*> all_ops() {
  std::vector<const OpDef*> out;
  for (const OpDef& op : table()) out.push_back(&op);
  return out;
}

const OpDef& resolve_op(const Node& node, int opset) {
  const OpDef* op = find_op(node.domain, node.op_type);
  if (!op) node_fail(node, opset, "unsupported op");
  if (opset < op->since) node_fail(node, opset, "supported from opset {} only", op->since);
  for (const auto& [key, attr] : node.attrs) {
    if (std::find(op->attrs.begin(), op->attrs.end(), key) == op->attrs.end())
      node_fail(node, opset, "unsupported attribute '{}'", key);
  }
  return *op;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const InferCtx& ctx) {
  LOWBIT_NODE_REQUIRE(axis >= -rank && axis < rank, ctx,
                      "axis {} out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const std::vector<Shape>& shapes, const InferCtx& ctx) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o != 1) {
        std::string all;
        for (const Shape& x : shapes) all += (all.empty() ? "" : ", ") + shape_str(x);
        node_fail(ctx.node, ctx.opset, "shapes {} cannot be broadcast together", all);
      }
      o = d;
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) { return kernels::broadcast_strides(in, out); }

std::vector<int64_t> int_list(const Array& a) { return a.to_i64_vector(); }

bool is_float(ElemType t) {
  return t == ElemType::f32 || t == ElemType::f64 || t == ElemType::f16 || t == ElemType::bf16;
}

void require_type(const InferCtx& ctx, size_t i, std::initializer_list<ElemType> allowed) {
  if (!ctx.has(i)) return;
  for (ElemType t : allowed)
    if (ctx.in[i].elem == t) return;
  std::string names;
  for (ElemType t : allowed) names += (names.empty() ? "" : ", ") + std::string(elem_name(t));
  node_fail(ctx.node, ctx.opset, "input {} of element type {} is not supported (supported: {})", i,
            elem_name(ctx.in[i].elem), names);
}

}  // namespace lowbit::onnx
