// lowbit.QMatMul: the product of two quantized tensors neither of which is a packed weight —
// attention's Q·Kᵀ and P·V after the QDQ lowering (passes_qdq_act.cc), MatMulInteger and
// QLinearMatMul with a non-constant B or non-zero B zero point. Inputs
//   (a, a_scale, a_zp, b, b_scale, b_zp, [y_scale, y_zp])
// with uint8 or int8 codes and per-tensor (scalar) parameters; ONNX MatMul shapes (2-d, N-d,
// batch broadcasting). Output: int32 sums when a_scale and b_scale are absent (MatMulInteger),
// float (acc·a_s·b_s, then the fused Relu/Clip) without y_scale, else requantized codes of
// y_zp's type with the activation as a clamp. The arithmetic is kernels/qmatmul.h's (B packed
// on every run); tasks are (batch matrix, row chunk) pairs over the intra-op threads.
#include <algorithm>
#include <cmath>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/qmatmul.h"
#include "ops/activation.h"
#include "ops/op.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node);  // conv.cc

namespace {

namespace k = lowbit::kernels;

enum class Out { i32, f32, codes };

Out out_kind(const InferCtx& ctx) {
  if (!ctx.has(1) && !ctx.has(4)) return Out::i32;
  return ctx.has(6) ? Out::codes : Out::f32;
}

void qmatmul_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::u8, ElemType::i8});
  require_type(ctx, 3, {ElemType::u8, ElemType::i8});
  LOWBIT_NODE_REQUIRE(ctx.has(1) == ctx.has(4), ctx, "a_scale and b_scale must both be given or both be absent");
  LOWBIT_NODE_REQUIRE(!ctx.has(6) || ctx.has(1), ctx, "y_scale needs a_scale and b_scale");
  for (size_t i : {size_t{2}, size_t{5}, size_t{7}})
    if (ctx.has(i)) require_type(ctx, i, {ElemType::u8, ElemType::i8});
  for (auto [z, x] : {std::pair{size_t{2}, size_t{0}}, std::pair{size_t{5}, size_t{3}}})
    LOWBIT_NODE_REQUIRE(!ctx.has(z) || ctx.in[z].elem == ctx.in[x].elem, ctx, "input {} (zero point) is {}, expected {} like input {}",
                        z, elem_name(ctx.in[z].elem), elem_name(ctx.in[x].elem), x);
  for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}, size_t{6}, size_t{7}}) {
    if (!ctx.has(i) || !ctx.shape_known(i)) continue;
    if (i == 1 || i == 4 || i == 6) require_type(ctx, i, {ElemType::f32});
    LOWBIT_NODE_REQUIRE(checked_numel(ctx.shape(i), "QMatMul") == 1, ctx, "input {} holds {} values; quantization parameters must be per tensor",
                        i, checked_numel(ctx.shape(i), "QMatMul"));
  }
  const Out kind = out_kind(ctx);
  const ElemType t = kind == Out::i32 ? ElemType::i32 : kind == Out::f32 ? ElemType::f32 : ctx.has(7) ? ctx.in[7].elem : ElemType::u8;
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) return ctx.set_out_unknown(0, t);
  ctx.set_out(0, t, matmul_dims(ctx, ctx.shape(0), ctx.shape(3)).out);
}

float positive_scale(const RunCtx& ctx, size_t i) {
  const float s = static_cast<float>(ctx.input(i).get_f64(0));
  if (!(s > 0 && std::isfinite(s))) node_fail(ctx.node, ctx.opset, "scale (input {}) is {}; scales must be positive and finite", i, s);
  return s;
}

int32_t clamp_code(double v) { return static_cast<int32_t>(std::clamp(v, -1e9, 1e9)); }

