// Inference normalizations and softmax moved from the ONNX engine into kernels: softmax_rows
// (fast_exp, float sums; on its AVX-512, AVX2 and reference paths) and softmax_strided against
// ref::softmax_strided, layernorm_forward (float and double) against ref::layernorm_forward, and
// the f64 batchnorm_forward_infer.
// Tolerances follow fp32_test_util.h: (L * mag + 2|ref|) * u.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

using testing::expect_close;
using testing::kUnit;
using testing::random_floats;

// Every path this CPU runs (the AVX-512 row kernel, the auto-vectorized one, the reference).
TEST(Fp32SoftmaxRows, MatchesReference) {
  const Isa saved = active_isa();
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::ref}) {
    if (!isa_supported(isa)) continue;
    set_active_isa(isa);
    SCOPED_TRACE(std::string(isa_name(isa)));
    for (int64_t D : {1, 2, 7, 15, 16, 17, 125, 128, 1000}) {
      const int64_t rows = 37;
      const std::vector<float> x = random_floats(rows * D, 41 + D, -12.0f, 12.0f);
      for (bool log : {false, true}) {
        std::vector<float> fast(x.size()), ref(x.size()), mag(x.size());
        softmax_rows(rows, D, x.data(), fast.data(), log);
        ref::softmax_strided(rows, D, 1, x.data(), ref.data(), log);
        for (int64_t r = 0; r < rows; ++r) {
          float mx = x[r * D];
          for (int64_t i = 1; i < D; ++i) mx = std::max(mx, x[r * D + i]);
          for (int64_t i = 0; i < D; ++i) {
            const size_t j = static_cast<size_t>(r * D + i);
            // softmax: the rounding of d = x - mx (|d| u, relative after exp), fast_exp (4u) and
            // the float sum (D u) carry to the quotient; log-softmax: d, and log(sum) (absolute,
            // ~ (D + |ls|) u).
            const float d = std::fabs(x[j] - mx);
            mag[j] = log ? d + 1.0f + std::fabs(ref[j]) : std::fabs(ref[j]) * (1.0f + d);
          }
        }
        expect_close(fast, ref, mag, double(D + 8), "softmax_rows D=" + std::to_string(D) + (log ? " log" : ""));
      }
    }
  }
  set_active_isa(saved);
}

TEST(Fp32SoftmaxStrided, MatchesReference) {
  const int64_t outer = 3, D = 19, inner = 5;
  const std::vector<float> x = random_floats(outer * D * inner, 42, -10.0f, 10.0f);
  for (bool log : {false, true}) {
    std::vector<float> fast(x.size()), ref(x.size());
    softmax_strided(outer, D, inner, x.data(), fast.data(), log);
    ref::softmax_strided(outer, D, inner, x.data(), ref.data(), log);
    // The rounding of d = x - max (|d| u, relative after exp), expf (1 ulp) per term, sums in
    // double: a few roundings of the result.
    std::vector<float> mag(ref.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        float mx = -INFINITY;
        for (int64_t i = 0; i < D; ++i) mx = std::max(mx, x[(o * D + i) * inner + in]);
        for (int64_t i = 0; i < D; ++i) {
          const size_t j = static_cast<size_t>((o * D + i) * inner + in);
          const float d = std::fabs(x[j] - mx);
          mag[j] = log ? d + 1.0f + std::fabs(ref[j]) : std::fabs(ref[j]) * (1.0f + d);
        }
      }
    expect_close(fast, ref, mag, 8, log ? "log_softmax_strided" : "softmax_strided");
  }
}

