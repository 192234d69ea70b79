// ConvPlan (prepacked inference conv) against the reference conv followed by the epilogue in
// plain loops: every layout pair, sum/ReLU/Clip/HardSwish/SiLU epilogues, odd shapes, both thread
// counts, the convs run as one GEMM (both forms, forced and by the rule), and the fallback path
// (a plan built under Isa::ref never uses oneDNN); and the channels-last max pooling that sits
// between planned convs, bit for bit against the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32_conv_plan.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

using testing::abs_of;
using testing::expect_close;
using testing::random_floats;
using testing::relayout;

ConvGeom shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t stride, int64_t pad,
                  int64_t groups = 1, int64_t dil = 1) {
  return ConvGeom::conv2d(N, C, H, W, K, R, R).strides(stride, stride).pads(pad, pad).grouped(groups).dilations(dil, dil);
}

std::string describe(const ConvGeom& s, const ConvEpilogue& ep, ConvLayout xl, ConvLayout yl) {
  return "plan N" + std::to_string(s.N) + " C" + std::to_string(s.C) + " " + std::to_string(s.H()) + "x" +
         std::to_string(s.W()) + " K" + std::to_string(s.K) + " R" + std::to_string(s.R()) + " s" +
         std::to_string(s.stride_h()) + " p" + std::to_string(s.pad_t()) + " g" + std::to_string(s.groups) + " sum" +
         std::to_string(ep.sum) + " act" + std::to_string(int(ep.act)) + " x" + std::to_string(int(xl)) + " y" +
         std::to_string(int(yl));
}

// Reduction length C/g*R*S + bias + residual; ReLU and Clip are 1-Lipschitz, so the bound of
// the sum carries over to the epilogue's output. HardSwish and SiLU are evaluated in double on
// the reference sum v; their slopes are at most 1.5 (HardSwish, (2v + 3) / 6 on [-3, 3]) and
// 1.1 (SiLU), so the sum's error grows by at most 1.5x, and their own evaluation (oneDNN's
// post-op: a few roundings and, for SiLU, its exp approximation) adds a few ulp of |v| + |y|.
// Returns what the plan ran on ("direct", "gemm", "onednn" or "fallback"); bias false: none.
std::string check_plan(const ConvGeom& s, const ConvEpilogue& ep, ConvLayout xl, ConvLayout yl, bool bias = true) {
  const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
  const int64_t xs = s.N * s.C * HW, ws = s.K * (s.C / s.groups) * s.R() * s.S(), ys = s.N * s.K * OHW;
  const auto x = random_floats(xs, 21), w = random_floats(ws, 22);
  const auto b = bias ? random_floats(s.K, 23) : std::vector<float>(s.K, 0.0f);
  const auto r = random_floats(ys, 24);
  std::vector<float> want(ys), mag(ys);
  ref::conv2d_forward(s, x.data(), w.data(), b.data(), want.data());
  const auto ax = abs_of(x), aw = abs_of(w), ab = abs_of(b);
  ref::conv2d_forward(s, ax.data(), aw.data(), ab.data(), mag.data());
  const double L = double(s.C / s.groups * s.R() * s.S() + 2);
  for (size_t i = 0; i < want.size(); ++i) {
    if (ep.sum) want[i] += r[i], mag[i] += std::fabs(r[i]);
    if (ep.act == ConvEpilogue::Act::relu) want[i] = std::max(want[i], 0.0f);
    if (ep.act == ConvEpilogue::Act::clip) want[i] = std::min(std::max(want[i], ep.lo), ep.hi);
    const double v = want[i];
    if (ep.act == ConvEpilogue::Act::hardswish) want[i] = float(v * std::min(std::max(v + 3, 0.0), 6.0) / 6);
    if (ep.act == ConvEpilogue::Act::silu) want[i] = float(v / (1 + std::exp(-v)));
    if (ep.act == ConvEpilogue::Act::hardswish || ep.act == ConvEpilogue::Act::silu)
      mag[i] = float(1.5 * mag[i] + 8 * (std::fabs(v) + std::fabs(want[i])) / L);
  }
  const bool xn = xl == ConvLayout::nhwc, yn = yl == ConvLayout::nhwc;
  const auto x_in = xn ? relayout(x, true, s.N, s.C, HW) : x;
  std::vector<float> y = ep.sum ? (yn ? relayout(r, true, s.N, s.K, OHW) : r) : std::vector<float>(ys, NAN);
  ConvPlan plan(s, w.data(), bias ? b.data() : nullptr, ep, xl, yl);
  const std::string path = plan.uses_direct() ? "direct"
                           : plan.uses_gemm() ? "gemm"
                           : plan.uses_onednn() ? "onednn"
                                                : "fallback";
  const std::string what = describe(s, ep, xl, yl) + " bias" + std::to_string(bias) + " " + path;
  plan.run(x_in.data(), y.data());
  if (yn) y = relayout(y, false, s.N, s.K, OHW);
  expect_close(y, want, mag, L, what);
  return path;
}

