// Quantized Conv2d: im2col lowering checked against the float simulation (forward exact,
// per-sample backward exact), and 8-bit exact arithmetic close to the fp32 convolution.
#include <gtest/gtest.h>

#include "lowbit/core/threads.h"
#include "lowbit/fqt/qlayers.h"
#include "lowbit/ops/ops.h"
#include "qsim.h"
#include "sample_sum.h"
#include "test_tensors.h"

namespace lowbit::fqt {
namespace {

struct Geo {
  int64_t N = 2, C = 3, H = 6, W = 5, K = 4, R = 3, S = 3, stride = 1, pad = 1;
  int64_t OH() const { return (H + 2 * pad - R) / stride + 1; }
  int64_t OW() const { return (W + 2 * pad - S) / stride + 1; }
  int64_t L() const { return OH() * OW(); }
  int64_t CRS() const { return C * R * S; }
};

// (L, CRS) integer columns of sample n from codes laid out (N, C, H, W).
sim::IMat im2col(const Geo& g, const sim::IMat& x, int64_t n) {
  sim::IMat col(g.L() * g.CRS(), 0);
  for (int64_t oh = 0; oh < g.OH(); ++oh)
    for (int64_t ow = 0; ow < g.OW(); ++ow)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s) {
            const int64_t ih = oh * g.stride - g.pad + r, iw = ow * g.stride - g.pad + s;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
              col[(oh * g.OW() + ow) * g.CRS() + (c * g.R + r) * g.S + s] = x[((n * g.C + c) * g.H + ih) * g.W + iw];
          }
  return col;
}

using test::rand_t;

std::shared_ptr<QuantContext> ctx_for(const QuantConfig& cfg) { return test::ctx_for(cfg, 99, 5); }

TEST(QConv2d, ForwardAndPerSampleWeightGradientMatchSimulation) {
  const Geo g;
  const Tensor xt = rand_t({g.N, g.C, g.H, g.W}, 1), wt = rand_t({g.K, g.C, g.R, g.S}, 2, 0.3f);
  Tensor gt = Tensor::empty({g.N, g.K, g.OH(), g.OW()});
  Rng r(3, 0);
  for (int64_t i = 0; i < gt.numel(); ++i) gt.data<float>()[i] = (static_cast<float>(r.below(61)) - 30.0f) / 32.0f;
  auto ctx = ctx_for(preset("hdqt"));
  Var x(xt, true), w(wt, true);
  const Var y = quantized_conv2d(x, w, Var(), {.stride = g.stride, .padding = g.pad}, ctx);
  y.backward(gt);

  const sim::Q xq = sim::quant_operand(xt.to_vector(), 4, 0.975f, true);
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  const auto yv = y.value().to_vector(), gv = gt.to_vector(), dwv = w.grad().to_vector();
  QuantContext step0 = *ctx;
  step0.step = 0;
  const int64_t L = g.L(), CRS = g.CRS(), K = g.K;
  const auto H = sim::dense_hadamard(L);
  const int64_t h = L & -L;
  sim::Mat dw(K * CRS, 0);
  for (int64_t n = 0; n < g.N; ++n) {
    const sim::IMat col = im2col(g, xq.q, n);
    const sim::IMat acc = sim::tiled_sat_matmul(wq.q, col, K, L, CRS, 8, 32);  // (K, L)
    for (int64_t i = 0; i < K * L; ++i)
      ASSERT_EQ(yv[n * K * L + i], static_cast<float>(acc[i]) * (wq.s * xq.s)) << "sample " << n << " element " << i;
    // dW_n = Q_sr(G_n H_L) · Q_sr(H_L X_col)ᵀ with per-sample scales, streams offset by sample.
    sim::Mat gh(K * L, 0), hx(CRS * L, 0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < L; ++j)
        for (int64_t l = 0; l < L; ++l) gh[k * L + j] += gv[n * K * L + k * L + l] * float(H[l * L + j]);
    for (int64_t c = 0; c < CRS; ++c)
      for (int64_t j = 0; j < L; ++j)
        for (int64_t l = 0; l < L; ++l) hx[c * L + j] += float(H[j * L + l] * col[l * CRS + c]);
    sim::Q gq = sim::quant_max(gh, 4, true, 0, 0), hq = sim::quant_max(hx, 4, true, 0, 0);
    // Re-draw with the layer's streams and per-sample offsets.
    auto redraw = [&](sim::Q& q, const sim::Mat& v, uint64_t stream, uint64_t first) {
      for (size_t e = 0; e < v.size(); ++e)
        q.q[e] = sim::q_one(v[e], q.s, -7, 7, true, sim::sr_uniform(ctx->seed, stream, first + e));
    };
    redraw(gq, gh, sr_stream(step0, SrTensor::grad_weight_g), n * K * L);
    redraw(hq, hx, sr_stream(step0, SrTensor::grad_weight_x), n * CRS * L);
    const sim::IMat a = sim::tiled_sat_matmul(gq.q, hq.q, K, CRS, L, 8, 0);
    for (int64_t i = 0; i < K * CRS; ++i) dw[i] += static_cast<float>(a[i]) * (gq.s * (hq.s * xq.s) * (1.0f / float(h)));
  }
  for (int64_t i = 0; i < K * CRS; ++i) EXPECT_EQ(dwv[i], dw[i]) << "dw element " << i;
  EXPECT_TRUE(x.grad().defined());
}

// Forward, dX and dW of one hdqt conv against the simulation, for any geometry: per-sample
// dX_col = Q_sr(G_nᵀ H_K) · Q_near(H_K W_q)ᵀ scattered back by col2im in position order, and
// per-sample dW summed over samples in order. Run at several thread counts: the layer splits
// samples over threads, and nothing may depend on that. The geometries also take both operand
// orders the layer picks for speed (many positions per channel, more than 32 channels).
void check_conv_against_simulation(const Geo& g, bool relu_input, int threads) {
  Tensor xt = rand_t({g.N, g.C, g.H, g.W}, 11), wt = rand_t({g.K, g.C, g.R, g.S}, 12, 0.3f);
  if (relu_input)
    for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = std::fabs(xt.data<float>()[i]);
  Tensor gt = Tensor::empty({g.N, g.K, g.OH(), g.OW()});
  Rng r(13, 0);
  for (int64_t i = 0; i < gt.numel(); ++i) gt.data<float>()[i] = (static_cast<float>(r.below(61)) - 30.0f) / 32.0f;
  auto ctx = ctx_for(preset("hdqt"));
  const int saved = num_threads();
  set_num_threads(threads);
  Var x(xt, true), w(wt, true);
  const Var y = quantized_conv2d(x, w, Var(), {.stride = g.stride, .padding = g.pad}, ctx);
  y.backward(gt);
  set_num_threads(saved);

  const sim::Q xq = sim::quant_operand(xt.to_vector(), 4, 0.975f, true);
  const sim::Q wq = sim::quant_operand(wt.to_vector(), 4, 0.975f, false);
  const auto yv = y.value().to_vector(), gv = gt.to_vector(), dxv = x.grad().to_vector(), dwv = w.grad().to_vector();
  QuantContext step0 = *ctx;
  step0.step = 0;
  const int64_t L = g.L(), CRS = g.CRS(), K = g.K, hL = L & -L, hK = K & -K;
  const auto HL = sim::dense_hadamard(L), HK = sim::dense_hadamard(K);
  auto redraw = [&](sim::Q& q, const sim::Mat& v, uint64_t stream, uint64_t first) {
    for (size_t e = 0; e < v.size(); ++e)
      q.q[e] = sim::q_one(v[e], q.s, -7, 7, true, sim::sr_uniform(ctx->seed, stream, first + e));
  };
  sim::Mat hw(CRS * K, 0);  // (H_K W_q)ᵀ as (CRS, K), integer valued
  for (int64_t c = 0; c < CRS; ++c)
    for (int64_t j = 0; j < K; ++j)
      for (int64_t k = 0; k < K; ++k) hw[c * K + j] += float(HK[j * K + k] * wq.q[k * CRS + c]);
  const sim::Q hwq = sim::quant_max(hw, 4, false, 0, 0);
  const float op_scale = hwq.s * wq.s / float(hK);
  sim::Mat dx(g.N * g.C * g.H * g.W, 0), dw(K * CRS, 0);
  for (int64_t n = 0; n < g.N; ++n) {
    const sim::IMat col = im2col(g, xq.q, n);
    const sim::IMat acc = sim::tiled_sat_matmul(wq.q, col, K, L, CRS, 8, 32);
    for (int64_t i = 0; i < K * L; ++i)
      ASSERT_EQ(yv[n * K * L + i], static_cast<float>(acc[i]) * (wq.s * xq.s)) << "y sample " << n << " element " << i;
    sim::Mat gth(L * K, 0), gh(K * L, 0), hx(CRS * L, 0);
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < K; ++j)
        for (int64_t k = 0; k < K; ++k) gth[l * K + j] += gv[(n * K + k) * L + l] * float(HK[k * K + j]);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < L; ++j)
        for (int64_t l = 0; l < L; ++l) gh[k * L + j] += gv[(n * K + k) * L + l] * float(HL[l * L + j]);
    for (int64_t c = 0; c < CRS; ++c)
      for (int64_t j = 0; j < L; ++j)
        for (int64_t l = 0; l < L; ++l) hx[c * L + j] += float(HL[j * L + l] * col[l * CRS + c]);
    sim::Q gtq = sim::quant_max(gth, 4, true, 0, 0), gq = sim::quant_max(gh, 4, true, 0, 0);
    sim::Q hq = sim::quant_max(hx, 4, true, 0, 0);
    redraw(gtq, gth, sr_stream(step0, SrTensor::grad_input_g), n * L * K);
    redraw(gq, gh, sr_stream(step0, SrTensor::grad_weight_g), n * K * L);
    redraw(hq, hx, sr_stream(step0, SrTensor::grad_weight_x), n * CRS * L);
    const sim::IMat a = sim::tiled_sat_matmul(gq.q, hq.q, K, CRS, L, 8, 0);
    for (int64_t i = 0; i < K * CRS; ++i) dw[i] += static_cast<float>(a[i]) * (gq.s * (hq.s * xq.s) * (1.0f / float(hL)));
    const sim::IMat ad = sim::tiled_sat_matmul(gtq.q, hwq.q, L, CRS, K, 8, 0);  // (L, CRS)
    for (int64_t oh = 0; oh < g.OH(); ++oh)
      for (int64_t ow = 0; ow < g.OW(); ++ow)
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t rr = 0; rr < g.R; ++rr)
            for (int64_t s = 0; s < g.S; ++s) {
              const int64_t ih = oh * g.stride - g.pad + rr, iw = ow * g.stride - g.pad + s;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              const int64_t l = oh * g.OW() + ow, k = (c * g.R + rr) * g.S + s;
              dx[((n * g.C + c) * g.H + ih) * g.W + iw] += static_cast<float>(ad[l * CRS + k]) * (gtq.s * op_scale * 1.0f);
            }
  }
  for (int64_t i = 0; i < K * CRS; ++i) ASSERT_EQ(dwv[i], dw[i]) << "dw element " << i << " threads " << threads;
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dxv[i], dx[i]) << "dx element " << i << " threads " << threads;
}

