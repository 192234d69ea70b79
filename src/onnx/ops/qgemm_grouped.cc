// lowbit.QGemmGrouped, what passes_qdq_grouped.cc lowers DQ(x) → MatMul/Gemm(DQ(int4 weights,
// blocked scales along K)) → [Relu | Clip] → [QuantizeLinear] to (group-wise W4A8):
//   inputs  x (uint8/int8 codes, per-tensor x_scale, x_zp), w (N×K int8 codes in [-8, 7]),
//           w_scale ([⌈K/G⌉, N]: one scale per group of G k and column), -, [y_scale, y_zp], [bias]
//   attrs   lowbit_group (G), lowbit_act / lowbit_act_a / lowbit_act_b
// y[..., n] = Σ_g float(Σ_{k in g} (x − z)·w[n, k]) · (x_scale·w_scale[g, n]) (+ bias[n]) on
// kernels::qgemm_u8s4_grouped_f32 (weights packed two per byte once per session), then the
// activation in fp32, then, with y_scale, QuantizeLinear's rounding (kernels::quantize_f32_*).
#include <cstring>
#include <memory>
#include <vector>

#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/qgemm_grouped.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/quant.h"
#include "ops/activation.h"
#include "ops/op.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node);  // conv.cc

namespace {

namespace k = lowbit::kernels;

struct GroupedState {
  k::QgemmGroupedW w;
  bool x_u8 = true;
  std::vector<int32_t> corr;  // [groups·N]: −z·Σ_{k in g} w (z: the uint8 zero point the kernel sees)
  std::vector<float> scale;   // [groups·N]: x_scale·w_scale[g, n]
  std::vector<float> bias;    // [N] or empty
};

int64_t group_of(const InferCtx& ctx) {
  const int64_t g = ctx.node.attr_i("lowbit_group", 0);
  LOWBIT_NODE_REQUIRE(g >= 8 && g % 8 == 0, ctx, "lowbit_group is {}, expected a positive multiple of 8", g);
  return g;
}

void grouped_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::u8, ElemType::i8});
  require_type(ctx, 3, {ElemType::i8});
  require_type(ctx, 1, {ElemType::f32});
  require_type(ctx, 4, {ElemType::f32});
  LOWBIT_NODE_REQUIRE(ctx.has(1) && ctx.has(3) && ctx.has(4), ctx, "x_scale, w and w_scale are required");
  if (ctx.has(2)) LOWBIT_NODE_REQUIRE(ctx.in[2].elem == ctx.in[0].elem, ctx, "x_zero_point type differs from x");
  for (size_t i : {1, 2, 6, 7})
    if (ctx.has(i) && ctx.shape_known(i))
      LOWBIT_NODE_REQUIRE(checked_numel(ctx.shape(i), "QGemmGrouped") == 1, ctx, "input {} must hold one value (per tensor)", i);
  const int64_t G = group_of(ctx);
  const ElemType t = ctx.has(6) ? (ctx.has(7) ? ctx.in[7].elem : ElemType::u8) : ElemType::f32;
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) return ctx.set_out_unknown(0, t);
  const Shape &x = ctx.shape(0), &w = ctx.shape(3);
  LOWBIT_NODE_REQUIRE(w.size() == 2 && !x.empty() && x.back() == w[1] && w[1] >= 1 && w[1] <= k::kIgemmMaxK, ctx,
                      "input {} does not fit weight {} (N×K, K <= {})", shape_str(x), shape_str(w), k::kIgemmMaxK);
  if (ctx.shape_known(4))
    LOWBIT_NODE_REQUIRE(ctx.shape(4) == (Shape{k::qgemm_groups(w[1], G), w[0]}), ctx, "w_scale has shape {}, expected [{}, {}]",
                        shape_str(ctx.shape(4)), k::qgemm_groups(w[1], G), w[0]);
  Shape out = x;
  out.back() = w[0];
  ctx.set_out(0, t, out);
}