const ConvGeom kShapes[] = {
    shape(1, 3, 17, 17, 16, 3, 2, 1),      // stem: 3 input channels, stride 2
    shape(2, 16, 9, 9, 16, 3, 1, 1),       // same-size 3x3
    shape(1, 17, 7, 11, 33, 1, 1, 0),      // pointwise, odd channels
    shape(2, 32, 8, 8, 64, 1, 2, 0),       // 1x1 stride-2 shortcut
    shape(2, 32, 10, 10, 32, 3, 1, 1, 32), // depthwise
    shape(1, 24, 9, 9, 24, 3, 2, 1, 24),   // depthwise stride 2, channels not a multiple of 16
    shape(1, 6, 11, 13, 9, 3, 2, 1, 3),    // groups 3
    shape(1, 4, 12, 12, 4, 3, 1, 2, 1, 2), // dilation 2
};

const ConvEpilogue kEpilogues[] = {
    {},
    {false, ConvEpilogue::Act::relu},
    {true, ConvEpilogue::Act::relu},
    {false, ConvEpilogue::Act::clip, 0.0f, 0.5f},
    {true, ConvEpilogue::Act::none},
    {false, ConvEpilogue::Act::hardswish},
    {true, ConvEpilogue::Act::silu},
};

TEST(Fp32ConvPlan, MatchesReferenceEveryLayoutAndEpilogue) {  // oneDNN, then the measured rule
  for (ConvPlanPath path : {ConvPlanPath::onednn, ConvPlanPath::automatic}) {
    set_conv_plan_path(path);
    for (const ConvGeom& s : kShapes)
      for (const ConvEpilogue& ep : kEpilogues)
        for (ConvLayout xl : {ConvLayout::nchw, ConvLayout::nhwc})
          for (ConvLayout yl : {ConvLayout::nchw, ConvLayout::nhwc}) check_plan(s, ep, xl, yl);
  }
  reset_conv_plan_path();
}

// The convs that are one GEMM (LOWBIT_CONV=gemm): 1×1 convs with pixels as rows, and convs whose
// windows cover the whole plane with the conv unrolled (3×3 pad 1 on 2×2 and 2×1, 5×5 pad 2 on
// 3×3, 3×3 on 1×1, stride 2 on 2×2); channel counts off the 16-lane blocks, batch 1/3/8, with and
// without bias, every epilogue.
TEST(Fp32ConvPlan, GemmPathMatchesReferenceOnOddShapes) {
  const bool library = active_isa() != Isa::ref;
  const ConvGeom geoms[] = {
      shape(1, 17, 2, 2, 33, 1, 1, 0), shape(1, 64, 3, 3, 250, 1, 1, 0), shape(1, 5, 4, 4, 7, 1, 1, 0),
      shape(1, 130, 7, 7, 18, 1, 1, 0), shape(1, 1, 1, 1, 1, 1, 1, 0),  // pixels
      shape(1, 17, 2, 2, 33, 3, 1, 1), shape(1, 9, 2, 1, 18, 3, 1, 1), shape(1, 5, 3, 3, 7, 5, 1, 2),
      shape(1, 20, 1, 1, 3, 3, 1, 1), shape(1, 6, 2, 2, 11, 3, 2, 1),  // images
  };
  set_conv_plan_path(ConvPlanPath::gemm);
  for (int64_t N : {1, 3, 8})
    for (ConvGeom s : geoms)
      for (const ConvEpilogue& ep : kEpilogues)
        for (bool bias : {true, false}) {
          s.N = N;
          const std::string path = check_plan(s, ep, ConvLayout::nhwc, ConvLayout::nhwc, bias);
          if (library) {
            EXPECT_EQ(path, "gemm") << describe(s, ep, ConvLayout::nhwc, ConvLayout::nhwc);
          }
        }
  reset_conv_plan_path();
}

