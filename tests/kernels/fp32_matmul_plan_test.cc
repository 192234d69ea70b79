// MatmulPlan (prepacked inference dense layer) against the reference GEMM plus bias and ReLU in
// plain loops (and the conv epilogues: residual sum, Clip, HardSwish, SiLU): odd and power-of-two shapes, 1 and 2 threads, a thread-count change between runs
// (the primitive is rebuilt from the packed weights), and the fallback built under Isa::ref.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32_matmul_plan.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;

std::vector<float> reference(int64_t M, int64_t N, int64_t K, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, bool relu) {
  std::vector<float> y(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) y[static_cast<size_t>(i * N + j)] = b.empty() ? 0.0f : b[static_cast<size_t>(j)];
  ref::gemm_f32<float>(false, true, M, N, K, 1.0f, x.data(), K, w.data(), K, 1.0f, y.data(), N);
  if (relu)
    for (float& v : y) v = std::max(v, 0.0f);
  return y;
}

void check(int64_t M, int64_t N, int64_t K, bool bias, bool relu) {
  const auto x = random_floats(M * K, 1), w = random_floats(N * K, 2);
  const auto b = bias ? random_floats(N, 3) : std::vector<float>{};
  MatmulPlan plan(M, N, K, w.data(), bias ? b.data() : nullptr, relu);
  if (active_isa() != Isa::ref) {
    EXPECT_TRUE(plan.uses_onednn());
  }
  const auto want = reference(M, N, K, x, w, b, relu);
  const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
  for (int threads : {1, 2, 1}) {  // the last run follows a rebuild for a new thread count
    set_num_threads(threads);
    std::vector<float> y(static_cast<size_t>(M * N), -7.0f);
    plan.run(x.data(), y.data());
    // |x|, |w| <= 1: every dot product of K terms is bounded by K (+1 for the bias).
    expect_close(y, want, 1.0, static_cast<double>(K + 1), what + " threads " + std::to_string(threads));
  }
}

TEST(MatmulPlan, MatchesReferenceOnManyShapes) {
  for (int64_t M : {1, 3, 64}) {
    check(M, 17, 33, true, true);
    check(M, 64, 128, false, false);
    check(M, 200, 1000, true, false);
  }
}

// The conv epilogue on a matmul: residual sum from y, then Clip / HardSwish / SiLU (the GEMM path
// of 1×1 ConvPlans), on the oneDNN primitive and, with `ref_isa`, on the plain fallback.
void check_epilogue(int64_t M, int64_t N, int64_t K, const ConvEpilogue& ep) {
  const auto x = random_floats(M * K, 11), w = random_floats(N * K, 12), b = random_floats(N, 13);
  const auto r = random_floats(M * N, 14);
  std::vector<float> want = reference(M, N, K, x, w, b, false);
  if (ep.sum)
    for (size_t i = 0; i < want.size(); ++i) want[i] += r[i];
  ref::activation_forward(Activation{ep.act == ConvEpilogue::Act::clip        ? Act::clip
                                     : ep.act == ConvEpilogue::Act::hardswish ? Act::hardswish
                                     : ep.act == ConvEpilogue::Act::silu      ? Act::silu
                                     : ep.act == ConvEpilogue::Act::relu      ? Act::relu
                                                                              : Act::none,
                                     ep.lo, ep.hi},
                          M * N, want.data(), want.data());
  MatmulPlan plan(M, N, K, w.data(), b.data(), ep);
  std::vector<float> y = ep.sum ? r : std::vector<float>(static_cast<size_t>(M * N), -7.0f);
  plan.run(x.data(), y.data());
  // K + 2 terms (products, bias, residual) of magnitude <= 1; the activations' slopes are <= 1.5
  // and their own evaluation adds a few ulp of the value (as in fp32_conv_plan_test.cc).
  const double terms = static_cast<double>(K + 2);
  expect_close(y, want, terms, 1.5 * terms + 8.0,
               std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " sum" + std::to_string(ep.sum) +
                   " act" + std::to_string(int(ep.act)) + (plan.uses_onednn() ? " onednn" : " fallback"));
}

const ConvEpilogue kEpilogues[] = {{true, ConvEpilogue::Act::none}, {true, ConvEpilogue::Act::relu},
                                   {false, ConvEpilogue::Act::clip, -0.25f, 0.5f}, {true, ConvEpilogue::Act::hardswish},
                                   {false, ConvEpilogue::Act::silu}};

TEST(MatmulPlan, EpilogueSumAndActivations) {
  for (const ConvEpilogue& ep : kEpilogues) {
    check_epilogue(12, 33, 17, ep);
    check_epilogue(64, 128, 64, ep);
  }
}

TEST(MatmulPlan, FallbackUnderRefIsa) {
  const Isa saved = active_isa();
  set_active_isa(Isa::ref);
  MatmulPlan plan(5, 7, 9, random_floats(63, 4).data(), nullptr, true);
  EXPECT_FALSE(plan.uses_onednn());
  check(5, 7, 9, true, true);  // built and run on the plain path
  check(4, 64, 128, false, false);
  for (const ConvEpilogue& ep : kEpilogues) check_epilogue(5, 7, 9, ep);
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
