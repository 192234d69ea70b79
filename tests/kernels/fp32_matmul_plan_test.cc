// MatmulPlan (prepacked inference dense layer) against the reference GEMM plus bias and ReLU in
// plain loops: odd and power-of-two shapes, 1 and 2 threads, a thread-count change between runs
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

TEST(MatmulPlan, FallbackUnderRefIsa) {
  const Isa saved = active_isa();
  set_active_isa(Isa::ref);
  MatmulPlan plan(5, 7, 9, random_floats(63, 4).data(), nullptr, true);
  EXPECT_FALSE(plan.uses_onednn());
  check(5, 7, 9, true, true);  // built and run on the plain path
  check(4, 64, 128, false, false);
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
