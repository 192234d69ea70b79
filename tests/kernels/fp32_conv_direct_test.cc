// The AVX-512 direct convolution behind ConvPlan (LOWBIT_CONV=direct) against the reference conv
// plus the epilogue in plain loops: dense and depthwise (the in-place channels-last kernel: border
// and interior tiles), strides 1-2, symmetric, asymmetric and oversized padding, 1×1 to 7×7, C and
// K off multiples of 16 (masked tails, every register-block width), every epilogue (HardSwish and
// SiLU too), both layouts, 1 and 2 threads; and the LOWBIT_CONV setting itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/error.h"
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

ConvGeom geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t stride, int64_t pad,
              int64_t groups = 1) {
  return ConvGeom::conv2d(N, C, H, W, K, R, R).strides(stride, stride).pads(pad, pad).grouped(groups);
}

// Restores the path setting and thread count a test changed.
struct Restore {
  int threads = num_threads();
  ~Restore() {
    reset_conv_plan_path();
    set_num_threads(threads);
  }
};

// Tolerance as in fp32_conv_plan_test: reduction length C/g·R·S plus bias and residual; for
// HardSwish and SiLU (slopes at most 1.5 and 1.1) that bound grown 1.5x plus a few ulp of
// |v| + |y| for their own evaluation (SiLU: exp16, within a few ulp of fast_exp, then a divide).
void check_direct(const ConvGeom& s, const ConvEpilogue& ep, ConvLayout xl, ConvLayout yl, bool with_bias) {
  const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
  const auto x = random_floats(s.N * s.C * HW, 51), w = random_floats(s.K * (s.C / s.groups) * s.R() * s.S(), 52);
  const auto b = random_floats(s.K, 53), r = random_floats(s.N * s.K * OHW, 54);
  const float* bias = with_bias ? b.data() : nullptr;
  std::vector<float> want(r.size()), mag(r.size());
  ref::conv2d_forward(s, x.data(), w.data(), bias, want.data());
  const auto ax = abs_of(x), aw = abs_of(w), ab = abs_of(b);
  ref::conv2d_forward(s, ax.data(), aw.data(), with_bias ? ab.data() : nullptr, mag.data());
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
  std::vector<float> y = ep.sum ? (yn ? relayout(r, true, s.N, s.K, OHW) : r) : std::vector<float>(r.size(), NAN);
  ConvPlan plan(s, w.data(), bias, ep, xl, yl);
  const std::string what = "direct N" + std::to_string(s.N) + " C" + std::to_string(s.C) + " " +
                           std::to_string(s.H()) + "x" + std::to_string(s.W()) + " K" + std::to_string(s.K) + " R" +
                           std::to_string(s.R()) + "x" + std::to_string(s.S()) + " s" + std::to_string(s.stride_h()) +
                           " pads " + std::to_string(s.pad_t()) + "," + std::to_string(s.pad_l()) + "," +
                           std::to_string(s.pad_b()) + "," + std::to_string(s.pad_r()) + " g" +
                           std::to_string(s.groups) + " sum" + std::to_string(ep.sum) + " act" +
                           std::to_string(int(ep.act)) + " x" + std::to_string(int(xl)) + " y" +
                           std::to_string(int(yl)) + " threads" + std::to_string(num_threads());
  ASSERT_TRUE(plan.uses_direct()) << what;
  plan.run(x_in.data(), y.data());
  if (yn) y = relayout(y, false, s.N, s.K, OHW);
  expect_close(y, want, mag, L, what);
}

