// QuantizeLinear / DequantizeLinear: per tensor, per axis, and blocked (opset 21 `block_size`:
// one scale per `block_size` consecutive elements along `axis`), on int8 / uint8 codes and on
// int4 / uint4 ones (opset 21; held widened one per byte, codes in [-8, 7] / [0, 15]). The
// affine maps are kernels::quantize_* / dequantize_* (quant.h), blocked ones *_blocked_*.
#include <cmath>

#include "lowbit/kernels/quant.h"
#include "ops/op.h"
#include "proto_tensor.h"

namespace lowbit::onnx {
namespace {

int64_t block_size(const Node& node) { return node.attr_i("block_size", 0); }

// Per-element parameter index for a scale/zero-point that is a scalar or 1-d along `axis`.
struct AxisParam {
  int64_t inner = 1, dim = 1;
  bool per_axis = false;
};

int64_t param_axis(const Node& node, const Shape& x) {
  int64_t axis = node.attr_i("axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  LOWBIT_CHECK(axis >= 0 && axis < static_cast<int64_t>(x.size()));
  return axis;
}

AxisParam axis_param(const Node& node, const Shape& x, const Array& scale) {
  AxisParam p;
  if (scale.numel() == 1 && scale.dim() <= 1) return p;
  const int64_t axis = param_axis(node, x);
  p.per_axis = true;
  p.dim = x[static_cast<size_t>(axis)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.size(); ++d) p.inner *= x[d];
  return p;
}

// Blocked parameters (block_size > 0): the scale has x's rank and shape except along `axis`,
// where it holds ⌈D / block_size⌉ (a block_size of D or more: one block).
void check_blocked_param(const InferCtx& ctx, size_t i, const char* what) {
  const int64_t b = block_size(ctx.node);
  LOWBIT_NODE_REQUIRE(ctx.opset >= 21, ctx, "block_size needs opset 21");
  if (!ctx.shape_known(i) || !ctx.shape_known(0)) return;
  const Shape& s = ctx.shape(i);
  const Shape& x = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", 1), static_cast<int64_t>(x.size()), ctx);
  Shape want = x;
  want[static_cast<size_t>(axis)] = (x[static_cast<size_t>(axis)] + b - 1) / b;
  LOWBIT_NODE_REQUIRE(s == want, ctx, "{} (input {}) has shape {}; block_size {} along axis {} of x {} needs {}", what, i,
                      shape_str(s), b, axis, shape_str(x), shape_str(want));
}

void check_axis_param(const InferCtx& ctx, size_t i, const char* what) {
  const int64_t b = block_size(ctx.node);
  LOWBIT_NODE_REQUIRE(b >= 0, ctx, "block_size is {}, expected >= 0", b);
  if (b > 0) return check_blocked_param(ctx, i, what);
  if (!ctx.shape_known(i) || !ctx.shape_known(0)) return;
  const Shape& s = ctx.shape(i);
  if (checked_numel(s, "quant") == 1 && s.size() <= 1) return;
  const Shape& x = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.node.attr_i("axis", 1), static_cast<int64_t>(x.size()), ctx);
  LOWBIT_NODE_REQUIRE(s == Shape{x[static_cast<size_t>(axis)]}, ctx, "input {} shape {} must be a scalar or [{}]", i,
                      shape_str(s), x[static_cast<size_t>(axis)]);
}

// The zero point (input 2) is indexed like the scale (input 1): same number of values.
void check_zero_point_like_scale(const InferCtx& ctx) {
  if (!ctx.shape_known(1) || !ctx.shape_known(2)) return;
  const int64_t ns = checked_numel(ctx.shape(1), "quant"), nz = checked_numel(ctx.shape(2), "quant");
  LOWBIT_NODE_REQUIRE(ns == nz && ns > 0, ctx, "the scale holds {} value(s) and the zero point {} (expected the same number, at least 1)",
                      ns, nz);
  if (block_size(ctx.node) > 0)
    LOWBIT_NODE_REQUIRE(ctx.shape(1) == ctx.shape(2), ctx, "the zero point has shape {}, the scale {} (blocked: the same)",
                        shape_str(ctx.shape(2)), shape_str(ctx.shape(1)));
}

// The codes a QuantizeLinear writes: output_dtype (opset 21; the loader sets it from an int4 /
// uint4 zero point), else the zero point's type, else uint8.
struct CodeType {
  ElemType elem = ElemType::u8;
  int32_t qmin = 0, qmax = 255;
};
CodeType code_type(const InferCtx& ctx) {
  const int64_t dt = ctx.node.attr_i("output_dtype", 0);
  const ElemType zp = ctx.has(2) ? ctx.in[2].elem : ElemType::undefined;
  CodeType c;
  if (dt == 0) {
    if (zp == ElemType::i8) c = {ElemType::i8, -128, 127};
    return c;
  }
  if (dt == static_cast<int64_t>(ElemType::u8)) c = {ElemType::u8, 0, 255};
  else if (dt == static_cast<int64_t>(ElemType::i8)) c = {ElemType::i8, -128, 127};
  else if (dt == kProtoUint4) c = {ElemType::u8, 0, 15};
  else if (dt == kProtoInt4) c = {ElemType::i8, -8, 7};
  else node_fail(ctx.node, ctx.opset, "output_dtype {} is not supported (2 uint8, 3 int8, 21 uint4, 22 int4)", dt);
  LOWBIT_NODE_REQUIRE(zp == ElemType::undefined || zp == c.elem, ctx, "output_dtype {} does not match the zero point's type {}",
                      dt, elem_name(zp));
  return c;
}

void quantize_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::i32});
  require_type(ctx, 1, {ElemType::f32});
  require_type(ctx, 2, {ElemType::u8, ElemType::i8});
  check_axis_param(ctx, 1, "scale");
  check_zero_point_like_scale(ctx);
  const ElemType t = code_type(ctx).elem;
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, t);
  ctx.set_out(0, t, ctx.shape(0));
}

