// extended_linear(): QLinear's forward and backward with the ablation and range options of
// OperandConfig (fp32 operands, per-row scales, quantile ranges, range update period) and the
// first layer's input encoding. With every option at its default it is never called.
#include "qlinear_ext.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/rng.h"
#include "lowbit/fqt/qmatmul.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/hadamard.h"
#include "lowbit/kernels/igemm.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/ops/tensor_math.h"

namespace lowbit::fqt {
namespace {

const OperandConfig* operands(const QuantConfig& c, int i) {
  const OperandConfig* all[] = {&c.forward.a, &c.forward.b, &c.grad_input.a, &c.grad_input.b, &c.grad_weight.a,
                                &c.grad_weight.b};
  return all[i];
}
constexpr const char* kOperandNames[] = {"fwd.x", "fwd.w", "dx.g", "dx.w", "dw.g", "dw.x"};

// A forward operand's codes with one scale per row (per tensor: all rows the same scale).
struct FwdCodes {
  bool quantized = false;
  bool per_row = false;
  QTensor q;                      // codes (rows, cols); params meaningful only per tensor
  std::vector<float> row_scale;  // [rows]
};

float range_of(const float* x, int64_t n, const OperandConfig& c) {
  if (n == 0) return 0.0f;
  return c.clip * (c.quantile > 0 ? abs_quantile(x, n, c.quantile) : kernels::max_abs_f32(n, x));
}

// `cache`/`cache_at` keep the per-tensor range between updates (every scale_period steps).
FwdCodes quantize_forward(const float* x, int64_t rows, int64_t cols, const OperandConfig& c, bool allow_unsigned,
                          int64_t step, float& cache, int64_t& cache_at) {
  FwdCodes out;
  if (!c.quantize) return out;
  out.quantized = true;
  out.per_row = c.per_row;
  if (c.per_row) {
    out.q = {Tensor::empty({rows, cols}, DType::i8), quant::QuantParams::per_tensor_grid(c.bits, -127, 127, 1.0f)};
    out.row_scale.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * cols;
      const QTensor qr = quantize_operand_range(row, 1, cols, c, allow_unsigned, range_of(row, cols, c));
      std::copy_n(qr.codes.data<int8_t>(), cols, out.q.codes.data<int8_t>() + r * cols);
      out.row_scale[static_cast<size_t>(r)] = qr.scale();
    }
    return out;
  }
  float m;
  const int64_t at = step / c.scale_period;
  if (c.scale_period > 1 && cache_at == at) {
    m = cache;
  } else {
    m = range_of(x, rows * cols, c);
    if (c.scale_period > 1) cache = m, cache_at = at;
  }
  out.q = quantize_operand_range(x, rows, cols, c, allow_unsigned, m);
  out.row_scale.assign(static_cast<size_t>(rows), out.q.scale());
  return out;
}

// f32 values of codes with one scale per row.
Tensor dequantize_rows(const Tensor& codes, const std::vector<float>& row_scale) {
  const int64_t rows = codes.size(0), cols = codes.size(1);
  Tensor out = Tensor::empty({rows, cols});
  const int8_t* q = codes.data<int8_t>();
  float* o = out.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] = static_cast<float>(q[r * cols + c]) * row_scale[static_cast<size_t>(r)];
  return out;
}
Tensor dequantize_pt(const QTensor& q) {
  return dequantize_rows(q.codes, std::vector<float>(static_cast<size_t>(q.codes.size(0)), q.scale()));
}

// A backward operand given in the Hadamard domain, mapped back: v·H/h along rows (block h of
// `cols`); `divide` = false when the 1/h is already in v's scale. Identity without Hadamard.
Tensor from_hadamard(Tensor v, const GemmConfig& g, bool divide) {
  if (!g.hadamard) return v;
  const int64_t rows = v.size(0), cols = v.size(1), h = hadamard_block_of(cols, g);
  float* p = v.data<float>();
  kernels::fwht_f32({rows, cols, 1, h}, p, cols, p, cols);
  if (divide)
    for (int64_t i = 0; i < rows * cols; ++i) p[i] /= static_cast<float>(h);
  return v;
}

