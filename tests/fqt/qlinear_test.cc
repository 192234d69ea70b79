// Quantized Linear against the float simulation (exact), STE behaviour, accumulator saturation,
// and the fp32/int8 presets against finite differences and float layers.
#include <gtest/gtest.h>

#include "lowbit/fqt/qlayers.h"
#include "lowbit/nn/models.h"
#include "lowbit/ops/ops.h"
#include "lowbit/ops/tensor_math.h"
#include "qsim.h"
#include "test_tensors.h"

namespace lowbit::fqt {
namespace {

using test::int_grid;
using test::rand_t;

using test::ctx_for;

void expect_same(const std::vector<float>& got, const sim::Mat& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i)
    if (got[i] != want[i]) {
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", simulation " << want[i];
      ++bad;
    }
}

TEST(QLinear, HdqtMatchesFloatSimulationExactly) {
  const int64_t B = 8, K = 70, N = 16;  // K = 70: three forward tiles of 32
  const QuantConfig cfg = preset("hdqt");
  auto ctx = ctx_for(cfg);
  const Tensor xt = rand_t({B, K}, 1), wt = rand_t({N, K}, 2, 0.3f), g = int_grid({B, N}, 3);
  Var x(xt, true), w(wt, true);
  const Var y = quantized_linear(x, w, Var(), ctx);
  y.backward(g);

  // Forward: signed 4-bit codes (x has negatives), tiles of 32 saturated at ±127.
  const sim::Q xq = sim::quant_operand(xt.to_vector(), 4, 0.975f, true);
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  const sim::IMat acc = sim::tiled_sat_matmul(xq.q, wq.q, B, N, K, 8, 32);
  sim::Mat y_sim(B * N);
  for (int64_t i = 0; i < B * N; ++i) y_sim[i] = static_cast<float>(acc[i]) * (xq.s * wq.s * 1.0f);
  expect_same(y.value().to_vector(), y_sim, "y");

  QuantContext step0 = *ctx;
  step0.step = 0;
  const auto gv = g.to_vector();
  {  // dX = s_g s_hw s_w / h(N) * sat(Q_sr(G H_N) Q_near(H_N W_q)), one tile
    const auto H = sim::dense_hadamard(N);
    sim::Mat gh(B * N, 0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < N; ++j)
        for (int64_t n = 0; n < N; ++n) gh[b * N + j] += gv[b * N + n] * float(H[n * N + j]);
    const sim::Q gq = sim::quant_max(gh, 4, true, ctx->seed, sr_stream(step0, SrTensor::grad_input_g));
    sim::Mat hw(K * N, 0);  // (H_N W_q)ᵀ as (K, N), integer valued
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        for (int64_t n = 0; n < N; ++n) hw[k * N + j] += float(H[j * N + n] * wq.q[n * K + k]);
    const sim::Q hwq = sim::quant_max(hw, 4, false, 0, 0);
    const float op_scale = hwq.s * wq.s / float(N & -N);
    const sim::IMat a = sim::tiled_sat_matmul(gq.q, hwq.q, B, K, N, 8, 0);
    sim::Mat dx(B * K);
    for (int64_t i = 0; i < B * K; ++i) dx[i] = static_cast<float>(a[i]) * (gq.s * op_scale * 1.0f);
    expect_same(x.grad().to_vector(), dx, "dx");
  }
  {  // dW = s_g' s_hx s_x / h(B) * sat(Q_sr(Gᵀ H_B) Q_sr(H_B X_q)), one tile
    const auto H = sim::dense_hadamard(B);
    sim::Mat gth(N * B, 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < B; ++j)
        for (int64_t b = 0; b < B; ++b) gth[n * B + j] += gv[b * N + n] * float(H[b * B + j]);
    const sim::Q gq = sim::quant_max(gth, 4, true, ctx->seed, sr_stream(step0, SrTensor::grad_weight_g));
    sim::Mat hx(K * B, 0);  // (H_B X_q)ᵀ as (K, B)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < B; ++j)
        for (int64_t b = 0; b < B; ++b) hx[k * B + j] += float(H[j * B + b] * xq.q[b * K + k]);
    const sim::Q hxq = sim::quant_max(hx, 4, true, ctx->seed, sr_stream(step0, SrTensor::grad_weight_x));
    const sim::IMat a = sim::tiled_sat_matmul(gq.q, hxq.q, N, K, B, 8, 0);
    sim::Mat dw(N * K);
    for (int64_t i = 0; i < N * K; ++i)
      dw[i] = static_cast<float>(a[i]) * (gq.s * (hxq.s * xq.s) * (1.0f / float(B & -B)));
    expect_same(w.grad().to_vector(), dw, "dw");
  }
}

TEST(QLinear, UnsignedCodesAfterRelu) {
  const QuantConfig cfg = preset("hdqt");
  Tensor xt = rand_t({4, 8}, 5);
  for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = std::fabs(xt.data<float>()[i]);
  const Tensor wt = rand_t({3, 8}, 6);
  const Var y = quantized_linear(Var(xt), Var(wt), Var(), ctx_for(cfg));
  const sim::Q xq = sim::quant_operand(xt.to_vector(), 4, 0.975f, true);
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  EXPECT_NEAR(xq.s * 15.0f, 0.975f * max_abs(xt), 1e-6f);
  const sim::IMat acc = sim::tiled_sat_matmul(xq.q, wq.q, 4, 3, 8, 8, 32);
  sim::Mat y_sim(12);
  for (int i = 0; i < 12; ++i) y_sim[i] = static_cast<float>(acc[i]) * (xq.s * wq.s);
  expect_same(y.value().to_vector(), y_sim, "y");
}

TEST(QLinear, EightBitNonNegativeInputsUseTheSignedGrid) {
  // Unsigned 8-bit codes (up to 255) do not fit the int8 operands: a non-negative input at
  // 8 bits must be quantized on [0, 127], and the product stays close to the float one.
  Tensor xt = rand_t({4, 16}, 21);
  for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = std::fabs(xt.data<float>()[i]);
  const Tensor wt = rand_t({3, 16}, 22);
  const auto yq = quantized_linear(Var(xt), Var(wt), Var(), ctx_for(preset("int8"))).value().to_vector();
  const auto yf = linear(Var(xt), Var(wt), Var()).value().to_vector();
  const float bound = 16 * max_abs(xt) * max_abs(wt) * (1.0f / 127 + 0.025f);  // rounding + 2.5 % clip
  for (size_t i = 0; i < yq.size(); ++i) EXPECT_NEAR(yq[i], yf[i], bound);
  const sim::Q xq = sim::quant_operand(xt.to_vector(), 8, 0.975f, true);
  for (int64_t c : xq.q) EXPECT_LE(c, 127);
}

TEST(QLinear, SaturationChangesResultsWhenItShould) {
  // All-positive operands at full scale: each code is 7 (or 15) and a 32-wide tile sums to
  // far more than 127, so an 8-bit tile-clamp result differs from the exact one.
  const Tensor x = Tensor::full({2, 64}, 1.0f), w = Tensor::full({3, 64}, 1.0f);
  QuantConfig sat = preset("hdqt"), exact = preset("hdqt");
  exact.forward.acc.model = AccModel::exact;
  const float ys = quantized_linear(Var(x), Var(w), Var(), ctx_for(sat)).value().to_vector()[0];
  const float ye = quantized_linear(Var(x), Var(w), Var(), ctx_for(exact)).value().to_vector()[0];
  // Codes: x unsigned 15 (s = 0.975/15), w signed 7 (s = 0.975/7). Exact: 64 * 105 = 6720.
  EXPECT_FLOAT_EQ(ye, 6720.0f * (0.975f / 15.0f) * (0.975f / 7.0f));
  EXPECT_FLOAT_EQ(ys, 2 * 127.0f * (0.975f / 15.0f) * (0.975f / 7.0f));  // two tiles, each clamped
  // Small values never saturate: the two agree.
  const Tensor xs = rand_t({2, 16}, 9, 0.01f), wsm = rand_t({3, 16}, 10, 0.01f);
  QuantConfig four = preset("hdqt", 4, 16);
  EXPECT_EQ(quantized_linear(Var(xs), Var(wsm), Var(), ctx_for(four)).value().to_vector(),
            quantized_linear(Var(xs), Var(wsm), Var(), ctx_for([&] { auto c = four; c.forward.acc.model = AccModel::exact; return c; }()))
                .value()
                .to_vector());
}

TEST(QLinear, StraightThroughEstimatorIgnoresClipping) {
  // With 8-bit exact arithmetic and no Hadamard, the gradient w.r.t. x equals G·W_q (the
  // quantizer passes gradients through, even for values beyond the clip point).
  QuantConfig cfg = preset("int8");
  const Tensor xt = rand_t({4, 6}, 11), wt = rand_t({5, 6}, 12), g = int_grid({4, 5}, 13);
  Var x(xt, true), w(wt, true);
  quantized_linear(x, w, Var(), ctx_for(cfg)).backward(g);
  const auto wq = sim::quant_operand(wt.to_vector(), 8, 0.975f, false);
  const auto gv = g.to_vector(), dx = x.grad().to_vector();
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t k = 0; k < 6; ++k) {
      double ref = 0;
      for (int64_t n = 0; n < 5; ++n) ref += gv[b * 5 + n] * wq.q[n * 6 + k] * double(wq.s);
      EXPECT_NEAR(dx[b * 6 + k], ref, 0.02 * (1 + std::fabs(ref)));  // G is quantized to 8 bits: ~1/127 relative
    }
}