std::vector<int32_t> widen_zero_point(const Array* zp) {
  std::vector<int32_t> v;
  if (zp)
    for (int64_t i = 0; i < zp->numel(); ++i) v.push_back(static_cast<int32_t>(zp->get_i64(i)));
  return v;
}

// The kernel grid of a scale/zero point along AxisParam p over x's numel values.
kernels::QuantGrid quant_grid(const AxisParam& p, int64_t numel, const Array& scale, const std::vector<int32_t>& zp32) {
  kernels::QuantGrid g;
  g.channels = p.per_axis ? p.dim : 1;
  g.inner = p.per_axis ? p.inner : numel;
  g.outer = g.channels * g.inner != 0 ? numel / (g.channels * g.inner) : 0;
  g.scale = scale.data<float>();
  g.zero_point = zp32.empty() ? nullptr : zp32.data();
  return g;
}

kernels::BlockedGrid blocked_grid(const Node& node, const Shape& x, const Array& scale, const std::vector<int32_t>& zp32) {
  const auto axis = static_cast<size_t>(param_axis(node, x));
  kernels::BlockedGrid b;
  b.dim = x[axis];
  b.block = block_size(node);
  for (size_t d = 0; d < axis; ++d) b.outer *= x[d];
  for (size_t d = axis + 1; d < x.size(); ++d) b.inner *= x[d];
  b.scale = scale.data<float>();
  b.zero_point = zp32.empty() ? nullptr : zp32.data();
  return b;
}

// Integer codes held in a wider type (int4 as int8) must lie in the narrow range: a file could
// hold any byte in an int8 zero point meant as int4.
void check_zero_point_range(const RunCtx& ctx, const std::vector<int32_t>& zp32, const CodeType& c) {
  for (size_t i = 0; i < zp32.size(); ++i)
    if (zp32[i] < c.qmin || zp32[i] > c.qmax)
      node_fail(ctx.node, ctx.opset, "zero point element {} is {}, outside the output codes [{}, {}]", i, zp32[i], c.qmin,
                c.qmax);
}