Tensor transposed(const float* x, int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty({cols, rows});
  transpose_f32(x, rows, cols, t.data<float>());
  return t;
}

struct ExtLinearNode : Node {
  Tensor x, w;   // fp32 inputs (B,K), (N,K)
  QTensor xb, wb;  // per-tensor codes of the backward GEMMs (undefined codes where not needed)
  QuantConfig cfg;  // with the first layer's encoding applied
  std::shared_ptr<QuantContext> ctx;
  ExtLinearNode(const Var& xv, const Var& wv, const Var& bv, Tensor xf, Tensor wf, QTensor xbq, QTensor wbq,
                QuantConfig c, std::shared_ptr<QuantContext> cx)
      : Node({xv, wv, bv}), x(std::move(xf)), w(std::move(wf)), xb(std::move(xbq)), wb(std::move(wbq)), cfg(std::move(c)),
        ctx(std::move(cx)) {}
  std::string_view name() const override { return "quantized_linear"; }

  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    const float* G = gc.data<float>();
    const int64_t B = x.size(0), K = x.size(1), N = w.size(0);
    Tensor dx, dw, db;
    if (inputs()[0].requires_grad()) {
      dx = Tensor::empty({B, K});
      const GemmConfig& gi = cfg.grad_input;
      const RandomKey key{ctx->seed, sr_stream(*ctx, SrTensor::grad_input_g), 0};
      if (gi.a.quantize && gi.b.quantize) {
        qgrad_input(G, B, N, grad_input_weight_operand(wb, gi), gi, key, dx.data<float>(), K);
      } else if (!gi.a.quantize && !gi.b.quantize) {
        kernels::gemm_f32(false, false, B, K, N, 1.0f, G, N, w.data<float>(), K, 0.0f, dx.data<float>(), K);
      } else {
        const Tensor gf = gi.a.quantize ? from_hadamard(dequantize_pt(grad_operand(G, B, N, gi, key)), gi, true) : gc;
        const Tensor wf = gi.b.quantize ? from_hadamard(dequantize_pt(grad_input_weight_operand(wb, gi)), gi, false)
                                        : transposed(w.data<float>(), N, K);  // (K,N)
        kernels::gemm_f32(false, true, B, K, N, 1.0f, gf.data<float>(), N, wf.data<float>(), N, 0.0f, dx.data<float>(), K);
      }
    }
    if (inputs()[1].requires_grad()) {
      dw = Tensor::empty({N, K});
      const GemmConfig& gw = cfg.grad_weight;
      const RandomKey key_g{ctx->seed, sr_stream(*ctx, SrTensor::grad_weight_g), 0};
      const RandomKey key_x{ctx->seed, sr_stream(*ctx, SrTensor::grad_weight_x), 0};
      if (!gw.a.quantize && !gw.b.quantize) {
        kernels::gemm_f32(true, false, N, K, B, 1.0f, G, N, x.data<float>(), K, 0.0f, dw.data<float>(), K);
      } else {
        const Tensor gt = transposed(G, B, N);  // (N,B)
        const QTensor xt = gw.b.quantize ? QTensor{transpose_i8(xb.codes), xb.params} : QTensor{};
        if (gw.a.quantize && gw.b.quantize) {
          qgrad_weight(gt.data<float>(), N, B, xt, gw, key_g, key_x, dw.data<float>(), K);
        } else {
          const Tensor gf = gw.a.quantize ? from_hadamard(dequantize_pt(grad_operand(gt.data<float>(), N, B, gw, key_g)), gw, true)
                                          : gt;
          const Tensor xf = gw.b.quantize ? from_hadamard(dequantize_pt(transformed_operand(xt, gw, key_x)), gw, true)
                                          : transposed(x.data<float>(), B, K);  // (K,B)
          kernels::gemm_f32(false, true, N, K, B, 1.0f, gf.data<float>(), B, xf.data<float>(), B, 0.0f, dw.data<float>(), K);
        }
      }
    }
    if (inputs()[2].defined() && inputs()[2].requires_grad()) db = sum_rows(gc);
    ++ctx->step;
    return {dx, dw, db};
  }
};

}  // namespace

