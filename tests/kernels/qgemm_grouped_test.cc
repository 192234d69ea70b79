// Group-wise W4A8 GEMM (qgemm_grouped.h): every path the CPU supports equals the scalar reference
// bit for bit over shapes with masked column tails, a short last group, odd groups of four, row
// blocks of 1-3 and the group sizes 8..128; the reference itself against a double-precision sum
// of the same terms (tolerance from the fp32 rounding of ⌈K/G⌉ additions). Blocked quantization
// (quant.h) against a per-element evaluation of the QuantGrid rule.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qgemm_grouped.h"
#include "lowbit/kernels/qlinear_ref.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/quant_ref.h"

namespace lowbit::kernels {
namespace {

struct Case {
  int64_t M, N, K, G;
};

TEST(QgemmGrouped, EveryPathMatchesReference) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> a_d(0, 255), w_d(-8, 7);
  std::uniform_real_distribution<float> s_d(1e-4f, 2e-2f);
  const Isa saved = active_isa();
  int checked = 0;
  for (const Case c : {Case{1, 64, 128, 32}, Case{1, 17, 100, 32}, Case{2, 65, 256, 64}, Case{3, 130, 384, 128},
                       Case{7, 33, 36, 8}, Case{5, 200, 300, 128}, Case{1, 1, 8, 8}, Case{26, 70, 196, 64}, Case{1, 3072, 768, 32}}) {
    const auto [M, N, K, G] = c;
    const int64_t lda = (K + 3) / 4 * 4 + 4, groups = qgemm_groups(K, G);
    std::vector<uint8_t> a(static_cast<size_t>(M * lda));
    for (auto& v : a) v = static_cast<uint8_t>(a_d(rng));
    std::vector<int8_t> w(static_cast<size_t>(N * K));
    for (auto& v : w) v = static_cast<int8_t>(w_d(rng));
    w[0] = -8, w.back() = 7;
    std::vector<float> scale(static_cast<size_t>(groups * N)), bias(static_cast<size_t>(N));
    for (auto& v : scale) v = s_d(rng);
    for (auto& v : bias) v = s_d(rng) * 100 - 1;
    const int32_t z = 121;
    for (bool with_bias : {false, true}) {
      std::vector<float> want(static_cast<size_t>(M * N)), got(want.size());
      for (Isa pack_on : isa_paths()) {
        set_active_isa(pack_on);
        const QgemmGroupedW pw = qgemm_pack_w4_grouped(N, K, G, w.data());
        std::vector<int32_t> corr(static_cast<size_t>(groups * N));
        for (size_t i = 0; i < corr.size(); ++i) corr[i] = -z * pw.gsum.get()[i];
        const GroupedEpilogue ep{corr.data(), scale.data(), with_bias ? bias.data() : nullptr};
        ref::qgemm_u8s4_grouped_f32(M, N, K, G, a.data(), lda, w.data(), K, ep, want.data(), N);
        // The reference against the same terms summed in double.
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; n += 7) {
            double sum = 0, mag = 0;
            for (int64_t g = 0; g < groups; ++g) {
              int64_t acc = 0;
              for (int64_t k = g * G; k < std::min(K, (g + 1) * G); ++k) acc += (a[static_cast<size_t>(m * lda + k)] - z) * w[static_cast<size_t>(n * K + k)];
              const double t = static_cast<double>(static_cast<float>(acc) * scale[static_cast<size_t>(g * N + n)]);
              sum += t, mag += std::fabs(t);
            }
            if (with_bias) sum += bias[static_cast<size_t>(n)], mag += std::fabs(bias[static_cast<size_t>(n)]);
            const double tol = (static_cast<double>(groups) + 1) * 0x1p-24 * mag + 1e-30;
            ASSERT_NEAR(want[static_cast<size_t>(m * N + n)], sum, tol) << "m=" << m << " n=" << n << " K=" << K;
          }
        for (Isa run_on : isa_paths()) {
          set_active_isa(run_on);
          std::fill(got.begin(), got.end(), -1.0f);
          qgemm_u8s4_grouped_f32(M, a.data(), lda, pw, ep, got.data(), N);
          ASSERT_EQ(got, want) << "M=" << M << " N=" << N << " K=" << K << " G=" << G << " packed on " << isa_name(pack_on)
                               << ", run on " << isa_name(run_on) << " (" << qgemm_grouped_kernel_name(pw) << ")";
          ++checked;
        }
      }
    }
  }
  set_active_isa(saved);
  EXPECT_GT(checked, 0);
}

// Element (o, d, i) of a blocked tensor uses parameter ((o·⌈D/B⌉ + d/B)·inner + i).
TEST(BlockedQuant, MatchesThePerElementRule) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> x_d(-3, 3), s_d(0.01f, 0.5f);
  std::uniform_int_distribution<int> z_d(-3, 3);
  const Isa saved = active_isa();
  for (auto [outer, dim, inner, block] : {std::tuple{3, 10, 4, 4}, std::tuple{1, 64, 1, 32}, std::tuple{2, 7, 3, 8},
                                          std::tuple{5, 96, 2, 32}}) {
    const int64_t nb = (dim + block - 1) / block, n = outer * dim * inner;
    std::vector<float> x(static_cast<size_t>(n)), scale(static_cast<size_t>(outer * nb * inner));
    std::vector<int32_t> zp(scale.size());
    for (auto& v : x) v = x_d(rng);
    for (auto& v : scale) v = s_d(rng);
    for (auto& v : zp) v = z_d(rng);
    BlockedGrid b{outer, dim, inner, block, scale.data(), zp.data(), -8, 7};
    std::vector<int8_t> want(static_cast<size_t>(n));
    std::vector<float> back_want(static_cast<size_t>(n));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i) {
          const auto e = static_cast<size_t>((o * dim + d) * inner + i), p = static_cast<size_t>((o * nb + d / block) * inner + i);
          want[e] = static_cast<int8_t>(ref::quantize_one(x[e], scale[p], static_cast<float>(-8 - zp[p]), static_cast<float>(7 - zp[p]),
                                                          Rounding::nearest, 0) + zp[p]);
          back_want[e] = static_cast<float>(want[e] - zp[p]) * scale[p];
        }
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::vector<int8_t> got(want.size()), rgot(want.size());
      std::vector<float> back(x.size()), rback(x.size());
      quantize_blocked_f32_i8(b, x.data(), got.data());
      ref::quantize_blocked_f32_i8(b, x.data(), rgot.data());
      EXPECT_EQ(got, want) << isa_name(isa);
      EXPECT_EQ(rgot, want);
      dequantize_blocked_i8_f32(b, want.data(), back.data());
      ref::dequantize_blocked_i8_f32(b, want.data(), rback.data());
      EXPECT_EQ(back, back_want) << isa_name(isa);
      EXPECT_EQ(rback, back_want);
    }
  }
  set_active_isa(saved);
}

}  // namespace
}  // namespace lowbit::kernels