TEST(Fp32LayerNorm, MatchesReferenceFloatAndDouble) {
  for (int64_t D : {1, 3, 64, 257}) {
    const int64_t rows = 23;
    const std::vector<float> x = random_floats(rows * D, 43 + D, -3.0f, 5.0f);
    const std::vector<float> g = random_floats(D, 44, 0.5f, 2.0f), b = random_floats(D, 45, -1.0f, 1.0f);
    std::vector<float> y(x.size()), yr(x.size()), mean(rows), inv(rows), mean_r(rows), inv_r(rows);
    layernorm_forward(rows, D, x.data(), g.data(), b.data(), 1e-5, y.data(), mean.data(), inv.data());
    ref::layernorm_forward(rows, D, x.data(), g.data(), b.data(), 1e-5, yr.data(), mean_r.data(), inv_r.data());
    // (x - float(mean)) * float(invstd) * g + b: five roundings of terms of size
    // (|x| + |mean|) * invstd * |g| + |b|.
    std::vector<float> mag(x.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < D; ++i) {
        const size_t j = static_cast<size_t>(r * D + i);
        mag[j] = (std::fabs(x[j]) + std::fabs(mean_r[r])) * inv_r[r] * g[i] + std::fabs(b[i]);
      }
    expect_close(y, yr, mag, 6, "layernorm f32 D=" + std::to_string(D));
    expect_close(mean, mean_r, std::vector<float>(rows, 0.0f), 0, "layernorm mean");  // both round the same double
    for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(inv[r], inv_r[r], 2 * kUnit * inv_r[r]);

    const std::vector<double> xd(x.begin(), x.end()), gd(g.begin(), g.end()), bd(b.begin(), b.end());
    std::vector<double> yd(x.size()), ydr(x.size());
    layernorm_forward(rows, D, xd.data(), gd.data(), bd.data(), 1e-5, yd.data(), nullptr, nullptr);
    ref::layernorm_forward(rows, D, xd.data(), gd.data(), bd.data(), 1e-5, ydr.data(), nullptr, nullptr);
    for (size_t j = 0; j < yd.size(); ++j) ASSERT_NEAR(yd[j], ydr[j], 1e-13 * (1 + std::fabs(ydr[j]))) << "f64 D=" << D;
  }
}

TEST(Fp32BatchNormInfer, DoubleMatchesReferenceAndIsThreadIndependent) {
  const int64_t N = 3, C = 5, HW = 37;
  const std::vector<float> xf = random_floats(N * C * HW, 46, -4.0f, 4.0f);
  const std::vector<double> x(xf.begin(), xf.end());
  const std::vector<double> g = {1.0, 0.5, 2.0, -1.0, 0.25}, b = {0.0, 1.0, -2.0, 0.5, 3.0};
  const std::vector<double> m = {0.1, -0.2, 0.3, 0.0, 1.0}, v = {1.0, 0.5, 4.0, 0.01, 2.0};
  std::vector<double> y(x.size()), yr(x.size());
  batchnorm_forward_infer(N, C, HW, x.data(), g.data(), b.data(), m.data(), v.data(), 1e-5, y.data());
  ref::batchnorm_forward_infer(N, C, HW, x.data(), g.data(), b.data(), m.data(), v.data(), 1e-5, yr.data());
  for (size_t j = 0; j < y.size(); ++j) ASSERT_NEAR(y[j], yr[j], 1e-14 * (1 + std::fabs(yr[j])));

  const std::vector<float> gf(g.begin(), g.end()), bf(b.begin(), b.end()), mf(m.begin(), m.end()), vf(v.begin(), v.end());
  std::vector<float> y1(xf.size()), y2(xf.size());
  const int saved = num_threads();
  set_num_threads(1);
  batchnorm_forward_infer(N, C, HW, xf.data(), gf.data(), bf.data(), mf.data(), vf.data(), 1e-5f, y1.data());
  set_num_threads(2);
  batchnorm_forward_infer(N, C, HW, xf.data(), gf.data(), bf.data(), mf.data(), vf.data(), 1e-5f, y2.data());
  set_num_threads(saved);
  EXPECT_EQ(y1, y2);
}

}  // namespace
}  // namespace lowbit::kernels