std::shared_ptr<GroupedState> build(const RunCtx& ctx, int64_t N, int64_t K, int64_t G) {
  auto st = std::make_shared<GroupedState>();
  const Array& w = ctx.input(3);
  LOWBIT_NODE_REQUIRE(k::qgemm_fits_int4(N * K, w.data<int8_t>()), infer_ctx_for(ctx), "weight codes must lie in [-8, 7]");
  require_positive_scales(ctx, 1, "x_scale");
  require_positive_scales(ctx, 4, "w_scale");
  st->w = k::qgemm_pack_w4_grouped(N, K, G, w.data<int8_t>());
  st->x_u8 = ctx.input(0).type() == ElemType::u8;
  const int32_t z = ctx.has(2) ? static_cast<int32_t>(ctx.input(2).get_i64(0)) : 0;
  const int32_t shift = st->x_u8 ? -z : -(z + 128);  // the kernel reads x (u8) or x + 128 (i8)
  const float xs = ctx.input(1).data<float>()[0];
  const float* ws = ctx.input(4).data<float>();
  const int64_t n = k::qgemm_groups(K, G) * N;
  st->corr.resize(static_cast<size_t>(n));
  st->scale.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    st->corr[static_cast<size_t>(i)] = shift * st->w.gsum.get()[i];
    st->scale[static_cast<size_t>(i)] = xs * ws[i];
  }
  if (ctx.has(8)) {
    const Array& b = ctx.input(8);
    LOWBIT_NODE_REQUIRE(b.type() == ElemType::f32 && b.numel() == N, infer_ctx_for(ctx), "bias must be float32 [{}]", N);
    st->bias.assign(b.data<float>(), b.data<float>() + N);
  }
  return st;
}

void grouped_run(RunCtx& ctx) {
  const Array &x = ctx.input(0), &w = ctx.input(3);
  const int64_t N = w.shape()[0], K = w.shape()[1], M = x.numel() / K, G = group_of(infer_ctx_for(ctx));
  std::shared_ptr<GroupedState> st;
  uint64_t need = 0;  // packed once per session when x_scale, x_zp, w, w_scale and bias are constants
  for (size_t i : {1, 2, 3, 4, 8})
    if (ctx.has(i)) need |= uint64_t{1} << i;
  const bool cache = ctx.state && (ctx.const_inputs & need) == need;
  if (cache && *ctx.state) st = std::static_pointer_cast<GroupedState>(*ctx.state);
  else st = build(ctx, N, K, G);
  if (cache) *ctx.state = st;
  // Rows readable to a multiple of 4 past K (a padded copy when K % 4 != 0); int8 codes flipped.
  const auto* a = reinterpret_cast<const uint8_t*>(x.raw());
  int64_t lda = K;
  std::vector<uint8_t> buf;
  if (!st->x_u8 || K % 4 != 0) {
    lda = (K + 3) / 4 * 4;
    buf.assign(static_cast<size_t>(M * lda), 0);
    for (int64_t m = 0; m < M; ++m) {
      std::memcpy(buf.data() + m * lda, a + m * K, static_cast<size_t>(K));
      if (!st->x_u8) k::shift_u8_to_s8(K, buf.data() + m * lda, reinterpret_cast<int8_t*>(buf.data() + m * lda));
    }
    a = buf.data();
  }
  Array& y = *ctx.out[0];
  const bool float_out = !ctx.has(6);
  std::vector<float> tmp;
  float* yf = float_out ? y.data<float>() : nullptr;
  if (!yf) {
    tmp.resize(static_cast<size_t>(M * N));
    yf = tmp.data();
  }
  const k::GroupedEpilogue ep{st->corr.data(), st->scale.data(), st->bias.empty() ? nullptr : st->bias.data()};
  k::qgemm_u8s4_grouped_f32(M, a, lda, st->w, ep, yf, N);
  const Activation act = fused_activation(ctx.node);
  if (act.kind != Act::none) act_apply_n(act, M * N, yf, yf);
  if (float_out) return;
  require_positive_scales(ctx, 6, "y_scale");
  std::vector<int32_t> zp{ctx.has(7) ? static_cast<int32_t>(ctx.input(7).get_i64(0)) : 0};
  k::QuantGrid g;
  g.inner = M * N;
  g.scale = ctx.input(6).data<float>();
  g.zero_point = zp.data();
  if (y.type() == ElemType::u8) {
    g.qmin = 0, g.qmax = 255;
    k::quantize_f32_u8(g, yf, y.data<uint8_t>(), k::Rounding::nearest, {});
  } else {
    g.qmin = -128, g.qmax = 127;
    k::quantize_f32_i8(g, yf, y.data<int8_t>(), k::Rounding::nearest, {});
  }
}

}  // namespace

void add_qgemm_grouped_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "QGemmGrouped", 1, {"lowbit_group", "lowbit_act", "lowbit_act_a", "lowbit_act_b"}, grouped_infer,
                      grouped_run});
}

}  // namespace lowbit::onnx