TEST(QConv2d, StridedAndPaddedGeometriesMatchSimulationAtAnyThreadCount) {
  const Geo strided{.N = 3, .C = 2, .H = 7, .W = 6, .K = 4, .R = 3, .S = 3, .stride = 2, .pad = 1};
  const Geo pointwise{.N = 5, .C = 3, .H = 5, .W = 5, .K = 8, .R = 1, .S = 1, .stride = 2, .pad = 0};
  const Geo valid{.N = 2, .C = 2, .H = 6, .W = 7, .K = 16, .R = 3, .S = 3, .stride = 1, .pad = 0};
  const Geo wide_pad{.N = 2, .C = 1, .H = 4, .W = 4, .K = 2, .R = 3, .S = 3, .stride = 1, .pad = 2};
  const Geo many_channels{.N = 2, .C = 2, .H = 4, .W = 4, .K = 40, .R = 3, .S = 3, .stride = 1, .pad = 1};
  const Geo five_by_five{.N = 2, .C = 2, .H = 6, .W = 7, .K = 3, .R = 5, .S = 5, .stride = 1, .pad = 2};
  const Geo one_by_one{.N = 2, .C = 5, .H = 3, .W = 4, .K = 6, .R = 1, .S = 1, .stride = 1, .pad = 0};
  // Enough channels × positions that dX is computed and added in several pieces of channels
  // (qconv.cc's kDcolPieceFloats): 10 + 6 channels, and 4 + 2 through the strided col2im.
  const Geo pieces{.N = 2, .C = 16, .H = 12, .W = 14, .K = 8, .R = 3, .S = 3, .stride = 1, .pad = 1};
  const Geo strided_pieces{.N = 2, .C = 6, .H = 40, .W = 40, .K = 4, .R = 3, .S = 3, .stride = 2, .pad = 1};
  // Same-size convs take the fused col2im (qconv.cc): a kernel wider than the image (taps wholly
  // off it, flat offsets not monotonic in the tap) and one with > 48 rows × several 32-column
  // blocks (the GEMM's row chunks and column blocks).
  const Geo kernel_wider{.N = 2, .C = 2, .H = 3, .W = 2, .K = 4, .R = 5, .S = 5, .stride = 1, .pad = 2};
  const Geo fused_blocks{.N = 2, .C = 7, .H = 9, .W = 11, .K = 12, .R = 3, .S = 3, .stride = 1, .pad = 1};
  // ResNet-20's first stage (28×28: a Hadamard block of 16 over the positions, whole 64-column
  // words of tap masks) through the forward and H·X read straight from the sample.
  const Geo stage1{.N = 2, .C = 2, .H = 28, .W = 28, .K = 16, .R = 3, .S = 3, .stride = 1, .pad = 1};
  check_conv_against_simulation(stage1, true, 1);
  for (int threads : {1, 2, 3}) {
    check_conv_against_simulation(kernel_wider, false, threads);
    check_conv_against_simulation(fused_blocks, true, threads);
    check_conv_against_simulation(strided, false, threads);
    check_conv_against_simulation(pointwise, true, threads);
    check_conv_against_simulation(valid, false, threads);
    check_conv_against_simulation(wide_pad, true, threads);
    check_conv_against_simulation(many_channels, false, threads);
    check_conv_against_simulation(five_by_five, true, threads);
    check_conv_against_simulation(one_by_one, false, threads);
    check_conv_against_simulation(pieces, true, threads);
    check_conv_against_simulation(strided_pieces, false, threads);
  }
}