void qmatmul_run(RunCtx& ctx) {
  const Array &a = ctx.input(0), &b = ctx.input(3);
  const InferCtx ictx = infer_ctx_for(ctx);
  const MatMulDims d = matmul_dims(ictx, a.shape(), b.shape());
  const Out kind = out_kind(ictx);
  auto zp = [&](size_t i) { return ctx.has(i) ? static_cast<int32_t>(ctx.input(i).get_i64(0)) : 0; };
  const k::QOperand qa{a.raw(), d.K, a.type() == ElemType::i8, zp(2)}, qb{b.raw(), d.N, b.type() == ElemType::i8, zp(5)};
  const Activation act = fused_activation(ctx.node);
  float scale = 1;
  k::QMatmulRequant rq;
  if (kind != Out::i32) scale = positive_scale(ctx, 1) * positive_scale(ctx, 4);
  Array& y = *ctx.out[0];
  const bool y_u8 = y.type() == ElemType::u8;
  if (kind == Out::codes) {
    const float ys = positive_scale(ctx, 6);
    rq.scale = scale / ys;  // a_s·b_s / y_s in float, as QLinearMatMul's requantization forms it
    rq.zp = zp(7);
    rq.lo = y_u8 ? 0 : -128;
    rq.hi = y_u8 ? 255 : 127;
    if (act.kind == Act::relu) rq.lo = std::max(rq.lo, rq.zp);
    if (act.kind == Act::clip) {
      if (std::isfinite(act.a)) rq.lo = std::max(rq.lo, clamp_code(std::nearbyint(act.a / ys) + rq.zp));
      if (std::isfinite(act.b)) rq.hi = std::min(rq.hi, clamp_code(std::nearbyint(act.b / ys) + rq.zp));
    }
    LOWBIT_NODE_REQUIRE(act.kind == Act::none || act.kind == Act::relu || act.kind == Act::clip, ictx,
                        "only Relu and Clip can be fused before a QuantizeLinear");
  }
  LOWBIT_NODE_REQUIRE(kind != Out::i32 || act.kind == Act::none, ictx, "an int32 result takes no fused activation");
  const int64_t batches = checked_numel(d.batch, "QMatMul"), M = d.M, N = d.N, K = d.K;
  if (batches * M * N == 0) return;
  // Enough tasks for the threads: whole matrices when there are many (attention heads), else
  // row chunks of at least 16 rows (each task packs B once: its cost is ~1/rows of the product).
  const int64_t want = 2 * static_cast<int64_t>(num_threads());
  const int64_t chunks = batches >= want ? 1 : std::clamp<int64_t>((want + batches - 1) / batches, 1, std::max<int64_t>(1, M / 16));
  const int64_t rows = (M + chunks - 1) / chunks;
  const size_t es = y.type() == ElemType::i32 || y.type() == ElemType::f32 ? 4 : 1;
  parallel_for(batches * chunks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bi = t / chunks, m0 = (t % chunks) * rows, m1 = std::min(M, m0 + rows);
      if (m0 >= m1) continue;
      k::QOperand ta = qa, tb = qb;
      ta.codes = static_cast<const std::byte*>(qa.codes) + d.a_offset(bi) * M * K + m0 * K;
      tb.codes = static_cast<const std::byte*>(qb.codes) + d.b_offset(bi) * K * N;
      std::byte* out = y.raw() + (bi * M * N + m0 * N) * static_cast<int64_t>(es);
      const int64_t mr = m1 - m0;
      if (kind == Out::i32) {
        k::qmatmul_s32(mr, N, K, ta, tb, reinterpret_cast<int32_t*>(out), N);
      } else if (kind == Out::f32) {
        float* yf = reinterpret_cast<float*>(out);
        k::qmatmul_f32(mr, N, K, ta, tb, scale, yf, N);
        if (act.kind != Act::none) act_apply_n(act, mr * N, yf, yf);
      } else if (y_u8) {
        k::qmatmul_requant_u8(mr, N, K, ta, tb, rq, reinterpret_cast<uint8_t*>(out), N);
      } else {
        k::qmatmul_requant_s8(mr, N, K, ta, tb, rq, reinterpret_cast<int8_t*>(out), N);
      }
    }
  });
}

}  // namespace

void add_qmatmul_act_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "QMatMul", 1, {"lowbit_act", "lowbit_act_a", "lowbit_act_b"}, qmatmul_infer, qmatmul_run});
}

}  // namespace lowbit::onnx
