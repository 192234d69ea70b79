// The fused integer ops that passes_qdq.cc lowers quantized patterns to (domain "lowbit"):
//   QConv (x, x_scale, x_zp, w, w_scale, w_zp, [y_scale, y_zp], [bias]) — 2-d, group 1 or
//         depthwise (group = channels, requantized output: kernels::depthwise_nhwc_u8);
//   QGemm (same inputs, w is N×K: y[..., n] = Σ_k x[..., k]·w[n, k]);
//   QAdd  (a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) — uint8.
// x holds uint8 or int8 codes with a per-tensor scale; w int8 codes with zero zero points and a
// scale per output channel (or one); with lowbit_wbits = 4 (codes in [-8, 7]) w is packed as
// int4 (W4A8: half the weight bytes, the same sums). The product runs on the u8×s8 GEMM (kernels/qlinear.h,
// vpdpbusd with the codes as they are) with w packed once per session; int8 x is flipped to
// uint8 (x + 128). The zero-point correction −z·Σ_k w[n, k] and the int32 bias enter through
// Requant::corr. Activations stay channels-last between quantized ops. With y_scale the result is
// requantized (rounding half to even, activation as a clamp of the codes); without it the
// result is float: (acc + corr[n])·x_scale·w_scale[n], then the activation.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/transpose.h"
#include "ops/activation.h"
#include "ops/conv_geom.h"

