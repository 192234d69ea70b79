// Integer quantized ops: MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv
// (QuantizeLinear / DequantizeLinear: quantize_linear.cc).
// Integer accumulation is exact (int32); requantization is kernels::requantize_* (fp32 scale,
// rounds half to even and saturates, as ONNX specifies and ONNX Runtime computes).
#include <cmath>
#include <algorithm>

#include "lowbit/kernels/conv_nd_ref.h"
#include "lowbit/kernels/int_matmul_ref.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/quant.h"
#include "ops/conv_geom.h"

namespace lowbit::onnx {

bool conv_integer_fast(RunCtx& ctx);    // integer_fast.cc
bool matmul_integer_fast(RunCtx& ctx);  // integer_fast.cc
namespace {

constexpr std::initializer_list<ElemType> k8bit = {ElemType::u8, ElemType::i8};

// Scales and zero points of the integer matmul/conv ops: optional input i (when present and
// shaped) must hold one of `counts` values, and a zero point the type of the data it shifts.
void require_param(const InferCtx& ctx, size_t i, std::initializer_list<int64_t> counts, const char* what) {
  if (!ctx.shape_known(i)) return;
  const int64_t n = checked_numel(ctx.shape(i), "quant");
  std::string allowed;
  for (int64_t c : counts) {
    if (n == c) return;
    allowed += (allowed.empty() ? "" : " or ") + std::to_string(c);
  }
  node_fail(ctx.node, ctx.opset, "input {} ({}) holds {} value(s), expected {}", i, what, n, allowed);
}

void require_same_type(const InferCtx& ctx, size_t i, size_t of, const char* what) {
  LOWBIT_NODE_REQUIRE(!ctx.has(i) || !ctx.has(of) || ctx.in[i].elem == ctx.in[of].elem, ctx,
                      "input {} ({}) is {}, expected the type of input {} ({})", i, what, elem_name(ctx.in[i].elem), of,
                      elem_name(ctx.in[of].elem));
}

// Integer matmul core: acc[b, m, n] = sum_k (a - a_zp[m]) * (b - b_zp[n]) per (broadcast)
// batch matrix, on kernels::ref::matmul_integer; zero points may be scalars, per-row of A
// (length M) or per-column of B (length N).
std::vector<int32_t> int_matmul(const MatMulDims& d, const Array& a, const Array& b, const Array* a_zp, const Array* b_zp) {
  const int64_t batches = checked_numel(d.batch, "MatMulInteger");
  std::vector<int32_t> acc(static_cast<size_t>(batches * d.M * d.N));
  std::vector<int32_t> za, zb;
  auto widen = [](const Array* z, std::vector<int32_t>& v) {
    if (!z) return;
    for (int64_t i = 0; i < z->numel(); ++i) v.push_back(static_cast<int32_t>(z->get_i64(i)));
  };
  widen(a_zp, za);
  widen(b_zp, zb);
  const kernels::ref::IntMatmulZeroPoints z{za.empty() ? nullptr : za.data(), za.size() > 1,
                                            zb.empty() ? nullptr : zb.data(), zb.size() > 1};
  for (int64_t bi = 0; bi < batches; ++bi) {
    const int64_t ao = d.a_offset(bi) * d.M * d.K, bo = d.b_offset(bi) * d.K * d.N;
    int32_t* out = acc.data() + bi * d.M * d.N;
    auto run = [&](auto ta, auto tb) {
      kernels::ref::matmul_integer(d.M, d.N, d.K, a.data<decltype(ta)>() + ao, b.data<decltype(tb)>() + bo, z, out);
    };
    const bool au = a.type() == ElemType::u8, bu = b.type() == ElemType::u8;
    if (au && bu) run(uint8_t{}, uint8_t{});
    else if (au) run(uint8_t{}, int8_t{});
    else if (bu) run(int8_t{}, uint8_t{});
    else run(int8_t{}, int8_t{});
  }
  return acc;
}

void matmul_integer_infer(InferCtx& ctx) {
  require_type(ctx, 0, k8bit);
  require_type(ctx, 1, k8bit);
  require_same_type(ctx, 2, 0, "a_zero_point");
  require_same_type(ctx, 3, 1, "b_zero_point");
  if (!ctx.shape_known(0) || !ctx.shape_known(1)) return ctx.set_out_unknown(0, ElemType::i32);
  const MatMulDims d = matmul_dims(ctx, ctx.shape(0), ctx.shape(1));
  require_param(ctx, 2, {1, d.M}, "a_zero_point");
  require_param(ctx, 3, {1, d.N}, "b_zero_point");
  ctx.set_out(0, ElemType::i32, d.out);
}

void matmul_integer_run(RunCtx& ctx) {
  if (matmul_integer_fast(ctx)) return;  // a 2-d B, scalar zero points
  const MatMulDims d = matmul_dims(infer_ctx_for(ctx), ctx.input(0).shape(), ctx.input(1).shape());
  const auto acc = int_matmul(d, ctx.input(0), ctx.input(1), ctx.has(2) ? ctx.in[2] : nullptr, ctx.has(3) ? ctx.in[3] : nullptr);
  std::copy(acc.begin(), acc.end(), ctx.out[0]->data<int32_t>());
}

void qlinear_matmul_infer(InferCtx& ctx) {
  require_type(ctx, 0, k8bit);
  require_type(ctx, 3, k8bit);
  LOWBIT_NODE_REQUIRE(ctx.n_in() == 8, ctx, "expects 8 inputs");
  for (size_t i : {1, 4, 6}) require_type(ctx, i, {ElemType::f32});
  require_type(ctx, 7, k8bit);
  require_same_type(ctx, 2, 0, "a_zero_point");
  require_same_type(ctx, 5, 3, "b_zero_point");
  const ElemType t = ctx.in[7].elem;
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) return ctx.set_out_unknown(0, t);
  const MatMulDims d = matmul_dims(ctx, ctx.shape(0), ctx.shape(3));
  require_param(ctx, 1, {1, d.M}, "a_scale");
  require_param(ctx, 2, {1, d.M}, "a_zero_point");
  require_param(ctx, 4, {1, d.N}, "b_scale");
  require_param(ctx, 5, {1, d.N}, "b_zero_point");
  require_param(ctx, 6, {1}, "y_scale");
  require_param(ctx, 7, {1}, "y_zero_point");
  ctx.set_out(0, t, d.out);
}

// Requantizes `rows` accumulator rows of `cols` values that share one scale per column
// (kernels::requantize_*: float(acc + corr)·scale rounded half to even, + zp, saturated to y's
// type, as ONNX Runtime computes it).
void requantize_rows(int64_t rows, int64_t cols, const int32_t* acc, const kernels::Requant& p, Array& y, int64_t y_at) {
  if (y.type() == ElemType::u8) kernels::requantize_u8(rows, cols, acc, cols, p, y.data<uint8_t>() + y_at, cols);
  else kernels::requantize_s8(rows, cols, acc, cols, p, y.data<int8_t>() + y_at, cols);
}

// Output code range of a requantization into y's type.
kernels::Requant requant_params(const Array& y, int64_t zp) {
  const bool u8 = y.type() == ElemType::u8;
  return kernels::Requant{nullptr, nullptr, static_cast<int32_t>(zp), u8 ? 0 : -128, u8 ? 255 : 127};
}

void qlinear_matmul_run(RunCtx& ctx) {
  require_positive_scales(ctx, 1, "a_scale");
  require_positive_scales(ctx, 4, "b_scale");
  require_positive_scales(ctx, 6, "y_scale");
  const MatMulDims d = matmul_dims(infer_ctx_for(ctx), ctx.input(0).shape(), ctx.input(3).shape());
  const auto acc = int_matmul(d, ctx.input(0), ctx.input(3), ctx.in[2], ctx.in[5]);
  const Array &as = ctx.input(1), &bs = ctx.input(4);
  const float ys = static_cast<float>(ctx.input(6).get_f64(0));
  Array& y = *ctx.out[0];
  // Zero points are already subtracted in the accumulators; the scale a_s[m]·b_s[n] / y_s
  // varies by row when a_scale is per row, so a row's scales are formed per call.
  const std::vector<int32_t> corr(static_cast<size_t>(d.N), 0);
  std::vector<float> scale(static_cast<size_t>(d.N));
  kernels::Requant p = requant_params(y, ctx.input(7).get_i64(0));
  p.corr = corr.data();
  p.scale = scale.data();
  auto row_scales = [&](float a_s) {
    for (int64_t n = 0; n < d.N; ++n)
      scale[static_cast<size_t>(n)] = a_s * static_cast<float>(bs.get_f64(bs.numel() == 1 ? 0 : n)) / ys;
  };
  const int64_t rows = static_cast<int64_t>(acc.size()) / std::max<int64_t>(d.N, 1);
  if (as.numel() == 1) {
    row_scales(static_cast<float>(as.get_f64(0)));
    return requantize_rows(rows, d.N, acc.data(), p, y, 0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    row_scales(static_cast<float>(as.get_f64(r % d.M)));
    requantize_rows(1, d.N, acc.data() + r * d.N, p, y, r * d.N);
  }
}

// ConvInteger and QLinearConv share geometry; x is input 0, w is input `w_at`.
SpatialGeom int_conv_geom(const InferCtx& ctx, size_t w_at) {
  const Shape &x = ctx.shape(0), &w = ctx.shape(w_at);
  LOWBIT_NODE_REQUIRE(w.size() == x.size() && x.size() >= 3, ctx, "input {} and weight {} ranks differ", shape_str(x), shape_str(w));
  const int64_t group = ctx.node.attr_i("group", 1);
  LOWBIT_NODE_REQUIRE(group >= 1 && w[1] * group == x[1] && w[0] % group == 0, ctx, "channels do not fit group={}", group);
  return resolve_geom(ctx, x, Shape(w.begin() + 2, w.end()), false);
}

void int_conv_infer(InferCtx& ctx, size_t w_at, ElemType out_type) {
  require_type(ctx, 0, k8bit);
  require_type(ctx, w_at, k8bit);
  require_same_type(ctx, 2, 0, "x_zero_point");
  require_same_type(ctx, w_at == 1 ? 3 : 5, w_at, "w_zero_point");
  require_param(ctx, 2, {1}, "x_zero_point");
  if (w_at == 3) require_param(ctx, 5, {1}, "w_zero_point (per-channel is not supported)");
  if (w_at == 3) {  // QLinearConv
    for (size_t i : {1, 4, 6}) require_type(ctx, i, {ElemType::f32});
    require_type(ctx, 7, k8bit);
    require_type(ctx, 8, {ElemType::i32});
    require_param(ctx, 1, {1}, "x_scale");
    require_param(ctx, 6, {1}, "y_scale");
    require_param(ctx, 7, {1}, "y_zero_point");
  }
  if (!ctx.shape_known(0) || !ctx.shape_known(w_at)) return ctx.set_out_unknown(0, out_type);
  if (w_at == 1) require_param(ctx, 3, {1, ctx.shape(1).empty() ? 0 : ctx.shape(1)[0]}, "w_zero_point: one per tensor or per output channel");
  if (w_at == 3) {
    const int64_t M = ctx.shape(3).empty() ? 0 : ctx.shape(3)[0];
    require_param(ctx, 4, {1, M}, "w_scale");
    require_param(ctx, 8, {M}, "B");
  }
  const SpatialGeom g = int_conv_geom(ctx, w_at);
  Shape out{ctx.shape(0)[0], ctx.shape(w_at)[0]};
  const Shape spatial = spatial_out(g);
  out.insert(out.end(), spatial.begin(), spatial.end());
  ctx.set_out(0, out_type, out);
}

std::vector<int32_t> int_conv(const RunCtx& ctx, size_t w_at, const Array* x_zp, const Array* w_zp) {
  const InferCtx ictx = infer_ctx_for(ctx);
  SpatialGeom g = int_conv_geom(ictx, w_at);
  const Array &x = ctx.input(0), &w = ctx.input(w_at);
  g.K = w.shape()[0];
  g.groups = ctx.node.attr_i("group", 1);
  std::vector<int32_t> y(static_cast<size_t>(g.N * g.K * checked_numel(spatial_out(g), "conv")));
  const int32_t xz = x_zp ? static_cast<int32_t>(x_zp->get_i64(0)) : 0;
  LOWBIT_NODE_REQUIRE(!w_zp || w_zp->numel() == 1 || w_zp->numel() == g.K, ictx, "w_zero_point holds {} values, expected 1 or {}",
                      w_zp ? w_zp->numel() : 0, g.K);
  const int32_t wz = w_zp ? static_cast<int32_t>(w_zp->get_i64(0)) : 0;
  const bool xu = x.type() == ElemType::u8, wu = w.type() == ElemType::u8;
  using kernels::ref::conv_nd_integer;
  if (w_zp && w_zp->numel() > 1) {  // one zero point per output channel
    std::vector<int32_t> wzs(static_cast<size_t>(g.K));
    for (int64_t m = 0; m < g.K; ++m) wzs[static_cast<size_t>(m)] = static_cast<int32_t>(w_zp->get_i64(m));
    if (xu && wu) conv_nd_integer(g, x.data<uint8_t>(), xz, w.data<uint8_t>(), wzs.data(), y.data());
    else if (xu) conv_nd_integer(g, x.data<uint8_t>(), xz, w.data<int8_t>(), wzs.data(), y.data());
    else if (wu) conv_nd_integer(g, x.data<int8_t>(), xz, w.data<uint8_t>(), wzs.data(), y.data());
    else conv_nd_integer(g, x.data<int8_t>(), xz, w.data<int8_t>(), wzs.data(), y.data());
    return y;
  }
  if (xu && wu) conv_nd_integer(g, x.data<uint8_t>(), xz, w.data<uint8_t>(), wz, y.data());
  else if (xu) conv_nd_integer(g, x.data<uint8_t>(), xz, w.data<int8_t>(), wz, y.data());
  else if (wu) conv_nd_integer(g, x.data<int8_t>(), xz, w.data<uint8_t>(), wz, y.data());
  else conv_nd_integer(g, x.data<int8_t>(), xz, w.data<int8_t>(), wz, y.data());
  return y;
}

// QLinearConv's output (N, M, spatial...) from the int32 convolution y: channel m's plane is a
// column of one accumulator with bias[m] as correction and x_s·w_s[m] / y_s as scale.
void qlinear_conv_requantize(RunCtx& ctx, const std::vector<int32_t>& y) {
  require_positive_scales(ctx, 1, "x_scale");
  require_positive_scales(ctx, 4, "w_scale");
  require_positive_scales(ctx, 6, "y_scale");
  const Array &xs = ctx.input(1), &ws = ctx.input(4);
  const float ys = static_cast<float>(ctx.input(6).get_f64(0));
  Array& out = *ctx.out[0];
  const int64_t N = out.shape()[0], M = out.shape()[1], plane = out.numel() / std::max<int64_t>(N * M, 1);
  std::vector<int32_t> corr(static_cast<size_t>(M), 0);
  std::vector<float> scale(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    if (ctx.has(8)) corr[static_cast<size_t>(m)] = ctx.input(8).data<int32_t>()[m];
    const float dq = static_cast<float>(xs.get_f64(0)) * static_cast<float>(ws.get_f64(ws.numel() == 1 ? 0 : m));
    scale[static_cast<size_t>(m)] = dq / ys;
  }
  kernels::Requant p = requant_params(out, ctx.input(7).get_i64(0));
  for (int64_t i = 0; i < N * M; ++i) {
    const auto m = static_cast<size_t>(i % M);
    p.corr = &corr[m];
    p.scale = &scale[m];
    requantize_rows(plane, 1, y.data() + i * plane, p, out, i * plane);
  }
}

const std::vector<std::string_view> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"};

}  // namespace

void add_quant_ops(OpList& ops) {
  add_quantize_linear_ops(ops);
  ops.push_back(OpDef{"", "MatMulInteger", 10, {}, matmul_integer_infer, matmul_integer_run});
  ops.push_back(OpDef{"", "QLinearMatMul", 10, {}, qlinear_matmul_infer, qlinear_matmul_run});
  ops.push_back(OpDef{"", "ConvInteger", 10, kConvAttrs,
                      [](InferCtx& ctx) { int_conv_infer(ctx, 1, ElemType::i32); },
                      [](RunCtx& ctx) {
                        if (conv_integer_fast(ctx)) return;  // 2-d
                        const auto y = int_conv(ctx, 1, ctx.has(2) ? ctx.in[2] : nullptr, ctx.has(3) ? ctx.in[3] : nullptr);
                        std::copy(y.begin(), y.end(), ctx.out[0]->data<int32_t>());
                      }});
  ops.push_back(OpDef{"", "QLinearConv", 10, kConvAttrs,
                      [](InferCtx& ctx) {
                        LOWBIT_NODE_REQUIRE(ctx.n_in() >= 8, ctx, "expects at least 8 inputs");
                        int_conv_infer(ctx, 3, ctx.in[7].elem);
                      },
                      [](RunCtx& ctx) {
                        // w_zero_point may be per output channel here: subtract it per m after.
                        const Array& wzp = ctx.input(5);
                        const bool per_m = wzp.numel() > 1;
                        LOWBIT_NODE_REQUIRE(!per_m, infer_ctx_for(ctx), "per-channel w_zero_point is not supported");
                        const auto y = int_conv(ctx, 3, ctx.in[2], &wzp);
                        qlinear_conv_requantize(ctx, y);
                      }});
}

}  // namespace lowbit::onnx