// Which geometries the GEMM takes: forced, only dense unpadded 1×1 convs (strided ones after a
// gather) and convs whose windows cover the plane, on channels-last x and y in fp32; automatic,
// the stride-1 1×1 ones on planes of at most 16 pixels, the strided ones from 32 input channels
// and the covering ones from batch 4.
TEST(Fp32ConvPlan, GemmPathOnlyWhereTheGeometryIsAGemm) {
  if (active_isa() == Isa::ref) GTEST_SKIP() << "no library paths under LOWBIT_ISA=ref";
  const auto w = random_floats(512 * 1024 * 9, 5);  // enough for every geometry below
  const auto nhwc = ConvLayout::nhwc, nchw = ConvLayout::nchw;
  auto gemm = [&](const ConvGeom& s, ConvLayout xl = ConvLayout::nhwc, ConvLayout yl = ConvLayout::nhwc,
                  PlanMath math = PlanMath::f32) { return ConvPlan(s, w.data(), nullptr, {}, xl, yl, math).uses_gemm(); };
  set_conv_plan_path(ConvPlanPath::gemm);
  EXPECT_TRUE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 0)));
  EXPECT_TRUE(gemm(shape(2, 16, 9, 9, 32, 1, 2, 0)));       // stride 2: gather + GEMM
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 2, 1)));      // stride 2, padded
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 1)));      // padded
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 3, 1, 1)));      // 3×3
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 0, 4)));   // grouped
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 0), nchw, nhwc));
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 0), nhwc, nchw));
  EXPECT_FALSE(gemm(shape(2, 16, 9, 9, 32, 1, 1, 0), nhwc, nhwc, PlanMath::bf16));
  EXPECT_TRUE(gemm(shape(2, 16, 2, 2, 32, 3, 1, 1)));
  EXPECT_FALSE(gemm(shape(2, 16, 3, 3, 32, 3, 1, 1)));  // corners miss part of the plane
  EXPECT_FALSE(gemm(shape(2, 16, 2, 2, 32, 3, 1, 1, 4)));
  EXPECT_FALSE(gemm(shape(2, 16, 2, 2, 32, 3, 1, 1), nchw, nchw));
  EXPECT_FALSE(gemm(shape(2, 512, 2, 2, 1024, 3, 1, 1)));  // unrolled weights over 16 MiB
  set_conv_plan_path(ConvPlanPath::automatic);
  EXPECT_TRUE(gemm(shape(16, 64, 2, 2, 64, 1, 1, 0)));
  EXPECT_TRUE(gemm(shape(1, 64, 4, 4, 64, 1, 1, 0)));
  EXPECT_FALSE(gemm(shape(16, 64, 5, 5, 64, 1, 1, 0)));  // 25 pixels: the conv, at parity
  EXPECT_FALSE(gemm(shape(1, 64, 56, 56, 64, 1, 1, 0)));
  EXPECT_TRUE(gemm(shape(4, 64, 2, 2, 64, 3, 1, 1)));
  EXPECT_FALSE(gemm(shape(2, 64, 2, 2, 64, 3, 1, 1)));  // batch 2: the conv
  EXPECT_TRUE(gemm(shape(16, 32, 28, 28, 64, 1, 2, 0)));  // strided 1×1 from 32 channels: gather + GEMM
  EXPECT_FALSE(gemm(shape(16, 16, 28, 28, 32, 1, 2, 0)));  // 16 channels: the conv
  set_conv_plan_path(ConvPlanPath::onednn);
  EXPECT_FALSE(gemm(shape(16, 64, 2, 2, 64, 1, 1, 0)));
  reset_conv_plan_path();
}

