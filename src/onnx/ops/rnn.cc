// ONNX recurrent ops RNN, GRU and LSTM (opset 7, `layout` from 14): forward, reverse and
// bidirectional, sequence_lens, initial states, LSTM peepholes, clip. The default activations
// only (Tanh; Sigmoid/Tanh; Sigmoid/Tanh/Tanh) — any other list is a node error. The input
// projection of all steps is one GEMM; each step adds one GEMM with the recurrence weights.
//   X (T, B, I) [layout 1: (B, T, I)], W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H)
//   Y (T, D, B, H) [layout 1: (B, T, D, H)], Y_h and Y_c (D, B, H) [layout 1: (B, D, H)]
//   gate order: LSTM i o f c, GRU z r h, RNN one gate.
#include <algorithm>
#include <cmath>

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_act.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

enum class Cell { rnn, gru, lstm };

int gates(Cell c) { return c == Cell::rnn ? 1 : c == Cell::gru ? 3 : 4; }

struct Dims {
  int64_t T, B, I, H, D;
  bool batch_first;
};

Dims dims(const InferCtx& ctx, Cell cell) {
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() == 3, ctx, "X must be 3-d, got {}", shape_str(x));
  const bool bf = ctx.node.attr_i("layout", 0) != 0;
  Dims d{bf ? x[1] : x[0], bf ? x[0] : x[1], x[2], ctx.node.attr_i("hidden_size", -1), 1, bf};
  const std::string dir = ctx.node.attr_s("direction", "forward");
  LOWBIT_NODE_REQUIRE(dir == "forward" || dir == "reverse" || dir == "bidirectional", ctx,
                      "direction '{}' (expected forward, reverse or bidirectional)", dir);
  d.D = dir == "bidirectional" ? 2 : 1;
  const Shape& w = ctx.shape(1);
  if (d.H < 0 && w.size() == 3) d.H = w[1] / gates(cell);
  LOWBIT_NODE_REQUIRE(d.H > 0, ctx, "hidden_size must be positive");
  const int64_t G = gates(cell);
  LOWBIT_NODE_REQUIRE(w == (Shape{d.D, G * d.H, d.I}), ctx, "W is {}, expected {}", shape_str(w), shape_str(Shape{d.D, G * d.H, d.I}));
  LOWBIT_NODE_REQUIRE(ctx.shape(2) == (Shape{d.D, G * d.H, d.H}), ctx, "R is {}, expected {}", shape_str(ctx.shape(2)),
                      shape_str(Shape{d.D, G * d.H, d.H}));
  if (ctx.has(3))
    LOWBIT_NODE_REQUIRE(ctx.shape(3) == (Shape{d.D, 2 * G * d.H}), ctx, "B is {}, expected {}", shape_str(ctx.shape(3)),
                        shape_str(Shape{d.D, 2 * G * d.H}));
  const std::vector<std::string> dflt = cell == Cell::rnn ? std::vector<std::string>{"Tanh"}
                                        : cell == Cell::gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                            : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  if (const Attribute* a = ctx.node.find("activations")) {
    for (size_t i = 0; i < a->ss.size(); ++i)
      LOWBIT_NODE_REQUIRE(a->ss[i] == dflt[i % dflt.size()], ctx, "activation '{}' is not supported (only the defaults)", a->ss[i]);
  }
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("input_forget", 0) == 0, ctx, "input_forget=1 is not supported");
  return d;
}

template <Cell C>
void infer(InferCtx& ctx) {
  for (size_t i = 0; i < ctx.n_in(); ++i)
    if (ctx.has(i) && i != 4) LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ElemType::f32, ctx, "input {} must be float32", i);
  if (!ctx.shape_known(0) || !ctx.shape_known(1) || !ctx.shape_known(2)) {
    for (size_t i = 0; i < ctx.out.size(); ++i) ctx.set_out_unknown(i, ElemType::f32);
    return;
  }
  const Dims d = dims(ctx, C);
  const Shape state = d.batch_first ? Shape{d.B, d.D, d.H} : Shape{d.D, d.B, d.H};
  if (ctx.out.size() > 0) ctx.set_out(0, ElemType::f32, d.batch_first ? Shape{d.B, d.T, d.D, d.H} : Shape{d.T, d.D, d.B, d.H});
  if (ctx.out.size() > 1) ctx.set_out(1, ElemType::f32, state);
  if (ctx.out.size() > 2) ctx.set_out(2, ElemType::f32, state);
}