const ConvGeom kDense[] = {
    geom(1, 3, 17, 15, 16, 3, 2, 1),                         // stem: 3 channels, stride 2
    geom(2, 16, 9, 9, 16, 3, 1, 1),                          // one block, two images
    geom(1, 17, 9, 11, 33, 3, 2, 1),                         // C and K off 16: masked last block
    geom(1, 20, 5, 7, 70, 1, 1, 0),                          // 1×1, 5 blocks = 4 + 1
    geom(2, 16, 8, 8, 32, 1, 2, 0),                          // 1×1 stride 2, no copy
    geom(1, 5, 11, 9, 24, 5, 1, 2),                          // 5×5
    geom(1, 3, 15, 13, 20, 7, 2, 3),                         // 7×7 stride 2 stem
    geom(1, 16, 3, 53, 16, 3, 1, 1),                         // 53 wide: tiles of 24 (NB 1)
    geom(1, 8, 4, 30, 48, 3, 1, 1),                          // NB 3, tiles of 8
    geom(1, 7, 6, 6, 64, 3, 1, 1),                           // NB 4
    geom(1, 9, 4, 5, 19, 1, 1, 1),                           // 1×1 with padding: border rows/cols bias only
    geom(1, 6, 8, 9, 17, 3, 2, 0).pads(0, 1, 1, 0),          // asymmetric padding
    geom(1, 4, 2, 3, 16, 5, 1, 3),                           // kernel larger than the input
    geom(1, 16, 11, 10, 32, 3, 1, 1).strides(3, 2),          // row stride 3
};

const ConvGeom kDepthwise[] = {
    geom(2, 16, 10, 10, 16, 3, 1, 1, 16),  // one block
    geom(1, 24, 9, 9, 24, 3, 2, 1, 24),    // stride 2, masked tail
    geom(1, 40, 14, 13, 40, 5, 2, 2, 40),  // 5×5 stride 2, three blocks
    geom(1, 7, 5, 5, 7, 7, 1, 3, 7),       // kernel wider than the image: border pixels only
    geom(3, 32, 7, 21, 32, 3, 1, 1, 32),   // several 8-pixel tiles, three images
    geom(1, 16, 6, 7, 16, 3, 1, 0, 16).pads(1, 0, 0, 1),
    geom(1, 72, 12, 29, 72, 3, 2, 1, 72),  // 14 interior columns: a tile of 8 and one of 6
    geom(1, 8, 5, 19, 8, 5, 1, 2, 8),      // 5×5, fewer than 16 channels, 15 interior columns
    geom(2, 33, 4, 4, 33, 5, 2, 2, 33),    // 5×5 stride 2 on 4×4: no interior column
    geom(1, 16, 7, 9, 16, 3, 1, 3, 16),    // padding 3: whole border rows and columns
};

const ConvEpilogue kEpilogues[] = {
    {},
    {false, ConvEpilogue::Act::relu},
    {true, ConvEpilogue::Act::relu},
    {false, ConvEpilogue::Act::clip, -0.25f, 0.5f},
    {true, ConvEpilogue::Act::none},
    {false, ConvEpilogue::Act::hardswish},
    {true, ConvEpilogue::Act::silu},
};

bool have_direct() { return active_isa() >= Isa::avx512; }

TEST(Fp32ConvDirect, DenseMatchesReference) {
  if (!have_direct()) GTEST_SKIP() << "no AVX-512 path on this CPU";
  Restore restore;
  set_conv_plan_path(ConvPlanPath::direct);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvGeom& s : kDense) {
      for (const ConvEpilogue& ep : kEpilogues) check_direct(s, ep, ConvLayout::nhwc, ConvLayout::nhwc, true);
      check_direct(s, kEpilogues[2], ConvLayout::nchw, ConvLayout::nchw, false);
      check_direct(s, kEpilogues[4], ConvLayout::nhwc, ConvLayout::nchw, true);
      check_direct(s, kEpilogues[1], ConvLayout::nchw, ConvLayout::nhwc, true);
    }
  }
}