float abs_quantile(const float* x, int64_t n, float q) {
  LOWBIT_REQUIRE(n > 0 && q > 0 && q <= 1, "abs_quantile", "needs n > 0 and q in (0, 1], got n {} and q {}", n, q);
  std::vector<float> a(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) a[static_cast<size_t>(i)] = std::fabs(x[i]);
  // q is a float (0.975f is 0.97500002...): a relative slack keeps ceil(0.975 * 1000) at 975.
  const auto k = static_cast<int64_t>(std::ceil(static_cast<double>(q) * static_cast<double>(n) * (1 - 1e-6))) - 1;
  const auto kth = a.begin() + std::clamp<int64_t>(k, 0, n - 1);
  std::nth_element(a.begin(), kth, a.end());
  return *kth;
}

bool has_linear_only_options(const QuantConfig& c) {
  for (int i = 0; i < 6; ++i) {
    const OperandConfig& o = *operands(c, i);
    if (!o.quantize || o.per_row || o.quantile > 0 || o.scale_period > 1) return true;
  }
  for (const GemmConfig* g : {&c.forward, &c.grad_input, &c.grad_weight})
    if (g->hadamard_block > 0) return true;
  return c.first_layer_input != "auto";
}

bool uses_linear_options(const QuantConfig& c, bool first_layer) {
  for (int i = 0; i < 6; ++i) {
    const OperandConfig& o = *operands(c, i);
    if (!o.quantize || o.per_row || o.quantile > 0 || o.scale_period > 1) return true;
  }
  return first_layer && c.first_layer_input != "auto";
}

void validate_linear_options(const QuantConfig& c) {
  for (int i = 0; i < 6; ++i) {
    const OperandConfig& o = *operands(c, i);
    const char* n = kOperandNames[i];
    LOWBIT_REQUIRE(o.clip > 0 && o.clip <= 1, "quant config", "{}: clip must be in (0, 1], got {}", n, o.clip);
    LOWBIT_REQUIRE(o.quantile >= 0 && o.quantile <= 1, "quant config", "{}: quantile must be in (0, 1] (0 = max), got {}", n,
                   o.quantile);
    LOWBIT_REQUIRE(o.scale_period >= 1 && o.scale_period <= 1000000, "quant config",
                   "{}: scale period must be in [1, 1000000], got {}", n, o.scale_period);
    LOWBIT_REQUIRE(i < 2 || (!o.per_row && o.quantile == 0 && o.scale_period == 1), "quant config",
                   "{}: per-row scales, quantile ranges and scale periods are forward-operand options", n);
    LOWBIT_REQUIRE(!(o.per_row && o.scale_period > 1), "quant config",
                   "{}: a scale period needs a per-tensor scale (per-row scales follow the rows)", n);
  }
  for (const GemmConfig* g : {&c.forward, &c.grad_input, &c.grad_weight})
    LOWBIT_REQUIRE(g->hadamard_block == 0 || (g->hadamard_block >= 1 && g->hadamard_block <= 65536 &&
                                              (g->hadamard_block & (g->hadamard_block - 1)) == 0),
                   "quant config", "Hadamard block cap must be 0 or a power of two up to 65536, got {}", g->hadamard_block);
  LOWBIT_REQUIRE(c.first_layer_input == "auto" || c.first_layer_input == "signed" || c.first_layer_input == "fp32" ||
                     c.first_layer_input == "digits2" || c.first_layer_input == "unsigned",
                 "quant config", "first-layer input encoding must be auto, signed, unsigned, fp32 or digits2, got '{}'",
                 c.first_layer_input);
}