template <Cell C>
void run(RunCtx& rc) {
  InferCtx ic = infer_ctx_for(rc);
  const Dims d = dims(ic, C);
  const int64_t G = gates(C), H = d.H, B = d.B, T = d.T, I = d.I;
  const float clip = static_cast<float>(rc.node.attr_f("clip", 0));
  const bool lbr = rc.node.attr_i("linear_before_reset", 0) != 0;
  const bool reverse_only = rc.node.attr_s("direction", "forward") == "reverse";
  const float* X = rc.input(0).data<float>();
  const float* W = rc.input(1).data<float>();
  const float* R = rc.input(2).data<float>();
  const float* Bias = rc.has(3) ? rc.input(3).data<float>() : nullptr;
  std::vector<int64_t> lens(static_cast<size_t>(B), T);
  if (rc.has(4)) {
    const Array& sl = rc.input(4);
    LOWBIT_NODE_REQUIRE(sl.numel() == B, ic, "sequence_lens has {} entries for batch {}", sl.numel(), B);
    for (int64_t b = 0; b < B; ++b) {
      lens[static_cast<size_t>(b)] = static_cast<int64_t>(sl.get_f64(b));
      LOWBIT_NODE_REQUIRE(lens[static_cast<size_t>(b)] >= 0 && lens[static_cast<size_t>(b)] <= T, ic,
                          "sequence_lens[{}] = {} outside [0, {}]", b, lens[static_cast<size_t>(b)], T);
    }
  }
  const float* h0 = rc.has(5) ? rc.input(5).data<float>() : nullptr;
  const float* c0 = C == Cell::lstm && rc.has(6) ? rc.input(6).data<float>() : nullptr;
  const float* P = C == Cell::lstm && rc.has(7) ? rc.input(7).data<float>() : nullptr;
  Array* Y = rc.out.size() > 0 ? rc.out[0] : nullptr;
  Array* Yh = rc.out.size() > 1 ? rc.out[1] : nullptr;
  Array* Yc = rc.out.size() > 2 ? rc.out[2] : nullptr;
  if (Y) std::fill_n(Y->data<float>(), Y->numel(), 0.0f);
  // Index helpers for the two layouts.
  auto x_at = [&](int64_t t, int64_t b) { return X + (d.batch_first ? (b * T + t) : (t * B + b)) * I; };
  auto y_at = [&](int64_t t, int64_t dir, int64_t b) {
    return Y->data<float>() + (d.batch_first ? ((b * T + t) * d.D + dir) : ((t * d.D + dir) * B + b)) * H;
  };
  auto state_off = [&](int64_t dir, int64_t b) { return (d.batch_first ? (b * d.D + dir) : (dir * B + b)) * H; };
  std::vector<float> xg(static_cast<size_t>(T * B * G * H)), hg(static_cast<size_t>(B * G * H));
  std::vector<float> pre(static_cast<size_t>(G * H)), tc(static_cast<size_t>(H));
  std::vector<float> h(static_cast<size_t>(B * H)), c(static_cast<size_t>(B * H)), xrow(static_cast<size_t>(T * B * I));
  // Rows of X in (t, b) order for the one big input GEMM.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) std::copy_n(x_at(t, b), I, xrow.data() + (t * B + b) * I);
  for (int64_t dir = 0; dir < d.D; ++dir) {
    const bool backward = reverse_only || dir == 1;
    const float* Wd = W + dir * G * H * I;
    const float* Rd = R + dir * G * H * H;
    const float* Wb = Bias ? Bias + dir * 2 * G * H : nullptr;
    const float* Rb = Bias ? Wb + G * H : nullptr;
    const float* Pd = P ? P + dir * 3 * H : nullptr;
    kernels::gemm_f32(false, true, T * B, G * H, I, 1.0f, xrow.data(), I, Wd, I, 0.0f, xg.data(), G * H);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        h[b * H + j] = h0 ? h0[state_off(dir, b) + j] : 0.0f;
        c[b * H + j] = c0 ? c0[state_off(dir, b) + j] : 0.0f;
      }
    }
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = backward ? T - 1 - s : s;
      // Recurrence: hg = h R^T (+ Rb); GRU without linear_before_reset recomputes the h gate.
      kernels::gemm_f32(false, true, B, G * H, H, 1.0f, h.data(), H, Rd, H, 0.0f, hg.data(), G * H);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = lens[static_cast<size_t>(b)];
        // Reverse directions start at each sequence's own last step.
        const int64_t tb = backward ? len - 1 - s : t;
        if (tb < 0 || s >= len) continue;  // past this sequence's end: state holds, Y stays 0
        const float* xb = xg.data() + (tb * B + b) * G * H;
        float* hb = hg.data() + b * G * H;
        float* hh = h.data() + b * H;
        float* cc = c.data() + b * H;
        // Pre-activations of all gates: x W^T + h R^T + Wb + Rb (GRU's h gate is redone below).
        float* g = pre.data();
        for (int64_t j = 0; j < G * H; ++j) g[j] = xb[j] + hb[j] + (Wb ? Wb[j] + Rb[j] : 0.0f);
        if constexpr (C == Cell::rnn) {
          kernels::tanh_inplace(H, g, clip);
          std::copy_n(g, H, hh);
        } else if constexpr (C == Cell::lstm) {  // i o f c
          if (Pd)
            for (int64_t j = 0; j < H; ++j) g[j] += Pd[j] * cc[j], g[2 * H + j] += Pd[2 * H + j] * cc[j];
          kernels::sigmoid_inplace(H, g, clip);
          kernels::sigmoid_inplace(H, g + 2 * H, clip);
          kernels::tanh_inplace(H, g + 3 * H, clip);
          for (int64_t j = 0; j < H; ++j) cc[j] = g[2 * H + j] * cc[j] + g[j] * g[3 * H + j];
          if (Pd)
            for (int64_t j = 0; j < H; ++j) g[H + j] += Pd[H + j] * cc[j];
          kernels::sigmoid_inplace(H, g + H, clip);
          std::copy_n(cc, H, tc.data());
          kernels::tanh_inplace(H, tc.data(), 0.0f);
          for (int64_t j = 0; j < H; ++j) hh[j] = g[H + j] * tc[j];
        } else {  // z r h
          kernels::sigmoid_inplace(2 * H, g, clip);
          float* n = g + 2 * H;
          if (lbr) {
            for (int64_t j = 0; j < H; ++j)
              n[j] = xb[2 * H + j] + (Wb ? Wb[2 * H + j] : 0.0f) + g[H + j] * (hb[2 * H + j] + (Rb ? Rb[2 * H + j] : 0.0f));
          } else {
            // (r * h) Rh^T: one row at a time (B is small next to H in recurrent models).
            for (int64_t j = 0; j < H; ++j) tc[j] = g[H + j] * hh[j];
            kernels::gemm_f32(false, true, 1, H, H, 1.0f, tc.data(), H, Rd + 2 * H * H, H, 0.0f, n, H);
            for (int64_t j = 0; j < H; ++j) n[j] += xb[2 * H + j] + (Wb ? Wb[2 * H + j] + Rb[2 * H + j] : 0.0f);
          }
          kernels::tanh_inplace(H, n, clip);
          for (int64_t j = 0; j < H; ++j) hh[j] = (1.0f - g[j]) * n[j] + g[j] * hh[j];
        }
        if (Y) std::copy_n(hh, H, y_at(tb, dir, b));
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      if (Yh) std::copy_n(h.data() + b * H, H, Yh->data<float>() + state_off(dir, b));
      if (Yc) std::copy_n(c.data() + b * H, H, Yc->data<float>() + state_off(dir, b));
    }
  }
}