// Strided 1×1 convs (fp32_conv_strided.h): the sampled pixels gathered into a panel, then one
// GEMM; odd planes (the last row and column sampled or not), strides (2, 2), (3, 3), (2, 1) and
// (1, 2), channel counts off the 16-lane blocks, batch 1/3/8, bias or none, every epilogue
// including the residual sum, 1 and 2 threads; forced and under the measured rule.
TEST(Fp32ConvPlan, Strided1x1GatherGemmMatchesReference) {
  const bool library = active_isa() != Isa::ref;
  const int saved = num_threads();
  auto strided = [](int64_t C, int64_t H, int64_t W, int64_t K, int64_t sh, int64_t sw) {
    return ConvGeom::conv2d(1, C, H, W, K, 1, 1).strides(sh, sw);
  };
  const ConvGeom geoms[] = {strided(17, 7, 9, 33, 2, 2),  strided(32, 8, 8, 64, 2, 2), strided(5, 11, 5, 130, 3, 3),
                            strided(48, 6, 7, 20, 2, 1),  strided(3, 5, 6, 16, 1, 2),  strided(128, 1, 1, 16, 2, 2)};
  for (ConvPlanPath path : {ConvPlanPath::gemm, ConvPlanPath::automatic}) {
    set_conv_plan_path(path);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (int64_t N : {1, 3, 8})
        for (ConvGeom s : geoms)
          for (const ConvEpilogue& ep : kEpilogues)
            for (bool bias : {true, false}) {
              s.N = N;
              const std::string ran = check_plan(s, ep, ConvLayout::nhwc, ConvLayout::nhwc, bias);
              if (library && path == ConvPlanPath::gemm) {
                EXPECT_EQ(ran, "gemm") << describe(s, ep, ConvLayout::nhwc, ConvLayout::nhwc);
              }
            }
    }
  }
  set_num_threads(saved);
  reset_conv_plan_path();
}

TEST(Fp32ConvPlan, UsesOneDnnAndSurvivesThreadChange) {
  const int saved = num_threads();
  const ConvGeom s = shape(2, 16, 9, 9, 32, 3, 1, 1);
  const auto x = random_floats(s.N * s.C * s.H() * s.W(), 31), w = random_floats(s.K * s.C * 9, 32);
  std::vector<float> y1(s.N * s.K * 81), y2(y1.size()), want(y1.size()), mag(y1.size());
  set_num_threads(1);
  set_conv_plan_path(ConvPlanPath::onednn);
  ConvPlan plan(s, w.data(), nullptr);
  reset_conv_plan_path();
  if (active_isa() != Isa::ref) {
    EXPECT_TRUE(plan.uses_onednn());
  }
  plan.run(x.data(), y1.data());
  set_num_threads(2);  // rebuilds the primitive and repacks from the packed weights
  plan.run(x.data(), y2.data());
  set_num_threads(saved);
  ref::conv2d_forward(s, x.data(), w.data(), nullptr, want.data());
  const auto ax = abs_of(x), aw = abs_of(w);
  ref::conv2d_forward(s, ax.data(), aw.data(), nullptr, mag.data());
  expect_close(y1, want, mag, double(s.C * 9 + 1), "plan 1 thread");
  expect_close(y2, want, mag, double(s.C * 9 + 1), "plan after switching to 2 threads");
}

TEST(Fp32ConvPlan, FallbackWithoutOneDnn) {
  const Isa saved = active_isa();
  set_active_isa(Isa::ref);  // plans built now skip oneDNN
  for (const ConvEpilogue& ep : kEpilogues) check_plan(kShapes[1], ep, ConvLayout::nhwc, ConvLayout::nchw);
  set_conv_plan_path(ConvPlanPath::gemm);  // a 1×1 conv the GEMM would take: the fallback too
  EXPECT_EQ(check_plan(shape(3, 17, 2, 2, 33, 1, 1, 0), kEpilogues[2], ConvLayout::nhwc, ConvLayout::nhwc), "fallback");
  reset_conv_plan_path();
  check_plan(kShapes[4], kEpilogues[2], ConvLayout::nchw, ConvLayout::nhwc);
  set_active_isa(saved);
}