namespace lowbit::onnx {

Activation fused_activation(const Node& node);  // conv.cc
void add_qdq_fast_ops(OpList& ops);              // qdq_fast.cc
void add_qcode_shortcut_ops(OpList& ops);        // qcode_shortcut.cc
void add_qmatmul_act_ops(OpList& ops);           // qmatmul_act.cc
void add_qgemm_grouped_ops(OpList& ops);         // qgemm_grouped.cc

namespace {

namespace k = lowbit::kernels;

// Rows per parallel task so that each moves at least ~32 KiB (small layers stay on one thread:
// waking threads costs more than the copy).
int64_t grain_for(int64_t bytes_per_row) { return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(bytes_per_row, 1)); }

// Grow-only per-thread scratch (sessions run a node on one worker thread at a time).
template <typename T>
T* scratch(int slot, int64_t n) {
  thread_local std::vector<std::byte> bufs[4];
  auto& b = bufs[slot];
  if (b.size() < static_cast<size_t>(n) * sizeof(T)) b.resize(static_cast<size_t>(n) * sizeof(T));
  return reinterpret_cast<T*>(b.data());
}

// Weights packed, per-channel constants folded: built once per session from constant inputs.
struct QLinearState {
  k::QgemmPackedW w;
  int64_t N = 0, K = 0;
  bool x_u8 = true, float_out = false, y_u8 = true;
  int32_t x_zp = 0;
  std::vector<int32_t> corr;
  std::vector<float> scale;            // requantization (x_s·w_s[n] / y_s) or dequantization (x_s·w_s[n])
  std::vector<float> fbias;            // float output: the float bias (zeros without one)
  k::Requant rq;
  Activation act;
  std::vector<int8_t> dw;  // depthwise: weights tap-major [KH·KW][C]
  // QConv geometry for the last input shape (resolving it allocates: not on every run).
  Shape geom_for;
  k::ConvGeom geom;  // K = N output channels; one image at a time goes to the kernels
};

int32_t clamp_i32(double v) {
  return static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
}

// w_nk: N×K int8 in the order the GEMM's A rows use (for QConv: (kh, kw, c)).
std::shared_ptr<QLinearState> build_state(const RunCtx& ctx, const int8_t* w_nk, int64_t N, int64_t K) {
  auto st = std::make_shared<QLinearState>();
  st->N = N;
  st->K = K;
  const Array& x = ctx.input(0);
  st->x_u8 = x.type() == ElemType::u8;
  st->x_zp = ctx.has(2) ? static_cast<int32_t>(ctx.input(2).get_i64(0)) : 0;
  const float xs = static_cast<float>(ctx.input(1).get_f64(0));
  const Array& ws = ctx.input(4);
  LOWBIT_NODE_REQUIRE(ws.numel() == 1 || ws.numel() == N, infer_ctx_for(ctx), "w_scale has {} elements, expected 1 or {}",
                      ws.numel(), N);
  st->float_out = !ctx.has(6);
  st->act = fused_activation(ctx.node);
  // W4A8 (lowbit_wbits = 4, set by the QDQ pass when every code lies in [-8, 7]): packed two
  // per byte once here, plus int8 panels that products of many rows run on (dispatch by M in
  // kernels/dispatch.cc: never slower than W8A8 there); the products give the int8 packing's
  // sums exactly.
  const bool w4 = ctx.node.attr_i("lowbit_wbits", 8) == 4 && k::qgemm_fits_int4(N * K, w_nk);
  st->w = w4 ? k::qgemm_pack_w4(N, K, w_nk, true) : k::qgemm_pack_w(N, K, w_nk);
  st->corr.resize(static_cast<size_t>(N));
  st->scale.resize(static_cast<size_t>(N));
  const int32_t shift = st->x_u8 ? -st->x_zp : -(st->x_zp + 128);  // A holds x (u8) or x + 128 (i8)
  const float* bias = ctx.has(8) ? ctx.input(8).data<float>() : nullptr;
  const float ys = st->float_out ? 1.0f : static_cast<float>(ctx.input(6).get_f64(0));
  const int32_t* colsum = st->w.colsum.get();  // Σ_k w[n, k], from the packing
  for (int64_t n = 0; n < N; ++n) {
    const float dq = xs * static_cast<float>(ws.get_f64(ws.numel() == 1 ? 0 : n));
    // A float result keeps the float bias exactly; requantized ones take it in int32 units
    // of x_s·w_s[n] (off by at most half a unit, far below one output step).
    const int32_t bq = bias && !st->float_out ? clamp_i32(std::nearbyint(static_cast<double>(bias[n]) / dq)) : 0;
    st->corr[static_cast<size_t>(n)] = bq + static_cast<int32_t>(shift * int64_t{colsum[n]});
    st->scale[static_cast<size_t>(n)] = st->float_out ? dq : dq / ys;
  }
  if (st->float_out) {
    st->fbias.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) st->fbias[static_cast<size_t>(n)] = bias ? bias[n] : 0.0f;
    return st;
  }
  const Array& yz = ctx.input(7);
  const bool y_u8 = yz.type() == ElemType::u8;
  st->y_u8 = y_u8;
  const int32_t zp = static_cast<int32_t>(yz.get_i64(0));
  int32_t lo = y_u8 ? 0 : -128, hi = y_u8 ? 255 : 127;
  if (st->act.kind == Act::relu) lo = std::max(lo, zp);
  if (st->act.kind == Act::clip) {
    if (std::isfinite(st->act.a)) lo = std::max(lo, clamp_i32(std::nearbyint(st->act.a / ys) + zp));
    if (std::isfinite(st->act.b)) hi = std::min(hi, clamp_i32(std::nearbyint(st->act.b / ys) + zp));
  } else {
    LOWBIT_NODE_REQUIRE(st->act.kind == Act::none || st->act.kind == Act::relu, infer_ctx_for(ctx),
                        "only Relu and Clip can be fused before a QuantizeLinear");
  }
  st->rq = k::Requant{st->corr.data(), st->scale.data(), zp, lo, hi};
  return st;
}

// Cached in the node's session slot when the weights and parameters are session constants.
template <typename Build>
std::shared_ptr<QLinearState> state_for(RunCtx& ctx, Build build) {
  const uint64_t need = 0b111111010;  // inputs 1, 3, 4, 5?, 6?, 7?, 8?: any that are present
  uint64_t mask = 0;
  for (size_t i = 1; i < ctx.in.size(); ++i)
    if (ctx.has(i) && ((need >> i) & 1)) mask |= uint64_t{1} << i;
  const bool cache = ctx.state && (ctx.const_inputs & mask) == mask;
  if (cache && *ctx.state) return std::static_pointer_cast<QLinearState>(*ctx.state);
  auto st = build();
  if (cache) *ctx.state = st;
  return st;
}

void qlinear_infer_common(InferCtx& ctx, Shape out) {
  require_type(ctx, 0, {ElemType::u8, ElemType::i8});
  require_type(ctx, 3, {ElemType::i8});
  LOWBIT_NODE_REQUIRE(ctx.has(1) && ctx.has(3) && ctx.has(4), ctx, "x_scale, w and w_scale are required");
  if (ctx.has(2)) LOWBIT_NODE_REQUIRE(ctx.in[2].elem == ctx.in[0].elem, ctx, "x_zero_point type differs from x");
  const ElemType t = ctx.has(6) ? (ctx.has(7) ? ctx.in[7].elem : ElemType::u8) : ElemType::f32;
  ctx.set_out(0, t, std::move(out));
}

