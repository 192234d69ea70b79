// VJPs of the compute-heavy ops: Conv (1-d/2-d, groups, strides, dilations, any pads),
// Gemm, MatMul (batched, broadcast), BatchNormalization (inference form), LayerNormalization,
// Softmax/LogSoftmax, MaxPool/AveragePool (1-d/2-d) and GlobalAveragePool. Geometry comes from
// the same resolvers as the forward ops; arithmetic from the fp32 kernels of the training engine.
#include <algorithm>

#include "lowbit/kernels/fp32.h"
#include "ops/conv_geom.h"
#include "ops/vjp.h"

namespace lowbit::onnx {
namespace {

float* ptr(Array& a) { return a.defined() ? a.data<float>() : nullptr; }
Array f32_like(const VjpCtx& c, size_t i) { return Array::zeros(ElemType::f32, c.input(i).shape()); }

// The 2-d kernel view (kernels::as_2d) of a 1-d or 2-d geometry; asymmetric pads only where
// allowed (convs, which pad explicitly).
kernels::ConvGeom flat2d(const VjpCtx& c, const SpatialGeom& g, bool allow_asymmetric) {
  const InferCtx ictx = c.infer();
  LOWBIT_NODE_REQUIRE(g.rank == 1 || g.rank == 2, ictx, "gradient supports 1-d and 2-d only, got {}-d", g.rank);
  LOWBIT_NODE_REQUIRE(allow_asymmetric || g.symmetric(), ictx, "gradient needs symmetric pads");
  return kernels::as_2d(g);
}

// Copies (NC, H, W) planes between a tensor and its zero-padded version (pad: top, left, bottom,
// right): to_padded writes src into the interior of dst, else reads the interior of src.
void copy_interior(const float* src, float* dst, int64_t NC, int64_t H, int64_t W, const int64_t* pad, bool to_padded) {
  const int64_t PH = H + pad[0] + pad[2], PW = W + pad[1] + pad[3];
  for (int64_t c = 0; c < NC; ++c)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t inner = (c * PH + h + pad[0]) * PW + pad[1], plain = (c * H + h) * W;
      if (to_padded)
        std::copy(src + plain, src + plain + W, dst + inner);
      else
        std::copy(src + inner, src + inner + W, dst + plain);
    }
}

void conv_vjp(VjpCtx& c) {
  const Array& x = c.input(0);
  const Array& w = c.input(1);
  const Shape ks(w.shape().begin() + 2, w.shape().end());
  const SpatialGeom g = resolve_geom(c.infer(), x.shape(), ks, false);
  kernels::ConvGeom s = flat2d(c, g, true);
  s.K = w.shape()[0];
  s.groups = c.node.attr_i("group", 1);
  // Asymmetric pads (auto_pad SAME_*): the kernels see the explicitly zero-padded input, as in
  // the forward op, and dx is the interior of the padded gradient.
  const float* xin = x.data<float>();
  Array xp;
  const bool explicit_pad = !s.symmetric();
  const int64_t H = s.H(), W = s.W(), pad[4] = {s.pad_t(), s.pad_l(), s.pad_b(), s.pad_r()};
  if (explicit_pad) {
    for (size_t d = 0; d < 2; ++d) {
      s.in[d] += s.pad_begin[d] + s.pad_end[d];
      s.pad_begin[d] = s.pad_end[d] = 0;
    }
    xp = Array::zeros(ElemType::f32, {s.N, s.C, s.H(), s.W()});
    copy_interior(xin, xp.data<float>(), s.N * s.C, H, W, pad, true);
    xin = xp.data<float>();
  }
  const Array dy = c.grad_out();
  LOWBIT_CHECK(s.N * s.K * s.OH() * s.OW() == dy.numel(), "conv gradient geometry of {}", c.node.describe());
  if (c.wants(0)) {
    c.din[0] = f32_like(c, 0);
    if (explicit_pad) {
      Array dxp = Array::empty(ElemType::f32, {s.N, s.C, s.H(), s.W()});
      kernels::conv2d_backward_data(s, dy.data<float>(), w.data<float>(), dxp.data<float>());
      copy_interior(dxp.data<float>(), c.din[0].data<float>(), s.N * s.C, H, W, pad, false);
    } else {
      kernels::conv2d_backward_data(s, dy.data<float>(), w.data<float>(), c.din[0].data<float>());
    }
  }
  if (c.wants(1) || c.wants(2)) {
    Array dw = f32_like(c, 1);
    Array db = Array::zeros(ElemType::f32, {s.K});
    kernels::conv2d_backward_weight(s, xin, dy.data<float>(), dw.data<float>(), db.data<float>());
    if (c.wants(1)) c.din[1] = dw;
    if (c.wants(2)) c.din[2] = db;
  }
}

void gemm_vjp(VjpCtx& c) {
  const Array& A = c.input(0);
  const Array& B = c.input(1);
  const bool ta = c.node.attr_i("transA", 0) != 0, tb = c.node.attr_i("transB", 0) != 0;
  const float alpha = static_cast<float>(c.node.attr_f("alpha", 1.0)), beta = static_cast<float>(c.node.attr_f("beta", 1.0));
  const int64_t M = ta ? A.shape()[1] : A.shape()[0], K = ta ? A.shape()[0] : A.shape()[1];
  const int64_t N = tb ? B.shape()[0] : B.shape()[1];
  const Array dy = c.grad_out();
  const float* g = dy.data<float>();
  if (c.wants(0)) {  // d op(A) = alpha dY op(B)^T, stored transposed when transA
    c.din[0] = f32_like(c, 0);
    if (!ta)
      kernels::gemm_f32(false, !tb, M, K, N, alpha, g, N, B.data<float>(), tb ? K : N, 0.f, c.din[0].data<float>(), K);
    else
      kernels::gemm_f32(tb, true, K, M, N, alpha, B.data<float>(), tb ? K : N, g, N, 0.f, c.din[0].data<float>(), M);
  }
  if (c.wants(1)) {  // d op(B) = alpha op(A)^T dY
    c.din[1] = f32_like(c, 1);
    if (!tb)
      kernels::gemm_f32(!ta, false, K, N, M, alpha, A.data<float>(), ta ? M : K, g, N, 0.f, c.din[1].data<float>(), N);
    else
      kernels::gemm_f32(true, ta, N, K, M, alpha, g, N, A.data<float>(), ta ? M : K, 0.f, c.din[1].data<float>(), K);
  }
  if (c.wants(2)) {
    c.din[2] = sum_to_shape(dy, c.input(2).shape()).clone();
    float* p = c.din[2].data<float>();
    for (int64_t i = 0; i < c.din[2].numel(); ++i) p[i] *= beta;
  }
}

void matmul_vjp(VjpCtx& c) {
  const Array& A = c.input(0);
  const Array& B = c.input(1);
  const MatMulDims d = matmul_dims(c.infer(), A.shape(), B.shape());
  const Array dy = c.grad_out();
  int64_t batches = 1;
  for (int64_t b : d.batch) batches *= b;
  const int64_t M = d.M, N = d.N, K = d.K;
  if (c.wants(0)) c.din[0] = f32_like(c, 0);
  if (c.wants(1)) c.din[1] = f32_like(c, 1);
  for (int64_t i = 0; i < batches; ++i) {  // broadcast operands accumulate (beta = 1)
    const float* g = dy.data<float>() + i * M * N;
    const int64_t ao = d.a_offset(i) * M * K, bo = d.b_offset(i) * K * N;
    if (c.wants(0))
      kernels::gemm_f32(false, true, M, K, N, 1.f, g, N, B.data<float>() + bo, N, 1.f, c.din[0].data<float>() + ao, K);
    if (c.wants(1))
      kernels::gemm_f32(true, false, K, N, M, 1.f, A.data<float>() + ao, K, g, N, 1.f, c.din[1].data<float>() + bo, N);
  }
}

void batchnorm_vjp(VjpCtx& c) {
  LOWBIT_NODE_REQUIRE(c.node.attr_i("training_mode", 0) == 0 && c.out.size() == 1, c.infer(),
                      "gradient supports the inference form only (one output)");
  const Array& x = c.input(0);
  const int64_t N = x.shape()[0], C = x.dim() > 1 ? x.shape()[1] : 1;
  const int64_t HW = x.numel() / std::max<int64_t>(N * C, 1);
  const Array dy = c.grad_out();
  for (size_t i = 0; i < 5; ++i)
    if (c.wants(i)) c.din[i] = f32_like(c, i);
  kernels::batchnorm_infer_backward(N, C, HW, x.data<float>(), dy.data<float>(), c.input(1).data<float>(),
                                    c.input(3).data<float>(), c.input(4).data<float>(),
                                    static_cast<float>(c.node.attr_f("epsilon", 1e-5)), ptr(c.din[0]), ptr(c.din[1]),
                                    ptr(c.din[2]), ptr(c.din[3]), ptr(c.din[4]));
}

void layernorm_vjp(VjpCtx& c) {
  const Array& x = c.input(0);
  const InferCtx ictx = c.infer();
  LOWBIT_NODE_REQUIRE(c.out.size() == 1 || ((c.out.size() < 2 || !c.dout[1]) && (c.out.size() < 3 || !c.dout[2])), ictx,
                      "no gradient through the Mean / InvStdDev outputs");
  const int64_t axis = normalize_axis(c.node.attr_i("axis", -1), x.dim(), ictx);
  int64_t rows = 1;
  for (int64_t a = 0; a < axis; ++a) rows *= x.shape()[static_cast<size_t>(a)];
  const int64_t D = x.numel() / std::max<int64_t>(rows, 1);
  LOWBIT_NODE_REQUIRE(c.input(1).numel() == D && (!c.has(2) || c.input(2).numel() == D), ictx,
                      "gradient needs Scale and B with {} elements (the normalized size)", D);
  const Array dy = c.grad_out();
  for (size_t i = 0; i < 3; ++i)
    if (c.wants(i)) c.din[i] = f32_like(c, i);
  kernels::layernorm_backward(rows, D, x.data<float>(), c.input(1).data<float>(),
                              static_cast<float>(c.node.attr_f("epsilon", 1e-5)), dy.data<float>(), ptr(c.din[0]),
                              ptr(c.din[1]), ptr(c.din[2]));
}

void softmax_vjp(VjpCtx& c, bool log_form) {
  const Array& y = *c.out[0];
  const InferCtx ictx = c.infer();
  const bool legacy = c.opset < 13;  // opsets < 13 flatten to 2-d at axis
  const int64_t axis = normalize_axis(c.node.attr_i("axis", legacy ? 1 : -1), y.dim(), ictx);
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= y.shape()[static_cast<size_t>(a)];
  const int64_t C = legacy ? y.numel() / std::max<int64_t>(outer, 1) : y.shape()[static_cast<size_t>(axis)];
  if (!legacy)
    for (int64_t a = axis + 1; a < y.dim(); ++a) inner *= y.shape()[static_cast<size_t>(a)];
  const Array dy = c.grad_out();
  c.din[0] = f32_like(c, 0);
  kernels::softmax_backward_axis(outer, C, inner, y.data<float>(), dy.data<float>(), log_form, c.din[0].data<float>());
}

kernels::ConvGeom pool_shape(const VjpCtx& c, SpatialGeom& g) {
  const Array& x = c.input(0);
  const InferCtx ictx = c.infer();
  g = resolve_geom(ictx, x.shape(), c.node.attr_ints("kernel_shape"), c.node.attr_i("ceil_mode", 0) != 0);
  for (int64_t d = 0; d < g.rank; ++d)
    LOWBIT_NODE_REQUIRE(g.dilation[static_cast<size_t>(d)] == 1, ictx, "gradient needs dilations of 1");
  const kernels::ConvGeom s = flat2d(c, g, false);
  LOWBIT_NODE_REQUIRE(s.OH() == s.conv_out(0) && s.OW() == s.conv_out(1) && s.N * s.C * s.OH() * s.OW() == c.out[0]->numel(),
                      ictx, "gradient does not support ceil_mode changing the output size");
  return s;
}

void maxpool_vjp(VjpCtx& c) {
  LOWBIT_NODE_REQUIRE(c.out.size() < 2 || !c.dout[1], c.infer(), "no gradient through Indices");
  SpatialGeom g;
  const kernels::ConvGeom s = pool_shape(c, g);
  Array y = Array::empty(ElemType::f32, c.out[0]->shape());
  Array arg = Array::empty(ElemType::i32, c.out[0]->shape());
  kernels::maxpool2d_forward(s, c.input(0).data<float>(), y.data<float>(), arg.data<int32_t>());
  const Array dy = c.grad_out();
  c.din[0] = f32_like(c, 0);
  kernels::maxpool2d_backward(s, dy.data<float>(), arg.data<int32_t>(), c.din[0].data<float>());
}

void avgpool_vjp(VjpCtx& c) {
  SpatialGeom g;
  const kernels::ConvGeom s = pool_shape(c, g);
  bool padded = false;
  for (int64_t d = 0; d < g.rank; ++d) padded = padded || g.pad_begin[static_cast<size_t>(d)] != 0;
  LOWBIT_NODE_REQUIRE(!padded || c.node.attr_i("count_include_pad", 0) == 0, c.infer(),
                      "gradient supports count_include_pad=0 only when padded");
  const Array dy = c.grad_out();
  c.din[0] = f32_like(c, 0);
  kernels::avgpool2d_backward(s, dy.data<float>(), c.din[0].data<float>());
}

void global_avgpool_vjp(VjpCtx& c) {
  const Array& x = c.input(0);
  const int64_t NC = x.shape()[0] * x.shape()[1], S = x.numel() / std::max<int64_t>(NC, 1);
  const Array dy = c.grad_out();
  c.din[0] = f32_like(c, 0);
  float* dx = c.din[0].data<float>();
  const float* g = dy.data<float>();
  for (int64_t i = 0; i < NC; ++i)
    for (int64_t j = 0; j < S; ++j) dx[i * S + j] = g[i] / static_cast<float>(S);
}

}  // namespace

void add_dense_vjps(VjpTable& t) {
  t.emplace_back("Conv", conv_vjp);
  t.emplace_back("Gemm", gemm_vjp);
  t.emplace_back("MatMul", matmul_vjp);
  t.emplace_back("BatchNormalization", batchnorm_vjp);
  t.emplace_back("LayerNormalization", layernorm_vjp);
  t.emplace_back("Softmax", [](VjpCtx& c) { softmax_vjp(c, false); });
  t.emplace_back("LogSoftmax", [](VjpCtx& c) { softmax_vjp(c, true); });
  t.emplace_back("MaxPool", maxpool_vjp);
  t.emplace_back("AveragePool", avgpool_vjp);
  t.emplace_back("GlobalAveragePool", global_avgpool_vjp);
}

}  // namespace lowbit::onnx