TEST(Fp32ConvDirect, DepthwiseMatchesReference) {
  if (!have_direct()) GTEST_SKIP() << "no AVX-512 path on this CPU";
  Restore restore;
  set_conv_plan_path(ConvPlanPath::direct);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvGeom& s : kDepthwise) {
      for (const ConvEpilogue& ep : kEpilogues) check_direct(s, ep, ConvLayout::nhwc, ConvLayout::nhwc, true);
      check_direct(s, kEpilogues[2], ConvLayout::nchw, ConvLayout::nchw, false);
      check_direct(s, kEpilogues[3], ConvLayout::nhwc, ConvLayout::nchw, true);
    }
  }
}

TEST(Fp32ConvDirect, PathSettingChoosesTheImplementation) {
  Restore restore;
  const ConvGeom dense = geom(1, 16, 8, 8, 16, 3, 1, 1), dilated = geom(1, 16, 8, 8, 16, 3, 1, 2).dilations(2, 2);
  const auto w = random_floats(16 * 16 * 9, 61);
  set_conv_plan_path(ConvPlanPath::onednn);
  EXPECT_FALSE(ConvPlan(dense, w.data(), nullptr).uses_direct());
  set_conv_plan_path(ConvPlanPath::direct);
  EXPECT_EQ(ConvPlan(dense, w.data(), nullptr).uses_direct(), have_direct());
  EXPECT_FALSE(ConvPlan(dilated, w.data(), nullptr).uses_direct());  // not a direct geometry: oneDNN
  EXPECT_FALSE(ConvPlan(geom(1, 16, 9, 9, 16, 3, 3, 1), w.data(), nullptr).uses_direct());  // stride 3
  const ConvPlan bf16(dense, w.data(), nullptr, {}, ConvLayout::nchw, ConvLayout::nchw, PlanMath::bf16);
  EXPECT_FALSE(bf16.uses_direct());  // bf16 math stays on oneDNN
  // The measured rule (docs/BENCHMARKS.md): batch 1, k×k, at most 64 channels, small planes.
  set_conv_plan_path(ConvPlanPath::automatic);
  EXPECT_EQ(ConvPlan(dense, w.data(), nullptr).uses_direct(), have_direct());
  EXPECT_FALSE(ConvPlan(geom(8, 16, 8, 8, 16, 3, 1, 1), w.data(), nullptr).uses_direct());  // batch 8
  EXPECT_FALSE(ConvPlan(geom(1, 16, 8, 8, 16, 1, 1, 0), w.data(), nullptr).uses_direct());  // 1×1
  EXPECT_FALSE(ConvPlan(geom(1, 16, 8, 8, 16, 3, 1, 1, 16), w.data(), nullptr).uses_direct());  // depthwise
}

TEST(Fp32ConvDirect, EnvironmentVariableIsValidated) {
  Restore restore;
  const char* saved = std::getenv("LOWBIT_CONV");
  const std::string old = saved ? saved : "";
  setenv("LOWBIT_CONV", "fastest", 1);
  set_conv_plan_path(ConvPlanPath::automatic);
  EXPECT_EQ(conv_plan_path(), ConvPlanPath::automatic);  // an explicit setting wins
  reset_conv_plan_path();
  EXPECT_THROW(conv_plan_path(), ValueError);
  const auto w = random_floats(16 * 16 * 9, 62);
  EXPECT_THROW(ConvPlan(geom(1, 16, 8, 8, 16, 3, 1, 1), w.data(), nullptr), ValueError);
  setenv("LOWBIT_CONV", "onednn", 1);
  EXPECT_EQ(conv_plan_path(), ConvPlanPath::onednn);
  setenv("LOWBIT_CONV", "direct", 1);
  EXPECT_EQ(conv_plan_path(), ConvPlanPath::direct);
  setenv("LOWBIT_CONV", "auto", 1);
  EXPECT_EQ(conv_plan_path(), ConvPlanPath::automatic);
  if (saved) setenv("LOWBIT_CONV", old.c_str(), 1);
  else unsetenv("LOWBIT_CONV");
}

}  // namespace
}  // namespace lowbit::kernels