// y[m, :] for M rows of uint8 A (row stride lda, readable to a multiple of 4), through the
// state's epilogue, row-major (ldy = N); with `add` (uint8 codes only) the residual Add too.
void gemm_rows(const QLinearState& st, int64_t M, const uint8_t* a, int64_t lda, std::byte* y,
               const k::QAddResidual* add = nullptr) {
  if (st.float_out) {
    int32_t* acc = scratch<int32_t>(2, M * st.N);
    k::qgemm_u8s8(M, a, lda, st.w, acc, st.N);
    float* yf = reinterpret_cast<float*>(y);
    k::dequantize_acc(M, st.N, acc, st.N, st.corr.data(), st.scale.data(), st.fbias.data(), yf, st.N);
    if (st.act.kind != Act::none) act_apply_n(st.act, M * st.N, yf, yf);
    return;
  }
  if (add) k::qgemm_u8s8_requant_add_u8(M, a, lda, st.w, st.rq, *add, reinterpret_cast<uint8_t*>(y), st.N);
  else if (st.y_u8) k::qgemm_u8s8_requant_u8(M, a, lda, st.w, st.rq, reinterpret_cast<uint8_t*>(y), st.N);
  else k::qgemm_u8s8_requant_s8(M, a, lda, st.w, st.rq, reinterpret_cast<int8_t*>(y), st.N);
}

int64_t round4(int64_t k) { return (k + 3) / 4 * 4; }

// ---- QConv ----

bool has_residual(const Node& node) { return node.attr_i("lowbit_add", 0) != 0; }

// Stride-1 convolutions with requantized output: implicit GEMM over the zero-point-padded
// channels-last image (no im2col). Rows run over "virtual" pixels oh·Wp + ow with ow < Wp, so
// every tap is one constant offset; the Wp − OW extra columns per row are dropped afterwards.
// Writes [B·P, N] codes to `out` (row-major, NHWC).
void implicit_conv(const QLinearState& st, const k::ConvGeom& g, int64_t B, const uint8_t* xs, uint8_t pad, uint8_t* out) {
  const int64_t C = g.C, N = st.N, Hp = g.H() + g.pad_t() + g.pad_b(), Wp = g.W() + g.pad_l() + g.pad_r(), P = g.OH() * g.OW();
  const int64_t image = Hp * Wp * C;
  uint8_t* padded = scratch<uint8_t>(1, B * image + 64);
  parallel_for(B * Hp, grain_for(Wp * C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / Hp, h = r % Hp - g.pad_t();
      uint8_t* dst = padded + r * Wp * C;
      if (h < 0 || h >= g.H()) {
        std::memset(dst, pad, static_cast<size_t>(Wp * C));
        continue;
      }
      std::memset(dst, pad, static_cast<size_t>(g.pad_l() * C));
      std::memcpy(dst + g.pad_l() * C, xs + (b * g.H() + h) * g.W() * C, static_cast<size_t>(g.W() * C));
      std::memset(dst + (g.pad_l() + g.W()) * C, pad, static_cast<size_t>(g.pad_r() * C));
    }
  });
  thread_local std::vector<int64_t> off;
  off.clear();
  for (int64_t kh = 0; kh < g.R(); ++kh)
    for (int64_t kw = 0; kw < g.S(); ++kw) off.push_back((kh * g.dil_h() * Wp + kw * g.dil_w()) * C);
  const int64_t rows = (g.OH() - 1) * Wp + g.OW();  // the last row stops at OW: reads end on the image
  // All images in one product (a column group's weights serve every image), then the valid
  // columns of each virtual row copied out.
  uint8_t* virt = scratch<uint8_t>(2, B * rows * N);
  k::qgemm_taps_requant_u8(rows, C, off.data(), static_cast<int64_t>(off.size()), padded, C, st.w, st.rq, virt, N,
                           k::TapsImages{B, image, rows * N});
  parallel_for(B * g.OH(), grain_for(g.OW() * N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / g.OH(), oh = r % g.OH();
      std::memcpy(out + (b * P + oh * g.OW()) * N, virt + (b * rows + oh * Wp) * N, static_cast<size_t>(g.OW() * N));
    }
  });
}

