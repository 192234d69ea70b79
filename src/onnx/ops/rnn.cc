// ONNX recurrent ops RNN, GRU and LSTM (opset 7, `layout` from 14): forward, reverse and
// bidirectional, sequence_lens, initial states, LSTM peepholes and input_forget, clip, the ONNX
// activation list with activation_alpha/beta. Validates, lays out and calls: the input
// projection of all steps is one GEMM, each step one GEMM with the recurrence weights, and the
// cell arithmetic is kernels/rnn_cell.h.
//   X (T, B, I) [layout 1: (B, T, I)], W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H)
//   Y (T, D, B, H) [layout 1: (B, T, D, H)], Y_h and Y_c (D, B, H) [layout 1: (B, D, H)]
//   gate order: LSTM i o f c, GRU z r h, RNN one gate.
#include <algorithm>
#include <cctype>
#include <string_view>

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/rnn_cell.h"
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
  return d;
}

// The gate functions of each direction, n = 1 (RNN), 2 (GRU) or 3 (LSTM) per direction, from
// `activations` (n or n * D names; n names serve both directions) and activation_alpha/beta
// (consumed in order by the functions that take them; ONNX defaults otherwise).
std::vector<kernels::Gate> gate_list(const InferCtx& ctx, Cell cell, int64_t D) {
  using kernels::GateFn;
  const size_t n = cell == Cell::rnn ? 1 : cell == Cell::gru ? 2 : 3;
  std::vector<std::string> names = cell == Cell::rnn   ? std::vector<std::string>{"Tanh"}
                                   : cell == Cell::gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                       : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  if (const Attribute* a = ctx.node.find("activations"); a && !a->ss.empty()) {
    LOWBIT_NODE_REQUIRE(a->ss.size() == n || a->ss.size() == n * static_cast<size_t>(D), ctx,
                        "activations has {} names, expected {} per direction ({} directions)", a->ss.size(), n, D);
    names = a->ss;
  }
  if (names.size() < n * static_cast<size_t>(D)) {
    const std::vector<std::string> one = names;
    names.insert(names.end(), one.begin(), one.end());
  }
  static const std::pair<const char*, GateFn> kNames[] = {
      {"Relu", GateFn::relu}, {"Tanh", GateFn::tanh}, {"Sigmoid", GateFn::sigmoid}, {"Affine", GateFn::affine},
      {"LeakyRelu", GateFn::leaky_relu}, {"ThresholdedRelu", GateFn::thresholded_relu},
      {"ScaledTanh", GateFn::scaled_tanh}, {"HardSigmoid", GateFn::hard_sigmoid}, {"Elu", GateFn::elu},
      {"Softsign", GateFn::softsign}, {"Softplus", GateFn::softplus}};
  const Attribute* alphas = ctx.node.find("activation_alpha");
  const Attribute* betas = ctx.node.find("activation_beta");
  size_t ia = 0, ib = 0;
  std::vector<kernels::Gate> gates;
  for (const std::string& name : names) {
    const auto* it = std::find_if(std::begin(kNames), std::end(kNames), [&](const auto& p) {
      return name.size() == std::string_view(p.first).size() &&
             std::equal(name.begin(), name.end(), p.first, [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
    });
    LOWBIT_NODE_REQUIRE(it != std::end(kNames), ctx,
                        "activation '{}' is not an ONNX recurrent activation (Relu, Tanh, Sigmoid, Affine, LeakyRelu, "
                        "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)", name);
    kernels::Gate g = kernels::gate_defaults(it->second);
    if (alphas && kernels::gate_uses_alpha(g.fn) && ia < alphas->fs.size()) g.alpha = static_cast<float>(alphas->fs[ia++]);
    if (betas && kernels::gate_uses_beta(g.fn) && ib < betas->fs.size()) g.beta = static_cast<float>(betas->fs[ib++]);
    gates.push_back(g);
  }
  return gates;
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
  gate_list(ctx, C, d.D);  // validates the activation list at load time
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
  const std::vector<kernels::Gate> fns = gate_list(ic, C, d.D);
  const size_t n_fns = fns.size() / static_cast<size_t>(d.D);
  const bool input_forget = C == Cell::lstm && rc.node.attr_i("input_forget", 0) != 0;
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
  std::vector<float> scratch(static_cast<size_t>(5 * H));  // the cells' scratch (rnn_cell.h)
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
    const kernels::CellArgs cell{H, Wb, Rb, clip};
    const kernels::Gate* fd = fns.data() + static_cast<size_t>(dir) * n_fns;
    kernels::gemm_f32(false, true, T * B, G * H, I, 1.0f, xrow.data(), I, Wd, I, 0.0f, xg.data(), G * H);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        h[b * H + j] = h0 ? h0[state_off(dir, b) + j] : 0.0f;
        c[b * H + j] = c0 ? c0[state_off(dir, b) + j] : 0.0f;
      }
    }
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = backward ? T - 1 - s : s;
      // Recurrence: hg = h R^T; GRU without linear_before_reset recomputes the h gate in its cell.
      kernels::gemm_f32(false, true, B, G * H, H, 1.0f, h.data(), H, Rd, H, 0.0f, hg.data(), G * H);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = lens[static_cast<size_t>(b)];
        // Reverse directions start at each sequence's own last step.
        const int64_t tb = backward ? len - 1 - s : t;
        if (tb < 0 || s >= len) continue;  // past this sequence's end: state holds, Y stays 0
        const float* xb = xg.data() + (tb * B + b) * G * H;
        const float* hb = hg.data() + b * G * H;
        float* hh = h.data() + b * H;
        if constexpr (C == Cell::rnn) {
          kernels::rnn_cell(cell, fd[0], xb, hb, hh, scratch.data());
        } else if constexpr (C == Cell::lstm) {
          kernels::lstm_cell(cell, fd, Pd, input_forget, xb, hb, hh, c.data() + b * H, scratch.data());
        } else {
          kernels::gru_cell(cell, fd, lbr, Rd + 2 * H * H, xb, hb, hh, scratch.data());
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
