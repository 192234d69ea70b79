// Requantization and the quantized Add: every path the CPU supports must equal the scalar
// reference bit for bit, over odd column counts (masked tails), ties at .5, saturation at both
// ends, Relu-style clamps and huge accumulators; im2col against a direct gather.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {
namespace {

TEST(Requantize, EveryPathMatchesReference) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> acc_d(-200000, 200000), corr_d(-5000, 5000);
  std::uniform_real_distribution<float> scale_d(1e-4f, 3e-3f);
  const Isa saved = active_isa();
  for (int64_t N : {1, 3, 15, 16, 17, 31, 64, 65}) {
    const int64_t M = 7, lda = N + 3;
    std::vector<int32_t> acc(static_cast<size_t>(M * lda)), corr(static_cast<size_t>(N));
    std::vector<float> scale(static_cast<size_t>(N));
    for (auto& v : acc) v = acc_d(rng);
    for (auto& v : corr) v = corr_d(rng);
    for (auto& v : scale) v = scale_d(rng);
    acc[0] = 2'000'000'000;  // saturates high
    acc[1 % N] = -2'000'000'000;
    scale[0] = 0.5f;
    acc[static_cast<size_t>(lda)] = 5 - corr[0];  // 2.5 -> 2 (ties to even)
    for (auto [zp, lo, hi] : {std::tuple{128, 0, 255}, std::tuple{3, 3, 255}, std::tuple{0, -128, 127}, std::tuple{-5, -5, 100}}) {
      const Requant p{corr.data(), scale.data(), zp, lo, hi};
      const bool u8 = lo >= 0;
      std::vector<uint8_t> want_u(static_cast<size_t>(M * N)), got_u(want_u.size());
      std::vector<int8_t> want_s(want_u.size()), got_s(want_u.size());
      if (u8) ref::requantize_u8(M, N, acc.data(), lda, p, want_u.data(), N);
      else ref::requantize_s8(M, N, acc.data(), lda, p, want_s.data(), N);
      if (u8) {
        EXPECT_EQ(want_u[static_cast<size_t>(N)], static_cast<uint8_t>(std::max(zp + 2, lo)));
      }
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        if (u8) {
          requantize_u8(M, N, acc.data(), lda, p, got_u.data(), N);
          EXPECT_EQ(got_u, want_u) << "N=" << N << " zp=" << zp << " on " << isa_name(isa);
        } else {
          requantize_s8(M, N, acc.data(), lda, p, got_s.data(), N);
          EXPECT_EQ(got_s, want_s) << "N=" << N << " zp=" << zp << " on " << isa_name(isa);
        }
      }
      set_active_isa(saved);
    }
  }
}