SpatialGeom qconv_geom(const InferCtx& ctx) {
  const Shape &x = ctx.shape(0), &w = ctx.shape(3);
  LOWBIT_NODE_REQUIRE(x.size() == 4 && w.size() == 4, ctx, "expects a 2-d convolution, got input {} and weight {}",
                      shape_str(x), shape_str(w));
  const int64_t group = ctx.node.attr_i("group", 1);
  if (group != 1)
    LOWBIT_NODE_REQUIRE(group == x[1] && w[0] == group && w[1] == 1, ctx, "group={} must be depthwise (input {}, weight {})",
                        group, shape_str(x), shape_str(w));
  else
    LOWBIT_NODE_REQUIRE(w[1] == x[1], ctx, "weight {} does not fit input {} (group 1)", shape_str(w), shape_str(x));
  return resolve_geom(ctx, x, Shape(w.begin() + 2, w.end()), false);
}

void qconv_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) {
    return ctx.set_out_unknown(0, ctx.has(6) ? (ctx.has(7) ? ctx.in[7].elem : ElemType::u8) : ElemType::f32);
  }
  const SpatialGeom g = qconv_geom(ctx);
  Shape out{ctx.shape(0)[0], ctx.shape(3)[0], g.OH(), g.OW()};
  if (has_residual(ctx.node)) {  // fused residual QAdd (passes_qdq.cc): uint8 codes, broadcast like Add
    LOWBIT_NODE_REQUIRE(ctx.n_in() == 14 && ctx.has(6) && ctx.has(9) && ctx.has(10) && ctx.has(12), ctx,
                        "a fused residual Add needs the conv's y_scale, the residual with its scale and the sum's y_scale (14 inputs)");
    require_type(ctx, 9, {ElemType::u8});
    for (size_t i : {7, 11, 13})
      if (ctx.has(i)) require_type(ctx, i, {ElemType::u8});
    if (!ctx.shape_known(9)) return ctx.set_out_unknown(0, ElemType::u8);
    out = broadcast_shapes({out, ctx.shape(9)}, ctx);
  }
  qlinear_infer_common(ctx, out);
}

