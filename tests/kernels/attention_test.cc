// Fused one-head attention (attention.h): every ISA path against ref::attention_head (double,
// libm exp) over token counts around the 16-lane and 8-row blocks and head widths around 16,
// within a tolerance derived from the fast path's roundings; the packed-QKV strides of the op.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "isa_paths.h"
#include "lowbit/kernels/attention.h"

namespace lowbit::kernels {
namespace {

using testing::kUnit;
using testing::random_floats;

// Bound on |fast - exact| for output (i, c) (exact: ref in double). Scores: dh products summed
// in float then scaled: |ds_j| <= scale (dh + 1) u sum_d |q_d k_jd| + u |s_j|. The exponent
// argument s_j - max adds u |s_j - max| and the max's own error; fast_exp is within 2 ulp.
// So each weight e_j is off by a relative d <= 2 max_j |ds_j| + u max_j |s_j - max| + 4u, and
// y = sum_j e_j v_j / sum_j e_j by at most (2 d + (T + 3) u) sum_j p_j |v_jc| (the sums' roundings).
std::vector<double> tolerance(int64_t T, int64_t dh, double scale, const float* q, const float* k, const float* v,
                              int64_t ld, int64_t i) {
  std::vector<double> s(static_cast<size_t>(T)), mag(static_cast<size_t>(T));
  for (int64_t j = 0; j < T; ++j) {
    double dot = 0, abs = 0;
    for (int64_t d = 0; d < dh; ++d) {
      dot += double(q[i * ld + d]) * double(k[j * ld + d]);
      abs += std::fabs(double(q[i * ld + d]) * double(k[j * ld + d]));
    }
    s[static_cast<size_t>(j)] = scale * dot;
    mag[static_cast<size_t>(j)] = scale * abs;
  }
  const double mx = *std::max_element(s.begin(), s.end());
  double ds = 0, spread = 0, sum = 0;
  for (int64_t j = 0; j < T; ++j) {
    ds = std::max(ds, double(dh + 1) * kUnit * mag[static_cast<size_t>(j)] + kUnit * std::fabs(s[static_cast<size_t>(j)]));
    spread = std::max(spread, mx - s[static_cast<size_t>(j)]);
    sum += std::exp(s[static_cast<size_t>(j)] - mx);
  }
  const double rel = 2 * ds + kUnit * spread + 4 * kUnit;
  std::vector<double> tol(static_cast<size_t>(dh));
  for (int64_t c = 0; c < dh; ++c) {
    double pv = 0;
    for (int64_t j = 0; j < T; ++j) pv += std::exp(s[static_cast<size_t>(j)] - mx) / sum * std::fabs(double(v[j * ld + c]));
    tol[static_cast<size_t>(c)] = (2 * rel + double(T + 3) * kUnit) * pv + 1e-30;
  }
  return tol;
}

// H heads of packed q|k|v tokens (stride 3 H dh), as lowbit.Attention hands them over.
void check(int64_t T, int64_t dh, int64_t H, float scale, float range, uint64_t seed) {
  const int64_t ld = 3 * H * dh, ldy = H * dh;
  const std::vector<float> x = random_floats(T * ld, seed, -range, range);
  std::vector<float> want(static_cast<size_t>(T * ldy));
  for (int64_t h = 0; h < H; ++h) {
    const float* q = x.data() + h * dh;
    ref::attention_head(T, dh, double(scale), q, q + H * dh, q + 2 * H * dh, ld, want.data() + h * dh, ldy);
  }
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    std::vector<float> got(static_cast<size_t>(T * ldy), NAN), scratch(static_cast<size_t>(attention_scratch_floats(T, dh)), NAN);
    for (int64_t h = 0; h < H; ++h) {
      const float* q = x.data() + h * dh;
      attention_head(T, dh, scale, q, q + H * dh, q + 2 * H * dh, ld, got.data() + h * dh, ldy, scratch.data());
    }
    double worst = 0;
    for (int64_t h = 0; h < H; ++h) {
      const float* q = x.data() + h * dh;
      for (int64_t i = 0; i < T; ++i) {
        const std::vector<double> tol = tolerance(T, dh, scale, q, q + H * dh, q + 2 * H * dh, ld, i);
        for (int64_t c = 0; c < dh; ++c) {
          const size_t at = static_cast<size_t>(i * ldy + h * dh + c);
          const double excess = std::fabs(double(got[at]) - double(want[at])) / (tol[static_cast<size_t>(c)] + 2 * kUnit * std::fabs(want[at]));
          worst = std::isnan(excess) ? INFINITY : std::max(worst, excess);
        }
      }
    }
    EXPECT_LE(worst, 1.0) << "isa " << isa_name(isa) << " T=" << T << " dh=" << dh << " H=" << H << " scale=" << scale
                          << " range=" << range;
  }
  set_active_isa(best_supported_isa());
}

TEST(Attention, EveryPathMatchesTheReference) {
  uint64_t seed = 1;
  for (int64_t T : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 33, 125})
    for (int64_t dh : {1, 7, 16, 17, 32})
      check(T, dh, 2, 1.0f / std::sqrt(static_cast<float>(dh)), 1.0f, seed++);
}

// The DSADS transformer's shape (125 tokens, 4 heads of 16), and scores far from 0 (up to
// about +-80): the max shift keeps exp finite, the sum of weights stays >= 1.
TEST(Attention, TransformerShapeAndLargeScores) {
  check(125, 16, 4, 0.25f, 1.0f, 100);
  check(125, 16, 4, 0.25f, 4.5f, 101);
  check(64, 64, 2, 0.125f, 3.0f, 102);
}

// One token attends only to itself: y = v exactly (weight exp(0) / exp(0)).
TEST(Attention, SingleTokenCopiesItsValue) {
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    const std::vector<float> x = random_floats(3 * 20, 7);
    std::vector<float> y(20), scratch(static_cast<size_t>(attention_scratch_floats(1, 20)));
    attention_head(1, 20, 0.5f, x.data(), x.data() + 20, x.data() + 40, 60, y.data(), 20, scratch.data());
    for (int c = 0; c < 20; ++c) EXPECT_EQ(y[static_cast<size_t>(c)], x[static_cast<size_t>(40 + c)]) << isa_name(isa);
  }
  set_active_isa(best_supported_isa());
}

}  // namespace
}  // namespace lowbit::kernels