void quantize_run(RunCtx& ctx) {
  const Array &x = ctx.input(0), &scale = ctx.input(1);
  Array& y = *ctx.out[0];
  require_positive_scales(ctx, 1, "scale");
  const std::vector<int32_t> zp32 = widen_zero_point(ctx.has(2) ? ctx.in[2] : nullptr);
  const CodeType c = code_type(infer_ctx_for(ctx));
  check_zero_point_range(ctx, zp32, c);
  // x / scale in float, as the ONNX reference and ONNX Runtime compute it; an int32 x is first
  // rounded to float, as they do.
  std::vector<float> xf;
  const float* px = x.type() == ElemType::f32 ? x.data<float>() : nullptr;
  if (!px) {
    xf.resize(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) xf[static_cast<size_t>(i)] = static_cast<float>(x.data<int32_t>()[i]);
    px = xf.data();
  }
  if (block_size(ctx.node) > 0) {
    kernels::BlockedGrid b = blocked_grid(ctx.node, x.shape(), scale, zp32);
    b.qmin = c.qmin, b.qmax = c.qmax;
    if (y.type() == ElemType::u8) kernels::quantize_blocked_f32_u8(b, px, y.data<uint8_t>());
    else kernels::quantize_blocked_f32_i8(b, px, y.data<int8_t>());
    return;
  }
  kernels::QuantGrid g = quant_grid(axis_param(ctx.node, x.shape(), scale), x.numel(), scale, zp32);
  g.qmin = c.qmin, g.qmax = c.qmax;
  if (y.type() == ElemType::u8) kernels::quantize_f32_u8(g, px, y.data<uint8_t>(), kernels::Rounding::nearest, {});
  else kernels::quantize_f32_i8(g, px, y.data<int8_t>(), kernels::Rounding::nearest, {});
}

void dequantize_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::u8, ElemType::i8, ElemType::i32});
  require_type(ctx, 1, {ElemType::f32});
  check_axis_param(ctx, 1, "scale");
  check_zero_point_like_scale(ctx);
  if (ctx.has(2)) LOWBIT_NODE_REQUIRE(ctx.in[2].elem == ctx.in[0].elem, ctx, "zero point type differs from x");
  if (block_size(ctx.node) > 0)
    LOWBIT_NODE_REQUIRE(ctx.in[0].elem != ElemType::i32, ctx, "blocked dequantization of int32 is not supported");
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ElemType::f32);
  ctx.set_out(0, ElemType::f32, ctx.shape(0));
}

void dequantize_run(RunCtx& ctx) {
  const Array &x = ctx.input(0), &scale = ctx.input(1);
  const std::vector<int32_t> zp32 = widen_zero_point(ctx.has(2) ? ctx.in[2] : nullptr);
  float* py = ctx.out[0]->data<float>();
  if (block_size(ctx.node) > 0) {
    const kernels::BlockedGrid b = blocked_grid(ctx.node, x.shape(), scale, zp32);
    if (x.type() == ElemType::u8) kernels::dequantize_blocked_u8_f32(b, x.data<uint8_t>(), py);
    else kernels::dequantize_blocked_i8_f32(b, x.data<int8_t>(), py);
    return;
  }
  const kernels::QuantGrid g = quant_grid(axis_param(ctx.node, x.shape(), scale), x.numel(), scale, zp32);
  if (x.type() == ElemType::u8) kernels::dequantize_u8_f32(g, x.data<uint8_t>(), py);
  else if (x.type() == ElemType::i8) kernels::dequantize_i8_f32(g, x.data<int8_t>(), py);
  else kernels::dequantize_i32_f32(g, x.data<int32_t>(), py);
}

}  // namespace

void require_positive_scales(const RunCtx& ctx, size_t i, const char* what) {
  const Array& scale = ctx.input(i);
  for (int64_t k = 0; k < scale.numel(); ++k) {
    const float s = scale.data<float>()[k];
    if (!(s > 0 && std::isfinite(s)))
      node_fail(ctx.node, ctx.opset, "{} (input {}) element {} is {}; scales must be positive and finite", what, i, k, s);
  }
}

void add_quantize_linear_ops(OpList& ops) {
  // saturate (opset 19) concerns float8 codes only; node_check admits the 19-21 attributes.
  ops.push_back(OpDef{"", "QuantizeLinear", 10, {"axis", "saturate", "block_size", "output_dtype"}, quantize_infer, quantize_run});
  ops.push_back(OpDef{"", "DequantizeLinear", 10, {"axis", "block_size"}, dequantize_infer, dequantize_run});
}

}  // namespace lowbit::onnx