// Per-sample dW of 64·32·9 floats (72 KiB) exceed the sample groups of for_each_sample_summed
// (sample_sum.h) at every thread count: 60 samples run in 2 groups on 2-3 threads and 9 on one,
// each group's sum split over the threads by element slices. Both dW layouts: K = 64 sums
// (K, CRS), K = 32 sums (CRS, K) and transposes.
TEST(QConv2d, BatchesLongerThanASampleGroupMatchSimulationAtAnyThreadCount) {
  const Geo wide{.N = 60, .C = 32, .H = 4, .W = 4, .K = 64, .R = 3, .S = 3, .stride = 1, .pad = 1};
  const Geo deep{.N = 60, .C = 64, .H = 4, .W = 4, .K = 32, .R = 3, .S = 3, .stride = 1, .pad = 1};
  for (int threads : {1, 2, 3}) {
    for (const Geo& g : {wide, deep}) {
      ASSERT_LT(samples_per_group(g.N, g.K * g.CRS(), threads), g.N) << "threads " << threads;
      check_conv_against_simulation(g, true, threads);
    }
  }
}

// A layer keeps its same-size tables (tap masks, fused col2im rows) between calls while the
// geometry stays: calls on one context with other batch sizes, image sizes and a stride-2
// geometry in between give bit for bit what a fresh context at the same step gives.
TEST(QConv2d, ReusedContextAcrossGeometriesMatchesFreshContexts) {
  struct Call {
    int64_t N, H, W, stride;
  };
  auto run = [](const Call& c, const std::shared_ptr<QuantContext>& ctx) {
    const Tensor xt = rand_t({c.N, 3, c.H, c.W}, 10 + static_cast<uint64_t>(c.H)), wt = rand_t({4, 3, 3, 3}, 2, 0.3f);
    Var x(xt, true), w(wt, true);
    const Var y = quantized_conv2d(x, w, Var(), {.stride = c.stride, .padding = 1}, ctx);
    y.backward(rand_t(y.value().shape(), 20));
    std::vector<float> out = y.value().to_vector();
    for (const Var* v : {&x, &w}) {
      const auto gv = v->grad().to_vector();
      out.insert(out.end(), gv.begin(), gv.end());
    }
    return out;
  };
  const auto reused = ctx_for(preset("hdqt"));
  const Call calls[] = {{2, 6, 5, 1}, {3, 6, 5, 1}, {2, 7, 7, 1}, {2, 7, 7, 2}, {1, 6, 5, 1}, {2, 7, 7, 1}};
  for (size_t i = 0; i < std::size(calls); ++i) {
    const auto fresh = ctx_for(preset("hdqt"));
    fresh->step = reused->step;
    const std::vector<float> want = run(calls[i], fresh), got = run(calls[i], reused);
    EXPECT_EQ(got, want) << "call " << i;
  }
}

