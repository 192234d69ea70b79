// The u8×s8 kernel for at most 16 columns with K in the register lanes (qgemm_n16_avx512vnni.cc):
// the products it runs say so by name, and equal the scalar reference bit for bit (int32 sums,
// fused u8/s8 requantization, implicit GEMM over a padded image) over row counts around its
// six-row block, every column count up to 16, extreme codes, and reads that end exactly at the
// end of the buffers (ASan sees any read past them).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qlinear.h"
#include "lowbit/kernels/qlinear_ref.h"

namespace lowbit::kernels {
namespace {

constexpr const char* kNarrow = "avx512vnni u8s8 (N <= 16, K in lanes)";

// A buffer of exactly n bytes on the heap, so that ASan reports a read past its end.
template <typename T>
std::unique_ptr<T[]> exact(size_t n) {
  return std::unique_ptr<T[]>(new T[n]);
}

class QgemmNarrow : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isa_supported(Isa::avx512vnni)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
    saved_ = active_isa();
    set_active_isa(Isa::avx512vnni);
  }
  void TearDown() override {
    if (isa_supported(Isa::avx512vnni)) set_active_isa(saved_);
  }
  Isa saved_ = Isa::ref;
};

TEST_F(QgemmNarrow, PlainProductsMatchReference) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  for (int64_t K : {128, 144, 160, 576})
    for (int64_t N : {1, 4, 5, 15, 16})
      for (int64_t M : {1, 2, 5, 6, 7, 12, 13, 48, 49, 100})
        for (bool extreme : {false, true}) {
          const int64_t lda = K + 7;  // unaligned rows; the last row ends the buffer
          const size_t abytes = static_cast<size_t>((M - 1) * lda + K);
          auto a = exact<uint8_t>(abytes);
          std::vector<int8_t> w(static_cast<size_t>(N * K));
          for (size_t i = 0; i < abytes; ++i) a[i] = static_cast<uint8_t>(extreme ? 255 : ud(rng));
          for (auto& v : w) v = static_cast<int8_t>(extreme ? -128 : sd(rng));
          const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
          ASSERT_EQ(std::string(qgemm_kernel_name(M, pw)), kNarrow) << "N=" << N << " K=" << K;
          std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size(), -1);
          ref::qgemm_u8s8(M, N, K, a.get(), lda, w.data(), K, want.data(), N);
          if (extreme) {
            ASSERT_EQ(want[0], -255 * 128 * K);
          }
          qgemm_u8s8(M, a.get(), lda, pw, got.data(), N);
          ASSERT_EQ(got, want) << "M=" << M << " N=" << N << " K=" << K;
          std::vector<int32_t> corr(static_cast<size_t>(N));
          std::vector<float> scale(static_cast<size_t>(N));
          for (int64_t n = 0; n < N; ++n) {
            corr[static_cast<size_t>(n)] = 37 * static_cast<int32_t>(n) - 300;
            scale[static_cast<size_t>(n)] = 3e-4f * static_cast<float>(n + 1);
          }
          const Requant ru{corr.data(), scale.data(), 9, 9, 255};
          std::vector<uint8_t> uwant(want.size()), ugot(want.size());
          ref::requantize_u8(M, N, want.data(), N, ru, uwant.data(), N);
          qgemm_u8s8_requant_u8(M, a.get(), lda, pw, ru, ugot.data(), N);
          ASSERT_EQ(ugot, uwant) << "u8 M=" << M << " N=" << N << " K=" << K;
          const Requant rs{corr.data(), scale.data(), -4, -128, 127};
          std::vector<int8_t> swant(want.size()), sgot(want.size());
          ref::requantize_s8(M, N, want.data(), N, rs, swant.data(), N);
          qgemm_u8s8_requant_s8(M, a.get(), lda, pw, rs, sgot.data(), N);
          ASSERT_EQ(sgot, swant) << "s8 M=" << M << " N=" << N << " K=" << K;
        }
}

// Shapes outside the kernel's domain (N > 16, K not whole 16s, K < 128) keep the 16-column-panel kernel (same sums, tested in
// qlinear_test.cc).
TEST_F(QgemmNarrow, OtherShapesKeepThePanelKernel) {
  std::vector<int8_t> w(17 * 144, 1);
  EXPECT_EQ(std::string(qgemm_kernel_name(8, qgemm_pack_w(17, 144, w.data()))), "avx512vnni u8s8");
  EXPECT_EQ(std::string(qgemm_kernel_name(8, qgemm_pack_w(16, 136, w.data()))), "avx512vnni u8s8");
  EXPECT_EQ(std::string(qgemm_kernel_name(8, qgemm_pack_w(16, 112, w.data()))), "avx512vnni u8s8");
  EXPECT_EQ(std::string(qgemm_kernel_name(8, qgemm_pack_w(16, 128, w.data()))), kNarrow);
}

// Implicit GEMM: 3×3 taps over a padded channels-last image, C a multiple of 16; the last row
// reads the image's last byte.
TEST_F(QgemmNarrow, TapsMatchExplicitRows) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  for (int64_t C : {16, 32, 48})
    for (int64_t N : {3, 16})
      for (int64_t Wp : {5, 9}) {
        const int64_t Hp = 7, taps = 9, K = taps * C, M = (Hp - 2) * Wp - 2;
        const size_t ibytes = static_cast<size_t>(Hp * Wp * C);
        auto img = exact<uint8_t>(ibytes);
        for (size_t i = 0; i < ibytes; ++i) img[i] = static_cast<uint8_t>(ud(rng));
        std::vector<int8_t> w(static_cast<size_t>(N * K));
        for (auto& v : w) v = static_cast<int8_t>(sd(rng));
        std::vector<int64_t> off;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) off.push_back((kh * Wp + kw) * C);
        std::vector<uint8_t> rows(static_cast<size_t>(M * K));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t c = 0; c < C; ++c)
              rows[static_cast<size_t>(m * K + t * C + c)] = img[static_cast<size_t>(m * C + off[static_cast<size_t>(t)] + c)];
        std::vector<int32_t> acc(static_cast<size_t>(M * N)), corr(static_cast<size_t>(N), -2000);
        std::vector<float> scale(static_cast<size_t>(N), 1.5e-4f);
        const Requant rq{corr.data(), scale.data(), 20, 20, 255};
        ref::qgemm_u8s8(M, N, K, rows.data(), K, w.data(), K, acc.data(), N);
        std::vector<uint8_t> want(static_cast<size_t>(M * N)), got(want.size());
        ref::requantize_u8(M, N, acc.data(), N, rq, want.data(), N);
        const QgemmPackedW pw = qgemm_pack_w(N, K, w.data());
        ASSERT_EQ(std::string(qgemm_kernel_name(M, pw)), kNarrow);
        qgemm_taps_requant_u8(M, C, off.data(), taps, img.get(), C, pw, rq, got.data(), N);
        EXPECT_EQ(got, want) << "C=" << C << " N=" << N << " Wp=" << Wp;
      }
}

}  // namespace
}  // namespace lowbit::kernels