void check_max_pool_f32() {  // channels-last and the NCHW inference kernel
  // {C, H, k, stride, pad, ceil}: ceil adds a last window clipped to the input (ceil_mode).
  for (const auto& [C, H, k, stride, pad, ceil] : std::vector<std::array<int64_t, 6>>{
           {16, 12, 3, 2, 1, 0}, {3, 7, 2, 2, 0, 0}, {33, 9, 3, 1, 1, 0}, {8, 5, 5, 3, 2, 0}, {5, 8, 3, 2, 0, 1}, {4, 11, 3, 2, 1, 1},
           {48, 6, 3, 2, 1, 0},    // C = 48: channel blocks of 32 and 16, no tail
           {24, 13, 3, 2, 1, 0},   // ShuffleNet's stem pool: one 16-block and one 8-block
           {29, 9, 3, 2, 1, 1},    // 16 + 8 + 5 single channels
           {127, 9, 3, 2, 1, 0},   // blocks of 64, 32, 16 and 8, then 7 single channels
           {32, 14, 3, 2, 1, 0}}) {  // the ParaDnn stem pool's channels and window
    ConvGeom s = ConvGeom::pool2d(2, C, H, H + 1, k, k).strides(stride, stride).pads(pad, pad);
    if (ceil) s.out[0] = (H + 2 * pad - k + stride - 1) / stride + 1, s.out[1] = (H + 1 + 2 * pad - k + stride - 1) / stride + 1;
    const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
    auto x = random_floats(s.N * C * HW, 41);
    x[5] = NAN;  // NaNs, ties and signed zeros resolve as in the reference
    x[6] = x[7];
    x[30] = 0.0f, x[31] = -0.0f, x[32] = -0.0f, x[33] = 0.0f;
    for (int64_t i = 40; i < 60; ++i) x[static_cast<size_t>(i)] = -0.0f;
    std::vector<float> want(s.N * C * OHW), y(want.size());
    std::vector<int32_t> argmax(want.size());
    ref::maxpool2d_forward(s, x.data(), want.data(), argmax.data());
    maxpool2d_forward_nhwc(s, relayout(x, true, s.N, C, HW).data(), y.data());
    y = relayout(y, false, s.N, C, OHW);
    std::vector<float> y_nchw(want.size());
    maxpool2d_infer(s, x.data(), y_nchw.data());  // NCHW, no argmax
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(y[i] == want[i] || (std::isnan(y[i]) && std::isnan(want[i]))) << "C" << C << " H" << H << " at " << i;
      ASSERT_EQ(std::signbit(y[i]), std::signbit(want[i])) << "NHWC signed zero, C" << C << " at " << i;
      ASSERT_TRUE(y_nchw[i] == want[i] || (std::isnan(y_nchw[i]) && std::isnan(want[i]))) << "NCHW C" << C << " H" << H << " at " << i;
      ASSERT_EQ(std::signbit(y_nchw[i]), std::signbit(want[i])) << "NCHW signed zero at " << i;
    }
  }
}

TEST(Fp32PoolNhwc, MaxPoolMatchesReferenceBitForBit) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    check_max_pool_f32();
  }
  set_num_threads(1);
}

// Max pooling of quantized codes (the QDQ lowering pools uint8/int8 codes directly): NCHW and
// channels-last against the reference loop on the same codes, including windows cut by padding.
template <typename T>
void check_code_pool() {
  for (const auto& [C, H, k, stride, pad] : std::vector<std::array<int64_t, 5>>{
           {16, 12, 3, 2, 1}, {3, 7, 2, 2, 0}, {33, 9, 3, 1, 1}, {8, 5, 5, 3, 2}, {5, 1, 1, 1, 0}}) {
    const ConvGeom s = ConvGeom::pool2d(2, C, H, H + 2, k, k).strides(stride, stride).pads(pad, pad);
    const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
    std::vector<T> x(static_cast<size_t>(s.N * C * HW)), nhwc(x.size());
    Rng rng(43, static_cast<uint64_t>(C));
    for (auto& v : x) v = static_cast<T>(static_cast<int>(rng.below(256)) + std::numeric_limits<T>::lowest());
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < HW; ++i) nhwc[static_cast<size_t>((n * HW + i) * C + c)] = x[static_cast<size_t>((n * C + c) * HW + i)];
    std::vector<T> want(static_cast<size_t>(s.N * C * OHW)), y(want.size()), y_nhwc(want.size());
    std::vector<int32_t> argmax(want.size());
    ref::maxpool2d_forward(s, x.data(), want.data(), argmax.data());
    maxpool2d_infer(s, x.data(), y.data());
    maxpool2d_forward_nhwc(s, nhwc.data(), y_nhwc.data());
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < OHW; ++i) {
          const size_t at = static_cast<size_t>((n * C + c) * OHW + i);
          ASSERT_EQ(y[at], want[at]) << "NCHW C" << C << " H" << H << " k" << k << " at " << at;
          ASSERT_EQ(y_nhwc[static_cast<size_t>((n * OHW + i) * C + c)], want[at]) << "NHWC C" << C << " at " << at;
        }
  }
}

TEST(PoolCodes, MaxPoolOfUint8AndInt8CodesMatchesReference) {
  check_code_pool<uint8_t>();
  check_code_pool<int8_t>();
}

}  // namespace
}  // namespace lowbit::kernels