TEST(QConv2d, EightBitExactIsCloseToFloat) {
  // int8 preset: 8-bit codes, exact 32-bit accumulators, no Hadamard. The output error is the
  // quantization error: |dy| <= sum |x||w| * (2^-7 + 2^-7) roughly; check against that bound.
  const Tensor xt = rand_t({2, 3, 7, 7}, 4), wt = rand_t({5, 3, 3, 3}, 5, 0.2f);
  const Var yq = quantized_conv2d(Var(xt), Var(wt), Var(), {.stride = 2, .padding = 1}, ctx_for(preset("int8")));
  const Var yf = conv2d(Var(xt), Var(wt), Var(), {.stride = 2, .padding = 1});
  const auto a = yq.value().to_vector(), b = yf.value().to_vector();
  float xmax = 0, wmax = 0;
  for (float v : xt.to_vector()) xmax = std::max(xmax, std::fabs(v));
  for (float v : wt.to_vector()) wmax = std::max(wmax, std::fabs(v));
  const float bound = 27 * xmax * wmax * (2.0f / 127.0f + 0.025f);  // rounding + 2.5 % clip of the max
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], bound);
}

TEST(QConv2d, RejectsUnsupportedGeometry) {
  EXPECT_THROW(quantized_conv2d(Var(rand_t({1, 4, 5, 5}, 1)), Var(rand_t({4, 2, 3, 3}, 2)), Var(), {.groups = 2},
                                ctx_for(preset("hdqt"))),
               ValueError);
  // A zero stride or a negative pad is an error, not a division by zero or a read off the sample.
  EXPECT_THROW(quantized_conv2d(Var(rand_t({1, 2, 5, 5}, 1)), Var(rand_t({4, 2, 3, 3}, 2)), Var(), {.stride = 0},
                                ctx_for(preset("hdqt"))),
               ValueError);
  EXPECT_THROW(quantized_conv2d(Var(rand_t({1, 2, 5, 5}, 1)), Var(rand_t({4, 2, 3, 3}, 2)), Var(), {.padding = -1},
                                ctx_for(preset("hdqt"))),
               ValueError);
}

}  // namespace
}  // namespace lowbit::fqt