// The convolution into y (its own output shape); with `add`, y's shape and layout are the
// residual's and the Add is fused where the path allows. Returns whether it applied the Add.
bool qconv_compute(RunCtx& ctx, Array& y, const k::QAddResidual* add) {
  const Array &x = ctx.input(0), &w = ctx.input(3);
  const int64_t B = x.shape()[0], C = x.shape()[1], N = w.shape()[0], KH = w.shape()[2], KW = w.shape()[3];
  const bool depthwise = ctx.node.attr_i("group", 1) != 1;
  const int64_t K = depthwise ? KH * KW : KH * KW * C;
  auto st = state_for(ctx, [&] {
    if (depthwise) {  // w [C, 1, KH, KW] is already C×K; the kernel also wants it tap-major
      auto s = build_state(ctx, w.data<int8_t>(), N, K);
      s->dw.resize(static_cast<size_t>(N * K));
      for (int64_t c = 0; c < N; ++c)
        for (int64_t t = 0; t < K; ++t) s->dw[static_cast<size_t>(t * N + c)] = w.data<int8_t>()[c * K + t];
      return s;
    }
    // OIHW → O (kh, kw, c): the column order of the channels-last im2col.
    std::vector<int8_t> wr(static_cast<size_t>(N * K));
    const int8_t* wp = w.data<int8_t>();
    for (int64_t o = 0; o < N; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t r = 0; r < KH * KW; ++r) wr[static_cast<size_t>(o * K + r * C + c)] = wp[(o * C + c) * KH * KW + r];
    return build_state(ctx, wr.data(), N, K);
  });
  if (st->geom_for != x.shape()) {
    const InferCtx ictx = infer_ctx_for(ctx);
    st->geom = qconv_geom(ictx);
    st->geom.K = N;
    st->geom.groups = ctx.node.attr_i("group", 1);
    st->geom_for = x.shape();
  }
  const k::ConvGeom& g = st->geom;
  const int64_t HW = g.H() * g.W(), P = g.OH() * g.OW();
  // Codes to channels-last uint8 [HW, C] per image (int8 codes flipped to x + 128).
  const bool x_nhwc = ctx.nhwc_inputs & 1, y_nhwc = ctx.nhwc_outputs & 1;
  const auto* xin = reinterpret_cast<const uint8_t*>(x.raw());
  const uint8_t* xs = xin;
  if (!x_nhwc || !st->x_u8) {
    uint8_t* buf = scratch<uint8_t>(0, B * HW * C + 64);
    parallel_for(B, grain_for(HW * C), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        uint8_t* dst = buf + b * HW * C;
        if (x_nhwc) std::memcpy(dst, xin + b * HW * C, static_cast<size_t>(HW * C));
        else k::transpose_i8(C, HW, reinterpret_cast<const int8_t*>(xin) + b * C * HW, HW, reinterpret_cast<int8_t*>(dst), C);
        if (!st->x_u8) k::shift_u8_to_s8(HW * C, dst, reinterpret_cast<int8_t*>(dst));  // x ^ 0x80 = x + 128
      }
    });
    xs = buf;
  }
  const auto pad = static_cast<uint8_t>(st->x_u8 ? st->x_zp : st->x_zp + 128);
  if (depthwise) {
    LOWBIT_NODE_REQUIRE(!st->float_out && st->y_u8, infer_ctx_for(ctx), "a depthwise convolution needs a uint8 QuantizeLinear output");
    uint8_t* out = y_nhwc ? reinterpret_cast<uint8_t*>(y.raw()) : scratch<uint8_t>(3, B * P * N);
    parallel_for(B * g.OH(), grain_for(g.OW() * C * g.R() * g.S()), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / g.OH(), oh = r % g.OH();
        k::depthwise_nhwc_u8(g, xs + b * HW * C, pad, st->dw.data(), st->rq, out + b * P * N, oh, oh + 1);
      }
    });
    if (!y_nhwc)
      parallel_for(B, grain_for(P * N), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          k::transpose_i8(P, N, reinterpret_cast<const int8_t*>(out) + b * P * N, N, reinterpret_cast<int8_t*>(y.raw()) + b * N * P, P);
      });
    return false;
  }
  const bool implicit = g.stride_h() == 1 && g.stride_w() == 1 && C % 4 == 0 && st->y_u8 && !st->float_out && g.R() * g.S() > 1;
  if (implicit) {
    uint8_t* out = y_nhwc ? reinterpret_cast<uint8_t*>(y.raw()) : scratch<uint8_t>(3, B * P * N);
    implicit_conv(*st, g, B, xs, pad, out);
    if (!y_nhwc)
      parallel_for(B, grain_for(P * N), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          k::transpose_i8(P, N, reinterpret_cast<const int8_t*>(out) + b * P * N, N, reinterpret_cast<int8_t*>(y.raw()) + b * N * P, P);
      });
    return false;
  }
  const bool direct = g.R() == 1 && g.S() == 1 && g.stride_h() == 1 && g.stride_w() == 1 && g.pad_t() == 0 && g.pad_l() == 0 &&
                      g.OH() == g.H() && g.OW() == g.W() && C % 4 == 0;
  const uint8_t* a = xs;
  int64_t lda = C;
  if (!direct) {
    lda = round4(K);
    uint8_t* cols = scratch<uint8_t>(1, B * P * lda + 64);
    parallel_for(B * P, grain_for(lda), [&](int64_t r0, int64_t r1) {
      while (r0 < r1) {
        const int64_t b = r0 / P, p0 = r0 % P, p1 = std::min(P, p0 + (r1 - r0));
        k::im2col_nhwc_u8(g, xs + b * HW * C, pad, cols + b * P * lda, lda, p0, p1);
        r0 += p1 - p0;
      }
    });
    a = cols;
  }
  if (y_nhwc) {  // the GEMM's rows are the NHWC output
    gemm_rows(*st, B * P, a, lda, y.raw(), add && st->y_u8 && !st->float_out ? add : nullptr);
    return add && st->y_u8 && !st->float_out;
  }
  const size_t es = st->float_out ? 4 : 1;
  std::byte* rows = scratch<std::byte>(3, B * P * N * static_cast<int64_t>(es));
  gemm_rows(*st, B * P, a, lda, rows);
  // [P, N] per image → NCHW [N, P].
  parallel_for(B, grain_for(P * N), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      if (st->float_out)
        k::transpose_f32(P, N, reinterpret_cast<const float*>(rows) + b * P * N, N, y.data<float>() + b * N * P, P);
      else
        k::transpose_i8(P, N, reinterpret_cast<const int8_t*>(rows) + b * P * N, N, reinterpret_cast<int8_t*>(y.raw()) + b * N * P, P);
    }
  });
  return false;
}