// u8×s8 GEMM: weights packed under each path, products on each path, odd and 16-multiple
// shapes (masked column tails, partial groups of four in K), extreme codes.
TEST(QgemmU8S8, EveryPathMatchesReference) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  const Isa saved = active_isa();
  int64_t checked = 0;
  for (int64_t K : {1, 3, 4, 27, 144, 577})
    for (int64_t N : {1, 3, 16, 17, 32, 33, 48, 64, 65, 100})
      for (int64_t M : {1, 5, 13, 17, 100}) {
        const int64_t lda = K + 5;
        std::vector<uint8_t> a(static_cast<size_t>(M * lda));
        std::vector<int8_t> w(static_cast<size_t>(N * K));
        for (auto& v : a) v = static_cast<uint8_t>(ud(rng));
        for (auto& v : w) v = static_cast<int8_t>(sd(rng));
        a[0] = 255;
        w[0] = -128;
        std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
        ref::qgemm_u8s8(M, N, K, a.data(), lda, w.data(), K, want.data(), N);
        for (Isa pack_on : isa_paths()) {
          set_active_isa(pack_on);
          const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
          for (Isa run_on : isa_paths()) {
            set_active_isa(run_on);
            std::fill(got.begin(), got.end(), -1);
            qgemm_u8s8(M, a.data(), lda, pw, got.data(), N);
            ASSERT_EQ(got, want) << "M=" << M << " N=" << N << " K=" << K << " packed on " << isa_name(pack_on) << ", run on "
                                 << isa_name(run_on);
            // Fused requantization: the same bytes as the two steps on the reference.
            std::vector<int32_t> corr(static_cast<size_t>(N));
            std::vector<float> scale(static_cast<size_t>(N));
            for (int64_t n = 0; n < N; ++n) corr[static_cast<size_t>(n)] = -100 * static_cast<int32_t>(n), scale[static_cast<size_t>(n)] = 1e-4f * static_cast<float>(n + 1);
            const Requant rq{corr.data(), scale.data(), 7, 7, 255};
            std::vector<uint8_t> ywant(want.size()), ygot(want.size());
            ref::requantize_u8(M, N, want.data(), N, rq, ywant.data(), N);
            qgemm_u8s8_requant_u8(M, a.data(), lda, pw, rq, ygot.data(), N);
            ASSERT_EQ(ygot, ywant) << "requant M=" << M << " N=" << N << " K=" << K << " on " << isa_name(run_on);
            const Requant rs{corr.data(), scale.data(), -3, -128, 127};
            std::vector<int8_t> swant(want.size()), sgot(want.size());
            ref::requantize_s8(M, N, want.data(), N, rs, swant.data(), N);
            qgemm_u8s8_requant_s8(M, a.data(), lda, pw, rs, sgot.data(), N);
            ASSERT_EQ(sgot, swant) << "requant s8 M=" << M << " N=" << N << " K=" << K << " on " << isa_name(run_on);
            ++checked;
          }
        }
      }
  set_active_isa(saved);
  EXPECT_GT(checked, 0);
}

// W4A8: int4 weights (codes in [-8, 7]) packed two per byte under each path (with and without
// int8 panels for many rows) give exactly the sums of the int8 packing of the same codes on the
// reference, for every run path and row threshold, with and without the fused requantization; odd K (a lone last group of four, a lone last nibble) and
// the extreme codes -8 and 7 against 255 activations.
TEST(QgemmU8S4, EveryPathMatchesInt8Reference) {
  std::mt19937 rng(6);
  std::uniform_int_distribution<int> ud(0, 255), sd(-8, 7);
  const Isa saved = active_isa();
  const int64_t unpack_saved = qgemm_w4_unpack_rows();
  int64_t checked = 0;
  for (int64_t K : {1, 3, 4, 5, 8, 12, 27, 144, 577})
    for (int64_t N : {1, 3, 16, 17, 33, 48, 64, 65, 100})
      for (int64_t M : {1, 2, 5, 13, 64}) {
        const int64_t lda = K + 5;
        std::vector<uint8_t> a(static_cast<size_t>(M * lda));
        std::vector<int8_t> w(static_cast<size_t>(N * K));
        for (auto& v : a) v = static_cast<uint8_t>(ud(rng));
        for (auto& v : w) v = static_cast<int8_t>(sd(rng));
        a[0] = 255;
        w[0] = -8;
        w[w.size() - 1] = 7;
        ASSERT_TRUE(qgemm_fits_int4(N * K, w.data()));
        std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
        ref::qgemm_u8s8(M, N, K, a.data(), lda, w.data(), K, want.data(), N);
        std::vector<int32_t> corr(static_cast<size_t>(N));
        std::vector<float> scale(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) corr[static_cast<size_t>(n)] = -50 * static_cast<int32_t>(n), scale[static_cast<size_t>(n)] = 2e-3f / static_cast<float>(n + 1);
        const Requant rq{corr.data(), scale.data(), 7, 7, 255};
        const Requant rs{corr.data(), scale.data(), -3, -128, 127};
        std::vector<uint8_t> ywant(want.size()), ygot(want.size());
        std::vector<int8_t> swant(want.size()), sgot(want.size());
        ref::requantize_u8(M, N, want.data(), N, rq, ywant.data(), N);
        ref::requantize_s8(M, N, want.data(), N, rs, swant.data(), N);
        for (Isa pack_on : isa_paths()) {
          set_active_isa(pack_on);
          for (bool int8_panels : {false, true}) {
          const QgemmPackedW pw = qgemm_pack_w4(N, K, w.data(), int8_panels);
          ASSERT_EQ(pw.bits, 4);
          for (Isa run_on : isa_paths())
            for (int64_t unpack_rows : {int64_t{1}, int64_t{1} << 30}) {  // widened per group / in registers
            if (unpack_rows == 1 && run_on != Isa::avx512vnni) continue;
            set_active_isa(run_on);
            set_qgemm_w4_unpack_rows(unpack_rows);
            std::fill(got.begin(), got.end(), -1);
            qgemm_u8s8(M, a.data(), lda, pw, got.data(), N);
            ASSERT_EQ(got, want) << "M=" << M << " N=" << N << " K=" << K << " packed on " << isa_name(pack_on) << ", run on "
                                 << isa_name(run_on) << " (" << qgemm_kernel_name(M, pw) << ")";
            qgemm_u8s8_requant_u8(M, a.data(), lda, pw, rq, ygot.data(), N);
            ASSERT_EQ(ygot, ywant) << "requant M=" << M << " N=" << N << " K=" << K << " on " << isa_name(run_on);
            qgemm_u8s8_requant_s8(M, a.data(), lda, pw, rs, sgot.data(), N);
            ASSERT_EQ(sgot, swant) << "requant s8 M=" << M << " N=" << N << " K=" << K << " on " << isa_name(run_on);
            ++checked;
          }
          }
        }
      }
  set_active_isa(saved);
  set_qgemm_w4_unpack_rows(unpack_saved);
  EXPECT_GT(checked, 0);
}

