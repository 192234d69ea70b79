// The ablation and range options of quantized Linear layers (issue 14): the override keys, that
// an ablation mask quantizes exactly the named operand or GEMM, per-row scales on the integer
// GEMM, quantile ranges and their update period, and the first layer's input encoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "lowbit/fqt/qgemm.h"
#include "lowbit/fqt/qlayers.h"
#include "lowbit/nn/models.h"
#include "qsim.h"
#include "test_tensors.h"

namespace lowbit::fqt {
namespace {

using test::int_grid;
using test::rand_t;

QuantConfig with(const std::string& settings, const std::string& base = "hdqt") {
  QuantConfig c = preset(base);
  apply_overrides(c, settings);
  return c;
}

using test::ctx_for;

// C (M,N) = A (M,K) · Bᵀ (N,K) in double, with the bound of an fp32 sum in any order:
// |fp32 - exact| <= K·2^-24·sum|a·b| (first order).
struct Ref {
  std::vector<double> c, bound;
};
Ref matmul_nt(const std::vector<float>& A, const std::vector<float>& B, int64_t M, int64_t N, int64_t K) {
  Ref r{std::vector<double>(M * N), std::vector<double>(M * N)};
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) s += double(A[i * K + k]) * B[j * K + k], a += std::fabs(double(A[i * K + k]) * B[j * K + k]);
      r.c[i * N + j] = s;
      r.bound[i * N + j] = 2.0 * double(K) * std::ldexp(1.0, -24) * a + 1e-30;
    }
  return r;
}
std::vector<float> transpose(const std::vector<float>& a, int64_t rows, int64_t cols) {
  std::vector<float> t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}
void expect_close(const std::vector<float>& got, const Ref& want, const char* what) {
  ASSERT_EQ(got.size(), want.c.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i)
    if (std::fabs(got[i] - want.c[i]) > want.bound[i]) {
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", want " << want.c[i] << " ± " << want.bound[i];
      ++bad;
    }
}
std::vector<float> dequant(const sim::Q& q) {
  std::vector<float> v(q.q.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(q.q[i]) * q.s;
  return v;
}

constexpr int64_t B = 8, K = 40, N = 16;

struct LayerRun {
  Tensor xt, wt, g;
  Var x, w, y;
};
LayerRun run(const QuantConfig& cfg, const std::shared_ptr<QuantContext>& ctx = nullptr) {
  LayerRun r{rand_t({B, K}, 1), rand_t({N, K}, 2, 0.3f), int_grid({B, N}, 3), {}, {}, {}};
  r.x = Var(r.xt, true);
  r.w = Var(r.wt, true);
  r.y = quantized_linear(r.x, r.w, Var(), ctx ? ctx : ctx_for(cfg));
  r.y.backward(r.g);
  return r;
}

TEST(QuantOverrides, OnlyMarksExactlyTheNamedOperandOrGemm) {
  const char* ops[] = {"fwd.x", "fwd.w", "dx.g", "dx.w", "dw.g", "dw.x"};
  for (int i = 0; i < 6; ++i) {
    const QuantConfig c = with(std::string("only=") + ops[i]);
    const bool q[] = {c.forward.a.quantize, c.forward.b.quantize, c.grad_input.a.quantize,
                      c.grad_input.b.quantize, c.grad_weight.a.quantize, c.grad_weight.b.quantize};
    for (int j = 0; j < 6; ++j) EXPECT_EQ(q[j], i == j) << "only=" << ops[i] << ", operand " << ops[j];
  }
  const QuantConfig d = with("only=dx");
  EXPECT_TRUE(d.grad_input.a.quantize && d.grad_input.b.quantize);
  EXPECT_FALSE(d.forward.a.quantize || d.forward.b.quantize || d.grad_weight.a.quantize || d.grad_weight.b.quantize);
  const QuantConfig k = with("fwd.x.clip=0.9,dw.x.round=nearest,hadamard.block=8,dx.tile=32,first.x=signed");
  EXPECT_FLOAT_EQ(k.forward.a.clip, 0.9f);
  EXPECT_EQ(k.grad_weight.b.rounding, Rounding::nearest);
  EXPECT_EQ(k.grad_input.hadamard_block, 8);
  EXPECT_EQ(k.grad_input.acc.tile, 32);
  EXPECT_EQ(k.first_layer_input, "signed");
  EXPECT_FALSE(with("only=fwd.x", "fp32").enabled);  // fp32 is left alone
}

TEST(QuantOverrides, RejectUnknownKeysAndBadValues) {
  for (const char* s : {"bogus=1", "fwd.x=maybe", "fwd.x.clip=abc", "fwd.x.clip=2", "dx.g.scale=row", "dx.g.quantile=0.9",
                        "hadamard.block=12", "first.x=weird", "fwd.x.scale=row,fwd.x.period=5", "fwd.x.period=0",
                        "only=fwd.y", "fwd.tile=-1", "noequals", "first.layer=int4", "last.layer=no"})
    EXPECT_THROW(with(s), ValueError) << s;
}

TEST(QLinearAblation, OnlyForwardXQuantizesJustX) {
  const LayerRun r = run(with("only=fwd.x"));
  const auto xd = dequant(sim::quant_operand(r.xt.to_vector(), 4, 0.975f, true));
  expect_close(r.y.value().to_vector(), matmul_nt(xd, r.wt.to_vector(), B, N, K), "y");
  // Backward in fp32 on the fp32 operands: dX = G W, dW = Gᵀ X.
  expect_close(r.x.grad().to_vector(), matmul_nt(r.g.to_vector(), transpose(r.wt.to_vector(), N, K), B, K, N), "dx");
  expect_close(r.w.grad().to_vector(),
               matmul_nt(transpose(r.g.to_vector(), B, N), transpose(r.xt.to_vector(), B, K), N, K, B), "dw");
}

TEST(QLinearAblation, OnlyForwardWQuantizesJustW) {
  const LayerRun r = run(with("only=fwd.w"));
  const auto wd = dequant(sim::quant_operand(r.wt.to_vector(), 4, 0.975f, false));
  expect_close(r.y.value().to_vector(), matmul_nt(r.xt.to_vector(), wd, B, N, K), "y");
  expect_close(r.x.grad().to_vector(), matmul_nt(r.g.to_vector(), transpose(r.wt.to_vector(), N, K), B, K, N), "dx");
}

TEST(QLinearAblation, OnlyGradInputGQuantizesJustG) {
  const LayerRun r = run(with("only=dx.g,dx.g.round=nearest"));
  expect_close(r.y.value().to_vector(), matmul_nt(r.xt.to_vector(), r.wt.to_vector(), B, N, K), "y");
  expect_close(r.w.grad().to_vector(),
               matmul_nt(transpose(r.g.to_vector(), B, N), transpose(r.xt.to_vector(), B, K), N, K, B), "dw");
  // dX = (Q_near(G H) H / h) W: G mapped back from the Hadamard domain after quantization.
  const auto H = sim::dense_hadamard(N);
  const auto gv = r.g.to_vector();
  sim::Mat gh(B * N, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t n = 0; n < N; ++n) gh[b * N + j] += gv[b * N + n] * float(H[n * N + j]);
  const auto ghq = dequant(sim::quant_max(gh, 4, false, 0, 0));
  std::vector<float> gback(B * N, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t j = 0; j < N; ++j) s += double(ghq[b * N + j]) * H[j * N + n];
      gback[b * N + n] = float(s / double(N));
    }
  expect_close(r.x.grad().to_vector(), matmul_nt(gback, transpose(r.wt.to_vector(), N, K), B, K, N), "dx");
}