namespace {

// X with values below zero set to zero: the unsigned first-layer encodings clamp there, as they
// clamp above at m (min-max scaled features of unseen data fall slightly outside [0, 1]).
Tensor clamp_below_zero(const Tensor& x) {
  Tensor out = x.clone();
  float* p = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = p[i] < 0.0f ? 0.0f : p[i];
  return out;
}

// First layer, first.x=digits2: X (clamped at 0) as 7-bit codes c = 16·hi + lo, s = m / 127;
// y = s_w·(16s·sat(hi·W_qᵀ) + s·sat(lo·W_qᵀ)): two b-bit GEMMs (hi in [0, 7], lo in [0, 15]),
// each with the forward accumulator model. Returns c (the dW GEMM's operand before H_B).
QTensor digits2_forward(const Tensor& xc, const QTensor& wq, const QuantConfig& cfg, float* y) {
  const int64_t B = xc.size(0), K = xc.size(1), N = wq.codes.size(0);
  const float* xp = xc.data<float>();  // non-negative (clamped by the caller)
  OperandConfig c8 = cfg.forward.a;
  c8.bits = 8;  // non-negative at 8 bits: the signed grid's [0, 127] (qgemm.h)
  const QTensor c = quantize_operand(xp, B, K, c8, true);
  const float s = c.scale();
  const auto digit = [&](bool high) {
    QTensor d{Tensor::empty({B, K}, DType::i8),
              quant::QuantParams::per_tensor_grid(4, 0, high ? 7 : 15, high ? 16.0f * s : s)};
    const int8_t* cp = c.codes.data<int8_t>();
    int8_t* dp = d.codes.data<int8_t>();
    for (int64_t i = 0; i < B * K; ++i) dp[i] = static_cast<int8_t>(high ? cp[i] >> 4 : cp[i] & 15);
    return d;
  };
  Tensor lo = Tensor::empty({B, N});
  qforward(digit(true), wq, cfg.forward, y, N);
  qforward(digit(false), wq, cfg.forward, lo.data<float>(), N);
  for (int64_t i = 0; i < B * N; ++i) y[i] += lo.data<float>()[i];
  return c;
}

}  // namespace