// ---- QGemm ----

void qgemm_infer(InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) {
    return ctx.set_out_unknown(0, ctx.has(6) ? (ctx.has(7) ? ctx.in[7].elem : ElemType::u8) : ElemType::f32);
  }
  const Shape &x = ctx.shape(0), &w = ctx.shape(3);
  LOWBIT_NODE_REQUIRE(w.size() == 2 && !x.empty() && x.back() == w[1], ctx, "input {} does not fit weight {} (N×K)",
                      shape_str(x), shape_str(w));
  Shape out = x;
  out.back() = w[0];
  qlinear_infer_common(ctx, out);
}

void qgemm_run(RunCtx& ctx) {
  const Array &x = ctx.input(0), &w = ctx.input(3);
  const int64_t N = w.shape()[0], K = w.shape()[1], M = x.numel() / K;
  auto st = state_for(ctx, [&] { return build_state(ctx, w.data<int8_t>(), N, K); });
  // Rows readable to a multiple of 4 (a padded copy when K % 4 != 0); int8 codes flipped.
  const auto* a = reinterpret_cast<const uint8_t*>(x.raw());
  int64_t lda = K;
  if (!st->x_u8 || K % 4 != 0) {
    lda = round4(K);
    uint8_t* buf = scratch<uint8_t>(0, M * lda + 64);
    for (int64_t m = 0; m < M; ++m) {
      std::memcpy(buf + m * lda, a + m * K, static_cast<size_t>(K));
      if (!st->x_u8) k::shift_u8_to_s8(K, buf + m * lda, reinterpret_cast<int8_t*>(buf + m * lda));
    }
    a = buf;
  }
  gemm_rows(*st, M, a, lda, ctx.out[0]->raw());
}

// ---- QAdd, also fused after a QConv ----

// y = qadd(a, b) on uint8 codes, broadcasting a and b to y's shape; y may be a (in place).
void qadd_codes(const Array& a, const Array& b, const k::QAddParams& p, Array& y) {
  const uint8_t *pa = a.data<uint8_t>(), *pb = b.data<uint8_t>();
  uint8_t* py = y.data<uint8_t>();
  if (a.shape() == y.shape() && b.shape() == y.shape()) {
    parallel_for(y.numel(), 1 << 14, [&](int64_t i0, int64_t i1) { k::qadd_u8(i1 - i0, pa + i0, pb + i0, p, py + i0); });
    return;
  }
  // Broadcast: gather both operands to the output shape first.
  uint8_t* ga = scratch<uint8_t>(0, y.numel());
  uint8_t* gb = scratch<uint8_t>(1, y.numel());
  strided_copy_bytes(a.raw(), reinterpret_cast<std::byte*>(ga), y.shape(), broadcast_strides(a.shape(), y.shape()), 1);
  strided_copy_bytes(b.raw(), reinterpret_cast<std::byte*>(gb), y.shape(), broadcast_strides(b.shape(), y.shape()), 1);
  k::qadd_u8(y.numel(), ga, gb, p, py);
}

// QAdd's parameters from (a_scale, a_zp, b_scale, b_zp, y_scale, y_zp) at these input indices.
k::QAddParams qadd_params(const RunCtx& ctx, size_t as, size_t az, size_t bs, size_t bz, size_t ys_at, size_t yz, bool relu) {
  auto zp = [&](size_t i) { return ctx.has(i) ? static_cast<int32_t>(ctx.input(i).get_i64(0)) : 0; };
  const float ys = static_cast<float>(ctx.input(ys_at).get_f64(0));
  k::QAddParams p;
  p.za = zp(az), p.zb = zp(bz), p.zy = zp(yz);
  p.ra = static_cast<float>(ctx.input(as).get_f64(0)) / ys;
  p.rb = static_cast<float>(ctx.input(bs).get_f64(0)) / ys;
  p.lo = relu ? p.zy : 0;
  p.hi = 255;
  return p;
}