TEST(QLinearAblation, OnlyOneGemmRunsItAsTheSpecDoes) {
  const LayerRun full = run(preset("hdqt"));
  const LayerRun fwd = run(with("only=fwd"));
  EXPECT_EQ(fwd.y.value().to_vector(), full.y.value().to_vector());  // the integer forward, bit for bit
  expect_close(fwd.x.grad().to_vector(), matmul_nt(fwd.g.to_vector(), transpose(fwd.wt.to_vector(), N, K), B, K, N),
               "dx");
  const LayerRun dx = run(with("only=dx"));  // dX from the spec's operands (W_q from the forward quantizer)
  EXPECT_EQ(dx.x.grad().to_vector(), full.x.grad().to_vector());
  const LayerRun dw = run(with("only=dw"));
  EXPECT_EQ(dw.w.grad().to_vector(), full.w.grad().to_vector());
  EXPECT_NE(dw.x.grad().to_vector(), full.x.grad().to_vector());  // dX in fp32 there
}

TEST(QLinearAblation, ExtendedPathWithSpecSettingsEqualsTheLayer) {
  // A range period that never expires at step 0 routes through the extended path, same numbers.
  const LayerRun full = run(preset("hdqt"));
  const LayerRun ext = run(with("fwd.x.period=1000"));
  EXPECT_EQ(ext.y.value().to_vector(), full.y.value().to_vector());
  EXPECT_EQ(ext.x.grad().to_vector(), full.x.grad().to_vector());
  EXPECT_EQ(ext.w.grad().to_vector(), full.w.grad().to_vector());
}

