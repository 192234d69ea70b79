// bf16 arithmetic of the layer plans: rounding to bfloat16 (ties to even, NaN, overflow), and
// ConvPlan / MatmulPlan with PlanMath::bf16 against the fp32 reference on bf16-rounded inputs
// and weights — on oneDNN and on the fallback (Isa::ref) — and measurably different from fp32
// math on the unrounded inputs, so a plan that ignored the setting would fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/kernels/bf16.h"
#include "lowbit/kernels/fp32_conv_plan.h"
#include "lowbit/kernels/fp32_matmul_plan.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;

std::vector<float> rounded(std::vector<float> v) {
  round_to_bf16(static_cast<int64_t>(v.size()), v.data(), v.data());
  return v;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(Bf16, RoundsToNearestEven) {
  const float one = 1.0f, ulp = std::ldexp(1.0f, -7);  // bfloat16 keeps 7 fraction bits
  EXPECT_EQ(round_to_bf16(one), one);
  EXPECT_EQ(round_to_bf16(one + ulp / 2), one);                  // tie: to the even neighbour
  EXPECT_EQ(round_to_bf16(one + 1.5f * ulp), one + 2 * ulp);     // tie: up to even
  EXPECT_EQ(round_to_bf16(one + 0.51f * ulp), one + ulp);
  EXPECT_EQ(round_to_bf16(-one - 0.49f * ulp), -one);
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(is_bf16_exact(one + ulp));
  EXPECT_FALSE(is_bf16_exact(one + ulp / 2));
  for (float v : random_floats(1000, 9, -100.0f, 100.0f)) {
    const float r = round_to_bf16(v);
    EXPECT_TRUE(is_bf16_exact(r));
    EXPECT_LE(std::fabs(r - v), std::fabs(v) * std::ldexp(1.0, -8) * 1.0000001) << v;  // half an ulp
  }
}

void check_conv(const ConvGeom& s, ConvLayout layout) {
  const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
  const auto x = random_floats(s.N * s.C * HW, 31), w = random_floats(s.K * (s.C / s.groups) * s.R() * s.S(), 32),
             b = random_floats(s.K, 33);
  std::vector<float> want(static_cast<size_t>(s.N * s.K * OHW)), f32(want.size());
  ref::conv2d_forward(s, rounded(x).data(), rounded(w).data(), b.data(), want.data());
  ref::conv2d_forward(s, x.data(), w.data(), b.data(), f32.data());
  ConvPlan plan(s, w.data(), b.data(), {}, layout, layout, PlanMath::bf16);
  if (active_isa() != Isa::ref && bf16_native()) {
    EXPECT_TRUE(plan.uses_onednn()) << "a native bf16 CPU builds the primitive";
  }
  std::vector<float> xin = x;
  if (layout == ConvLayout::nhwc) {  // (N, C, HW) -> (N, HW, C)
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t p = 0; p < HW; ++p) xin[static_cast<size_t>((n * HW + p) * s.C + c)] = x[static_cast<size_t>((n * s.C + c) * HW + p)];
  }
  std::vector<float> y(want.size(), NAN), yn(want.size());
  plan.run(xin.data(), y.data());
  if (layout == ConvLayout::nhwc) {
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t k = 0; k < s.K; ++k)
        for (int64_t p = 0; p < OHW; ++p) yn[static_cast<size_t>((n * s.K + k) * OHW + p)] = y[static_cast<size_t>((n * OHW + p) * s.K + k)];
    y = yn;
  }
  const std::string what = std::string(plan.uses_onednn() ? "onednn" : "fallback") + (layout == ConvLayout::nhwc ? " nhwc" : " nchw");
  // Products of bf16 values are exact in fp32; only the fp32 sums (C/g·R·S terms + bias) differ.
  expect_close(y, want, 1.0, double(s.C / s.groups * s.R() * s.S() + 1), what);
  EXPECT_GT(max_diff(y, f32), 1e-3) << what << ": bf16 results should differ from fp32 math";
}

void check_matmul(int64_t M, int64_t N, int64_t K) {
  const auto x = random_floats(M * K, 41), w = random_floats(N * K, 42), b = random_floats(N, 43);
  auto ref_out = [&](const std::vector<float>& xv, const std::vector<float>& wv) {
    std::vector<float> y(static_cast<size_t>(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) y[static_cast<size_t>(i * N + j)] = b[static_cast<size_t>(j)];
    ref::gemm_f32<float>(false, true, M, N, K, 1.0f, xv.data(), K, wv.data(), K, 1.0f, y.data(), N);
    return y;
  };
  const auto want = ref_out(rounded(x), rounded(w)), f32 = ref_out(x, w);
  MatmulPlan plan(M, N, K, w.data(), b.data(), false, PlanMath::bf16);
  if (active_isa() != Isa::ref && bf16_native()) {
    EXPECT_TRUE(plan.uses_onednn()) << "a native bf16 CPU builds the primitive";
  }
  std::vector<float> y(static_cast<size_t>(M * N), NAN);
  plan.run(x.data(), y.data());
  const std::string what = std::string(plan.uses_onednn() ? "onednn" : "fallback") + " M" + std::to_string(M);
  expect_close(y, want, 1.0, static_cast<double>(K + 1), what);
  EXPECT_GT(max_diff(y, f32), 1e-3) << what;
}

ConvGeom conv_shape(int64_t C, int64_t K, int64_t R, int64_t stride, int64_t groups) {
  return ConvGeom::conv2d(2, C, 9, 11, K, R, R).strides(stride, stride).pads(R / 2, R / 2).grouped(groups);
}

TEST(Bf16, PlansMatchReferenceOnRoundedOperands) {
  const Isa saved = active_isa();
  for (Isa isa : {saved, Isa::ref}) {  // oneDNN (where it builds a bf16 primitive), then the fallback
    set_active_isa(isa);
    for (ConvLayout l : {ConvLayout::nchw, ConvLayout::nhwc}) {
      check_conv(conv_shape(16, 32, 3, 1, 1), l);
      check_conv(conv_shape(3, 16, 3, 2, 1), l);
      check_conv(conv_shape(32, 32, 3, 1, 32), l);  // depthwise
    }
    for (int64_t M : {1, 7, 64}) check_matmul(M, 48, 96);
  }
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