TEST(QuantizeModel, SwapsLayersByNameAndTrains) {
  auto m = nn::build_model("cnn", {1, 8, 8}, 3);
  nn::init_parameters(*m, 1);
  const auto before = m->named_parameters();
  quantize_model(*m, preset("hdqt"), 7);
  EXPECT_EQ(m->find("backbone.0")->type(), "QConv2d");
  EXPECT_EQ(m->find("fc")->type(), "QLinear");
  const auto after = m->named_parameters();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].first, after[i].first);
    EXPECT_EQ(before[i].second.impl(), after[i].second.impl()) << "parameters must be shared, not copied";
  }
  quantize_model(*m, preset("naive-int"), 7);  // idempotent: reconfigures in place
  EXPECT_EQ(dynamic_cast<QLinear&>(*m->find("fc")).config().name, "naive-int");
  const Var y = (*m)(Var(rand_t({4, 1, 8, 8}, 3)));
  sum(y).backward();
  for (auto& [name, p] : m->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  m->expand_classes(5, 3);  // the head is rebuilt as fp32 and must be re-quantized
  EXPECT_EQ(m->find("fc")->type(), "Linear");
  quantize_model(*m, preset("hdqt"), 7);
  EXPECT_EQ(m->find("fc")->type(), "QLinear");
  EXPECT_THROW(preset("int3"), ValueError);
  EXPECT_THROW(preset("hdqt", 9), ValueError);
}

}  // namespace
}  // namespace lowbit::fqt