// The int4 reference reads nibbles as the DType::i4 layout says: low nibble first, sign-extended.
TEST(QgemmU8S4, ReferenceReadsNibbles) {
  const uint8_t a[3] = {1, 10, 100};
  const uint8_t w[2] = {0x8F, 0x07};  // k0 = -1 (0xF), k1 = -8 (0x8), k2 = 7
  int32_t c = 0;
  ref::qgemm_u8s4(1, 1, 3, a, 3, w, 2, &c, 1);
  EXPECT_EQ(c, 1 * -1 + 10 * -8 + 100 * 7);
}

// Implicit GEMM over a padded channels-last image (3x3 taps): equal to explicit rows through
// the reference GEMM and requantization, on every path.
TEST(QgemmTaps, MatchesExplicitRows) {
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  const Isa saved = active_isa();
  for (int64_t C : {4, 8, 16, 20})
    for (int64_t N : {5, 16, 40, 64}) {
      const int64_t Hp = 6, Wp = 7, taps = 9, K = taps * C;
      std::vector<uint8_t> img(static_cast<size_t>(Hp * Wp * C));
      for (auto& v : img) v = static_cast<uint8_t>(ud(rng));
      std::vector<int8_t> w(static_cast<size_t>(N * K));
      for (auto& v : w) v = static_cast<int8_t>(sd(rng));
      std::vector<int64_t> off;
      for (int64_t kh = 0; kh < 3; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw) off.push_back((kh * Wp + kw) * C);
      const int64_t M = (Hp - 2) * Wp - 2;  // the last row reads the image's last byte
      std::vector<uint8_t> rows(static_cast<size_t>(M * K));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t c = 0; c < C; ++c) rows[static_cast<size_t>(m * K + t * C + c)] = img[static_cast<size_t>(m * C + off[static_cast<size_t>(t)] + c)];
      std::vector<int32_t> acc(static_cast<size_t>(M * N)), corr(static_cast<size_t>(N), 1000);
      std::vector<float> scale(static_cast<size_t>(N), 2e-4f);
      const Requant rq{corr.data(), scale.data(), 30, 30, 255};
      ref::qgemm_u8s8(M, N, K, rows.data(), K, w.data(), K, acc.data(), N);
      std::vector<uint8_t> want(static_cast<size_t>(M * N)), got(want.size());
      ref::requantize_u8(M, N, acc.data(), N, rq, want.data(), N);
      for (Isa isa : isa_paths()) {
        set_active_isa(isa);
        const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
        std::fill(got.begin(), got.end(), 0);
        qgemm_taps_requant_u8(M, C, off.data(), taps, img.data(), C, pw, rq, got.data(), N);
        EXPECT_EQ(got, want) << "C=" << C << " N=" << N << " on " << isa_name(isa);
      }
      // The same codes clamped to int4 (W4A8, C % 8 == 0 on the VNNI taps kernel, else rows).
      std::vector<int8_t> w4(w.size());
      for (size_t i = 0; i < w.size(); ++i) w4[i] = static_cast<int8_t>(std::clamp<int>(w[i] / 16, -8, 7));
      ref::qgemm_u8s8(M, N, K, rows.data(), K, w4.data(), K, acc.data(), N);
      ref::requantize_u8(M, N, acc.data(), N, rq, want.data(), N);
      const int64_t unpack_saved = qgemm_w4_unpack_rows();
      for (Isa isa : isa_paths())
        for (int64_t unpack_rows : {int64_t{1}, int64_t{1} << 30}) {
          set_active_isa(isa);
          set_qgemm_w4_unpack_rows(unpack_rows);
          for (bool int8_panels : {false, true}) {
            const QgemmPackedW pw = qgemm_pack_w4(N, K, w4.data(), int8_panels);
            std::fill(got.begin(), got.end(), 0);
            qgemm_taps_requant_u8(M, C, off.data(), taps, img.data(), C, pw, rq, got.data(), N);
            EXPECT_EQ(got, want) << "int4 C=" << C << " N=" << N << " on " << isa_name(isa) << " (" << qgemm_kernel_name(M, pw) << ")";
          }
        }
      set_qgemm_w4_unpack_rows(unpack_saved);
      set_active_isa(saved);
    }
}