template <Cell C>
OpDef def(std::string_view name) {
  std::vector<std::string_view> attrs = {"activation_alpha", "activation_beta", "activations", "clip", "direction",
                                         "hidden_size", "layout"};
  if (C == Cell::gru) attrs.push_back("linear_before_reset");
  if (C == Cell::lstm) attrs.push_back("input_forget");
  OpDef op{"", name, 7, attrs, infer<C>, run<C>};
  op.flops = [](const InferCtx& ctx) {
    if (!ctx.shape_known(0) || !ctx.shape_known(1)) return 0.0;
    const Shape &x = ctx.shape(0), &w = ctx.shape(1);  // w (D, G*H, I)
    if (x.size() != 3 || w.size() != 3) return 0.0;
    const double steps = static_cast<double>(x[0] * x[1]), gh = static_cast<double>(w[0] * w[1]);
    const double h = static_cast<double>(w[1] / gates(C));
    return 2.0 * steps * gh * (static_cast<double>(x[2]) + h);
  };
  return op;
}

}  // namespace

void add_rnn_ops(OpList& ops) {
  ops.push_back(def<Cell::rnn>("RNN"));
  ops.push_back(def<Cell::gru>("GRU"));
  ops.push_back(def<Cell::lstm>("LSTM"));
}

}  // namespace lowbit::onnx