Var extended_linear(const Var& x, const Var& w, const Var& bias, const std::shared_ptr<QuantContext>& ctx) {
  QuantConfig cfg = ctx->cfg;
  if (ctx->first_layer && cfg.first_layer_input == "digits2") {
    LOWBIT_REQUIRE(cfg.forward.a.quantize && cfg.forward.b.quantize && !cfg.forward.a.per_row && !cfg.forward.b.per_row &&
                       cfg.forward.a.bits == 4 && cfg.forward.b.scale_period == 1 && cfg.forward.b.quantile == 0,
                   "quantized_linear", "first.x=digits2 goes with 4-bit per-tensor forward operands and no other forward option");
    const Tensor xc = clamp_below_zero(x.value().contiguous()), wc = w.value().contiguous();
    const int64_t B = xc.size(0), K = xc.size(1), N = wc.size(0);
    const QTensor wq = quantize_operand(wc.data<float>(), N, K, cfg.forward.b, false);
    Tensor y = Tensor::empty({B, N});
    const QTensor c = digits2_forward(xc, wq, cfg, y.data<float>());
    if (bias.defined()) {
      const Tensor bc = bias.value().contiguous();
      for (int64_t i = 0; i < B; ++i)
        for (int64_t j = 0; j < N; ++j) y.data<float>()[i * N + j] += bc.data<float>()[j];
    }
    // dW: with the Hadamard transform the 7-bit codes go through H_B and are requantized to b
    // bits (as the spec's X_q); without it the operand is the b-bit quantization of X.
    QTensor xb = cfg.grad_weight.hadamard ? c : quantize_operand(xc.data<float>(), B, K, cfg.forward.a, true);
    return make_output<ExtLinearNode>(y, {&x, &w, &bias}, x, w, bias, xc, wc, std::move(xb), wq, std::move(cfg), ctx);
  }
  bool x_unsigned = true;
  if (ctx->first_layer && cfg.first_layer_input == "signed") x_unsigned = false;
  if (ctx->first_layer && cfg.first_layer_input == "fp32") cfg.forward.a.quantize = cfg.grad_weight.b.quantize = false;
  const bool clamp = ctx->first_layer && cfg.first_layer_input == "unsigned";
  const Tensor xc = clamp ? clamp_below_zero(x.value().contiguous()) : x.value().contiguous(), wc = w.value().contiguous();
  const int64_t B = xc.size(0), K = xc.size(1), N = wc.size(0);
  const FwdCodes xq = quantize_forward(xc.data<float>(), B, K, cfg.forward.a, x_unsigned, ctx->step, ctx->range_x,
                                       ctx->range_x_at);
  const FwdCodes wq = quantize_forward(wc.data<float>(), N, K, cfg.forward.b, false, ctx->step, ctx->range_w,
                                       ctx->range_w_at);
  Tensor y = Tensor::empty({B, N});
  float* yp = y.data<float>();
  if (xq.quantized && wq.quantized && !xq.per_row && !wq.per_row) {
    qforward(xq.q, wq.q, cfg.forward, yp, N);
  } else if (xq.quantized && wq.quantized) {
    LOWBIT_REQUIRE(K <= kernels::kIgemmMaxK, "quantized_linear", "reduction length must be at most {}, got {}",
                   kernels::kIgemmMaxK, K);
    kernels::IgemmEpilogue ep;
    ep.col_scale = wq.row_scale.data();
    const GemmConfig& g = cfg.forward;
    kernels::igemm_f32(B, N, K, {xq.q.codes.data<int8_t>(), K, false}, {wq.q.codes.data<int8_t>(), K, false},
                       {g.acc.model, g.acc.bits, g.acc.tile}, ep, yp, N);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < N; ++j) yp[i * N + j] *= xq.row_scale[static_cast<size_t>(i)];
  } else {
    const Tensor xd = xq.quantized ? dequantize_rows(xq.q.codes, xq.row_scale) : xc;
    const Tensor wd = wq.quantized ? dequantize_rows(wq.q.codes, wq.row_scale) : wc;
    kernels::gemm_f32(false, true, B, N, K, 1.0f, xd.data<float>(), K, wd.data<float>(), K, 0.0f, yp, N);
  }
  if (bias.defined()) {
    const Tensor bc = bias.value().contiguous();
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < N; ++j) yp[i * N + j] += bc.data<float>()[j];
  }
  // Backward codes: the forward's when per tensor, else per-tensor codes of the fp32 operand.
  const auto backward_codes = [](const FwdCodes& f, const Tensor& v, OperandConfig c, bool allow_unsigned) {
    if (f.quantized && !f.per_row) return f.q;
    c.per_row = false;
    return quantize_operand(v.data<float>(), v.size(0), v.size(1), c, allow_unsigned);
  };
  const bool need_xb = cfg.grad_weight.b.quantize, need_wb = cfg.grad_input.b.quantize;
  QTensor xb = need_xb ? backward_codes(xq, xc, cfg.forward.a, x_unsigned) : QTensor{};
  QTensor wb = need_wb ? backward_codes(wq, wc, cfg.forward.b, false) : QTensor{};
  return make_output<ExtLinearNode>(y, {&x, &w, &bias}, x, w, bias, xc, wc, std::move(xb), std::move(wb), std::move(cfg),
                                    ctx);
}

}  // namespace lowbit::fqt