TEST(Depthwise, EveryPathMatchesReference) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127), cd(-20000, 20000);
  const Isa saved = active_isa();
  // {C, H, W, K, stride, pad, dilation}: 3x3 and 5x5 take the fixed-size kernel (interior columns
  // without bounds tests), 7x7 the generic one; images narrower than the window have no interior.
  for (const auto& c : std::vector<std::array<int64_t, 7>>{{16, 7, 7, 3, 1, 1, 1}, {37, 9, 8, 3, 2, 1, 1}, {8, 5, 6, 5, 1, 2, 1},
                                                           {96, 4, 4, 3, 2, 0, 1}, {24, 9, 11, 3, 1, 2, 2}, {40, 2, 3, 3, 1, 1, 1},
                                                           {19, 8, 9, 5, 2, 2, 1}, {16, 3, 2, 5, 1, 2, 1}, {32, 9, 9, 7, 1, 3, 1}}) {
    const ConvGeom g = ConvGeom::conv2d(1, c[0], c[1], c[2], c[0], c[3], c[3])
                           .strides(c[4], c[4])
                           .pads(c[5], c[5])
                           .dilations(c[6], c[6])
                           .grouped(c[0]);
    ASSERT_EQ(g.OH(), (g.H() + 2 * c[5] - c[6] * (g.R() - 1) - 1) / c[4] + 1);
    ASSERT_EQ(g.OW(), (g.W() + 2 * c[5] - c[6] * (g.S() - 1) - 1) / c[4] + 1);
    std::vector<uint8_t> x(static_cast<size_t>(g.H() * g.W() * g.C));
    std::vector<int8_t> w(static_cast<size_t>(g.R() * g.S() * g.C));
    std::vector<int32_t> corr(static_cast<size_t>(g.C));
    std::vector<float> scale(static_cast<size_t>(g.C));
    for (auto& v : x) v = static_cast<uint8_t>(ud(rng));
    for (auto& v : w) v = static_cast<int8_t>(sd(rng));
    for (size_t i = 0; i < corr.size(); ++i) corr[i] = cd(rng), scale[i] = 1e-3f * static_cast<float>(i % 7 + 1);
    const Requant p{corr.data(), scale.data(), 11, 11, 255};
    std::vector<uint8_t> want(static_cast<size_t>(g.OH() * g.OW() * g.C)), got(want.size());
    ref::depthwise_nhwc_u8(g, x.data(), 77, w.data(), p, want.data(), 0, g.OH());
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      std::fill(got.begin(), got.end(), 0);
      depthwise_nhwc_u8(g, x.data(), 77, w.data(), p, got.data(), 0, g.OH());
      EXPECT_EQ(got, want) << "C=" << g.C << " K=" << g.R() << " on " << isa_name(isa);
    }
    set_active_isa(saved);
  }
}