TEST(QLinearOptions, PerRowScalesOnTheIntegerGemm) {
  const QuantConfig cfg = with("fwd.x.scale=row,fwd.w.scale=row");
  const LayerRun r = run(cfg);
  const auto xv = r.xt.to_vector(), wv = r.wt.to_vector();
  sim::IMat xq, wq;
  std::vector<float> sx, sw;
  for (int64_t i = 0; i < B; ++i) {
    const sim::Q q = sim::quant_operand(sim::Mat(xv.begin() + i * K, xv.begin() + (i + 1) * K), 4, 0.975f, true);
    xq.insert(xq.end(), q.q.begin(), q.q.end()), sx.push_back(q.s);
  }
  for (int64_t j = 0; j < N; ++j) {
    const sim::Q q = sim::quant_operand(sim::Mat(wv.begin() + j * K, wv.begin() + (j + 1) * K), 4, 0.975f, false);
    wq.insert(wq.end(), q.q.begin(), q.q.end()), sw.push_back(q.s);
  }
  const sim::IMat acc = sim::tiled_sat_matmul(xq, wq, B, N, K, 8, 32);
  const auto y = r.y.value().to_vector();
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < N; ++j)
      EXPECT_EQ(y[i * N + j], (float(acc[i * N + j]) * 1.0f * sw[j]) * sx[i]) << i << "," << j;
  // Per-row forward scales must change the result (else the test shows nothing).
  EXPECT_NE(y, run(preset("hdqt")).y.value().to_vector());
}

TEST(QLinearOptions, AbsQuantileIsTheRankedValue) {
  const Tensor t = rand_t({1000}, 9);
  std::vector<float> a = t.to_vector();
  for (float& v : a) v = std::fabs(v);
  std::sort(a.begin(), a.end());
  EXPECT_EQ(abs_quantile(t.data<float>(), 1000, 0.975f), a[974]);
  EXPECT_EQ(abs_quantile(t.data<float>(), 1000, 1.0f), a[999]);
  EXPECT_EQ(abs_quantile(t.data<float>(), 1000, 0.0005f), a[0]);
  EXPECT_THROW(abs_quantile(t.data<float>(), 1000, 0.0f), ValueError);
}

TEST(QLinearOptions, QuantileRangeKeptForThePeriod) {
  auto ctx = ctx_for(with("fwd.x.quantile=0.9,fwd.x.clip=1,fwd.x.period=3"));
  float at_update = 0;
  for (int s = 0; s < 7; ++s) {
    const Tensor xt = rand_t({B, K}, 100 + s, 1.0f + float(s));  // a different range every step
    Var x(xt, true), w(rand_t({N, K}, 2, 0.3f), true);
    const Var y = quantized_linear(x, w, Var(), ctx);
    if (s % 3 == 0) at_update = abs_quantile(xt.data<float>(), B * K, 0.9f);
    EXPECT_EQ(ctx->range_x, at_update) << "step " << s;
    y.backward(int_grid({B, N}, 3));
  }
  EXPECT_EQ(ctx->step, 7);
  // No training step in between (evaluation): the range is not recomputed.
  const float kept = ctx->range_x;
  (void)quantized_linear(Var(rand_t({B, K}, 999, 50.0f)), Var(rand_t({N, K}, 2, 0.3f)), Var(), ctx);
  EXPECT_EQ(ctx->range_x, kept);
}

TEST(QLinearOptions, FirstLayerInputEncoding) {
  Tensor xt = rand_t({B, K}, 1);
  for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = std::fabs(xt.data<float>()[i]);  // non-negative
  const Tensor wt = rand_t({N, K}, 2, 0.3f);
  const auto forward = [&](const std::string& set, bool first) {
    auto ctx = ctx_for(with(set));
    ctx->first_layer = first;
    return quantized_linear(Var(xt), Var(wt), Var(), ctx).value().to_vector();
  };
  const auto wd = dequant(sim::quant_operand(wt.to_vector(), 4, 0.975f, false));
  expect_close(forward("first.x=fp32", true), matmul_nt(xt.to_vector(), wd, B, N, K), "y (fp32 input)");
  EXPECT_EQ(forward("first.x=fp32", false), forward("", false));  // other layers: the spec's encoding
  const sim::Q xs = sim::quant_operand(xt.to_vector(), 4, 0.975f, false);  // signed grid
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  const sim::IMat acc = sim::tiled_sat_matmul(xs.q, wq.q, B, N, K, 8, 32);
  const auto y = forward("first.x=signed", true);
  for (int64_t i = 0; i < B * N; ++i) EXPECT_EQ(y[i], float(acc[i]) * (xs.s * wq.s * 1.0f)) << i;
  EXPECT_NE(y, forward("", true));
}