// QConv with a fused residual QAdd: inputs 9-13 are the residual's codes, scale and zero point
// and the sum's y_scale / y_zp; lowbit_add 1: the conv's codes are the Add's first operand, 2:
// its second; lowbit_add_act "Relu" or absent.
void qconv_run(RunCtx& ctx) {
  if (!has_residual(ctx.node)) {
    qconv_compute(ctx, *ctx.out[0], nullptr);
    return;
  }
  const bool conv_first = ctx.node.attr_i("lowbit_add", 1) == 1;
  const bool relu = ctx.node.attr_s("lowbit_add_act", "") == "Relu";
  const k::QAddParams p = conv_first ? qadd_params(ctx, 6, 7, 10, 11, 12, 13, relu) : qadd_params(ctx, 10, 11, 6, 7, 12, 13, relu);
  const Array& r = ctx.input(9);
  Array& y = *ctx.out[0];
  if (r.shape() == y.shape()) {  // the residual shares y's layout (qconv_channels_last)
    const int64_t C = y.shape()[1];
    const k::QAddResidual add{r.data<uint8_t>(), C, p, !conv_first};
    if (!qconv_compute(ctx, y, &add)) qadd_codes(conv_first ? y : r, conv_first ? r : y, p, y);
    return;
  }
  // A broadcasting residual (NCHW only): the conv's codes first, then the Add.
  const Array& x = ctx.input(0);
  const SpatialGeom g = qconv_geom(infer_ctx_for(ctx));
  Array conv = Array::empty(ElemType::u8, {x.shape()[0], ctx.input(3).shape()[0], g.OH(), g.OW()});
  qconv_compute(ctx, conv, nullptr);
  qadd_codes(conv_first ? conv : r, conv_first ? r : conv, p, y);
}

void qadd_infer(InferCtx& ctx) {
  for (size_t i : {0, 3}) require_type(ctx, i, {ElemType::u8});
  LOWBIT_NODE_REQUIRE(ctx.n_in() == 8 && ctx.has(6), ctx, "expects 8 inputs with y_scale");
  if (!ctx.shape_known(0) || !ctx.shape_known(3)) return ctx.set_out_unknown(0, ElemType::u8);
  ctx.set_out(0, ElemType::u8, broadcast_shapes({ctx.shape(0), ctx.shape(3)}, ctx));
}

void qadd_run(RunCtx& ctx) {
  const k::QAddParams p = qadd_params(ctx, 1, 2, 4, 5, 6, 7, fused_activation(ctx.node).kind == Act::relu);
  qadd_codes(ctx.input(0), ctx.input(3), p, *ctx.out[0]);
}

// QConv reads and writes channels-last when its neighbours do (no transposes between
// consecutive quantized convs); QAdd as long as both operands and the result share the layout.
uint64_t qconv_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || ctx.shape(0).size() != 4) return 0;
  if (!has_residual(ctx.node)) return 1;
  // The residual is stored in the output's layout; a broadcasting one keeps everything NCHW.
  if (!ctx.shape_known(3) || !ctx.shape_known(9)) return 0;
  const SpatialGeom g = qconv_geom(ctx);
  return ctx.shape(9) == Shape{ctx.shape(0)[0], ctx.shape(3)[0], g.OH(), g.OW()} ? 1 | (uint64_t{1} << 9) : 0;
}
uint64_t qadd_channels_last(const InferCtx& ctx) {
  if (!ctx.shape_known(0) || !ctx.shape_known(3) || ctx.shape(0).size() != 4 || ctx.shape(0) != ctx.shape(3)) return 0;
  return 1 | (1 << 3) | kTiedLayout;
}

const std::vector<std::string_view> kQConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                                                    "lowbit_act", "lowbit_act_a", "lowbit_act_b", "lowbit_wbits",
                                                    "lowbit_add", "lowbit_add_act"};

}  // namespace

void add_qlinear_fused_ops(OpList& ops) {
  ops.push_back(OpDef{"lowbit", "QConv", 1, kQConvAttrs, qconv_infer, qconv_run});
  ops.push_back(OpDef{"lowbit", "QGemm", 1, {"lowbit_act", "lowbit_act_a", "lowbit_act_b", "lowbit_wbits"}, qgemm_infer, qgemm_run});
  ops.push_back(OpDef{"lowbit", "QAdd", 1, {"lowbit_act"}, qadd_infer, qadd_run});
  ops.back().channels_last = qadd_channels_last;
  ops[ops.size() - 3].channels_last = qconv_channels_last;
  add_qdq_fast_ops(ops);
  add_qcode_shortcut_ops(ops);
  add_qmatmul_act_ops(ops);
  add_qgemm_grouped_ops(ops);
}

}  // namespace lowbit::onnx