TEST(Requantize, SaturatesAndRoundsHalfToEven) {
  const int32_t corr[4] = {0, 0, 0, 0};
  const float scale[4] = {0.5f, 0.5f, 1e6f, 1e6f};
  const int32_t acc[4] = {5, 7, 1000, -1000};  // 2.5 -> 2, 3.5 -> 4, huge -> 255, tiny -> 0
  uint8_t y[4];
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    requantize_u8(1, 4, acc, 4, Requant{corr, scale, 0, 0, 255}, y, 4);
    EXPECT_EQ(y[0], 2);
    EXPECT_EQ(y[1], 4);
    EXPECT_EQ(y[2], 255);
    EXPECT_EQ(y[3], 0);
  }
  set_active_isa(best_supported_isa());
}

TEST(QAdd, EveryPathMatchesReferenceAndFloatDefinition) {
  std::vector<uint8_t> a(301), b(301), want(301), got(301);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint8_t>(i * 7);
    b[i] = static_cast<uint8_t>(255 - i * 3);
  }
  const QAddParams p{100, 20, 10, 10, 255, 0.7f, 1.3f};
  ref::qadd_u8(301, a.data(), b.data(), p, want.data());
  for (size_t i = 0; i < a.size(); ++i) {
    const double v = (a[i] - 100) * 0.7 + (b[i] - 20) * 1.3;
    const double exact = std::clamp(std::nearbyint(v) + 10, 10.0, 255.0);
    EXPECT_NEAR(want[i], exact, 1.0) << i;  // fp32 rounding may send a tie the other way
  }
  const Isa saved = active_isa();
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    for (int64_t n : {int64_t{301}, int64_t{16}, int64_t{5}}) {
      std::fill(got.begin(), got.end(), 0);
      qadd_u8(n, a.data(), b.data(), p, got.data());
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + n, want.begin())) << "n=" << n << " on " << isa_name(isa);
    }
  }
  set_active_isa(saved);
}

// Direct gather of one im2col element (the definition in qlinear.h).
uint8_t gathered(const ConvGeom& g, const std::vector<uint8_t>& x, uint8_t pad, int64_t p, int64_t col) {
  const int64_t oh = p / g.OW(), ow = p % g.OW(), c = col % g.C, kw = (col / g.C) % g.S(), kh = col / g.C / g.S();
  const int64_t ih = oh * g.stride_h() - g.pad_t() + kh * g.dil_h(), iw = ow * g.stride_w() - g.pad_l() + kw * g.dil_w();
  if (ih < 0 || ih >= g.H() || iw < 0 || iw >= g.W()) return pad;
  return x[static_cast<size_t>((ih * g.W() + iw) * g.C + c)];
}