TEST(QLinearOptions, FirstLayerTwoDigitInput) {
  Tensor xt = rand_t({B, K}, 4);
  for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = std::fabs(xt.data<float>()[i]);
  const Tensor wt = rand_t({N, K}, 2, 0.3f);
  auto ctx = ctx_for(with("first.x=digits2"));
  ctx->first_layer = true;
  Var w(wt, true);
  const Var y = quantized_linear(Var(xt), w, Var(), ctx);
  // c = round(x / s) in [0, 127], s = 0.975 max|x| / 127; hi = c / 16 in [0, 7], lo = c % 16.
  const auto xv = xt.to_vector();
  float m = 0;
  for (float v : xv) m = std::max(m, v);
  const float s = 0.975f * m / 127.0f;
  sim::IMat hi(xv.size()), lo(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const int64_t c = sim::q_one(xv[i], s, 0, 127, false, 0);
    hi[i] = c / 16, lo[i] = c % 16;
    EXPECT_LE(hi[i], 7);  // both digits are 4-bit operands
  }
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  const sim::IMat ah = sim::tiled_sat_matmul(hi, wq.q, B, N, K, 8, 32), al = sim::tiled_sat_matmul(lo, wq.q, B, N, K, 8, 32);
  const auto got = y.value().to_vector();
  for (int64_t i = 0; i < B * N; ++i)
    EXPECT_EQ(got[i], float(ah[i]) * (16.0f * s * wq.s * 1.0f) + float(al[i]) * (s * wq.s * 1.0f)) << i;
  y.backward(int_grid({B, N}, 3));
  EXPECT_TRUE(w.grad().defined());
  // Values below zero clamp to zero (the unsigned grid's bottom), they do not flip the grid.
  Tensor neg = xt.clone(), zero = xt.clone();
  neg.data<float>()[5] = -1.0f;
  zero.data<float>()[5] = 0.0f;
  for (const char* enc : {"first.x=digits2", "first.x=unsigned"}) {
    auto c1 = ctx_for(with(enc)), c2 = ctx_for(with(enc));
    c1->first_layer = c2->first_layer = true;
    EXPECT_EQ(quantized_linear(Var(neg), Var(wt), Var(), c1).value().to_vector(),
              quantized_linear(Var(zero), Var(wt), Var(), c2).value().to_vector()) << enc;
  }
  // Without the clamp one negative value switches the batch to the signed grid.
  auto c3 = ctx_for(preset("hdqt")), c4 = ctx_for(preset("hdqt"));
  EXPECT_NE(quantized_linear(Var(neg), Var(wt), Var(), c3).value().to_vector(),
            quantized_linear(Var(zero), Var(wt), Var(), c4).value().to_vector());
}

TEST(QLinearOptions, ConvolutionsRejectLinearOnlyOptions) {
  auto cnn = nn::build_model("cnn", {1, 8, 8}, 3);
  EXPECT_THROW(quantize_model(*cnn, with("only=fwd.x"), 1), ValueError);
  EXPECT_THROW(quantize_model(*cnn, with("hadamard.block=8"), 1), ValueError);
  auto fc = nn::build_model("fcnet100", {12}, 3);
  EXPECT_NO_THROW(quantize_model(*fc, with("only=fwd.x,first.x=signed"), 1));
}

// first.layer=fp32 / last.layer=fp32 leave the model's first / last Conv or Linear an fp32 layer
// and quantize every other one; the next layer is then not the one that sees the model's input.
TEST(QuantOverrides, FirstAndLastLayerLeftFp32) {
  const auto kinds = [](const nn::Module& m) {
    std::string s;
    for (const auto& [path, sub] : m.named_modules()) {
      if (dynamic_cast<const QConv2d*>(sub.get()) || dynamic_cast<const QLinear*>(sub.get())) s += 'q';
      else if (dynamic_cast<const nn::Conv2d*>(sub.get()) || dynamic_cast<const nn::Linear*>(sub.get())) s += 'f';
    }
    return s;
  };
  auto all = nn::build_model("cnn", {1, 8, 8}, 3);
  quantize_model(*all, with(""), 1);
  const std::string q = kinds(*all);
  ASSERT_GE(q.size(), 3u);
  EXPECT_EQ(q, std::string(q.size(), 'q'));
  auto first = nn::build_model("cnn", {1, 8, 8}, 3);
  quantize_model(*first, with("first.layer=fp32"), 1);
  EXPECT_EQ(kinds(*first), "f" + std::string(q.size() - 1, 'q'));
  auto last = nn::build_model("cnn", {1, 8, 8}, 3);
  quantize_model(*last, with("last.layer=fp32"), 1);
  EXPECT_EQ(kinds(*last), std::string(q.size() - 1, 'q') + "f");
  EXPECT_TRUE(with("first.layer=fp32,first.layer=int").quantize_first_layer);

}

}  // namespace
}  // namespace lowbit::fqt