TEST(Im2col, MatchesDirectGather) {
  // {C, H, W, KH, KW, stride_h, stride_w, pad_t, pad_l, dil_h, dil_w}: a dilated odd case, and the
  // 3x3 / 16-channel shapes of CIFAR ResNets (contiguous-run and 16-byte paths).
  const std::vector<std::array<int64_t, 11>> cases = {{3, 5, 6, 3, 2, 2, 1, 1, 1, 1, 2}, {16, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1},
                                                      {32, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1}, {16, 6, 6, 1, 1, 2, 2, 0, 0, 1, 1}};
  for (const auto& c : cases) {
    const ConvGeom g =
        ConvGeom::conv2d(1, c[0], c[1], c[2], 1, c[3], c[4]).strides(c[5], c[6]).pads(c[7], c[8]).dilations(c[9], c[10]);
    ASSERT_EQ(g.OH(), (g.H() + 2 * g.pad_t() - (g.dil_h() * (g.R() - 1) + 1)) / g.stride_h() + 1);
    ASSERT_EQ(g.OW(), (g.W() + 2 * g.pad_l() - (g.dil_w() * (g.S() - 1) + 1)) / g.stride_w() + 1);
    std::vector<uint8_t> x(static_cast<size_t>(g.H() * g.W() * g.C));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 7 + 3);
    const int64_t lda = (g.patch() + 3) / 4 * 4;
    std::vector<uint8_t> a(static_cast<size_t>(g.OH() * g.OW() * lda), 99);
    im2col_nhwc_u8(g, x.data(), 201, a.data(), lda, 0, g.OH() * g.OW());
    int64_t bad = 0;
    for (int64_t p = 0; p < g.OH() * g.OW(); ++p)
      for (int64_t col = 0; col < g.patch(); ++col) bad += a[static_cast<size_t>(p * lda + col)] != gathered(g, x, 201, p, col);
    EXPECT_EQ(bad, 0) << "C=" << g.C << " H=" << g.H() << " KH=" << g.R();
  }
}

}  // namespace
}  // namespace lowbit::kernels

namespace lowbit::kernels {
namespace {

// subtract_zero_points turns Σ a·w into Σ (a − az)·(w − wz), for any zero points.
TEST(QlinearZeroPoints, SubtractZeroPointsEqualsTheCenteredSum) {
  const int64_t M = 5, N = 7, K = 13, lda = 16;
  std::vector<uint8_t> a(static_cast<size_t>(M * lda));
  std::vector<int8_t> w(static_cast<size_t>(N * K));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 37 + 11);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i * 53 + 7);
  std::vector<int32_t> colsum(N, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) colsum[static_cast<size_t>(n)] += w[static_cast<size_t>(n * K + k)];
  for (const auto& [az, wz] : std::vector<std::pair<int32_t, int32_t>>{{0, 0}, {128, -3}, {255, 127}, {17, -128}}) {
    std::vector<int32_t> c(static_cast<size_t>(M * N));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int32_t s = 0;
        for (int64_t k = 0; k < K; ++k) s += a[static_cast<size_t>(m * lda + k)] * w[static_cast<size_t>(n * K + k)];
        c[static_cast<size_t>(m * N + n)] = s;
      }
    subtract_zero_points(M, N, K, a.data(), lda, az, colsum.data(), wz, c.data(), N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int32_t want = 0;
        for (int64_t k = 0; k < K; ++k) want += (a[static_cast<size_t>(m * lda + k)] - az) * (w[static_cast<size_t>(n * K + k)] - wz);
        EXPECT_EQ(c[static_cast<size_t>(m * N + n)], want) << m << " " << n << " zp " << az << " " << wz;
      }
  }
}

}  // namespace
}  // namespace lowbit::kernels
