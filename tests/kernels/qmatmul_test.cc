// Products of two quantized activations (qmatmul.h): every path the CPU supports must equal the
// scalar reference bit for bit — int32 sums, uint8/int8 requantization and float results — for
// all four operand type pairs, any zero points, odd shapes (K not a multiple of 4, masked column
// tails, several row blocks), strided operands, and sums that wrap modulo 2^32; the reference
// itself must agree with ref::matmul_integer, the spec of MatMulInteger.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "isa_paths.h"
#include "lowbit/kernels/int_matmul_ref.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/qmatmul.h"
#include "lowbit/kernels/qmatmul_ref.h"

namespace lowbit::kernels {
namespace {

struct Codes {
  std::vector<uint8_t> bytes;
  QOperand op;
};
Codes random_operand(int64_t rows, int64_t cols, int64_t ld, bool is_signed, int32_t zp, std::mt19937& rng) {
  Codes c{std::vector<uint8_t>(static_cast<size_t>(rows * ld + 1)), {}};
  std::uniform_int_distribution<int> d(0, 255);
  for (auto& v : c.bytes) v = static_cast<uint8_t>(d(rng));
  c.op = QOperand{c.bytes.data(), ld, is_signed, zp};
  (void)cols;
  return c;
}

TEST(Qmatmul, EveryPathMatchesReference) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> ud(0, 255), sd(-128, 127);
  const Isa saved = active_isa();
  int64_t checked = 0;
  for (int64_t K : {1, 3, 4, 7, 16, 64, 129})
    for (int64_t N : {1, 3, 16, 17, 33, 64})
      for (int64_t M : {1, 5, 17, 65, 130}) {
        if (M * N * K > 300000) continue;
        for (int types = 0; types < 4; ++types) {
          const bool as = types & 1, bs = types & 2;
          const int32_t za = as ? sd(rng) : ud(rng), zb = bs ? sd(rng) : ud(rng);
          const Codes a = random_operand(M, K, K + 2, as, za, rng), b = random_operand(K, N, N + 1, bs, zb, rng);
          std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
          std::vector<uint8_t> want_u(want.size()), got_u(want.size());
          std::vector<int8_t> want_s(want.size()), got_s(want.size());
          std::vector<float> want_f(want.size()), got_f(want.size());
          const QMatmulRequant pu{0.37f / static_cast<float>(K), 128, 0, 255}, ps{0.21f / static_cast<float>(K), -3, -128, 127};
          const float fs = 1.0f / 3.0f;
          ref::qmatmul_s32(M, N, K, a.op, b.op, want.data(), N);
          ref::qmatmul_requant_u8(M, N, K, a.op, b.op, pu, want_u.data(), N);
          ref::qmatmul_requant_s8(M, N, K, a.op, b.op, ps, want_s.data(), N);
          ref::qmatmul_f32(M, N, K, a.op, b.op, fs, want_f.data(), N);
          for (Isa isa : isa_paths()) {
            set_active_isa(isa);
            const std::string what = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                                     " types=" + std::to_string(types) + " on " + std::string(isa_name(isa));
            qmatmul_s32(M, N, K, a.op, b.op, got.data(), N);
            EXPECT_EQ(got, want) << what;
            qmatmul_requant_u8(M, N, K, a.op, b.op, pu, got_u.data(), N);
            EXPECT_EQ(got_u, want_u) << what;
            qmatmul_requant_s8(M, N, K, a.op, b.op, ps, got_s.data(), N);
            EXPECT_EQ(got_s, want_s) << what;
            qmatmul_f32(M, N, K, a.op, b.op, fs, got_f.data(), N);
            EXPECT_EQ(got_f, want_f) << what;
            ++checked;
          }
          set_active_isa(saved);
        }
      }
  EXPECT_GT(checked, 400);
}

// The requantized codes are not all saturated: the scales above keep most outputs inside.
TEST(Qmatmul, RequantizedCodesSpanTheRange) {
  std::mt19937 rng(2);
  const int64_t M = 32, N = 32, K = 64;
  const Codes a = random_operand(M, K, K, false, 128, rng), b = random_operand(K, N, N, true, 0, rng);
  std::vector<uint8_t> y(static_cast<size_t>(M * N));
  qmatmul_requant_u8(M, N, K, a.op, b.op, QMatmulRequant{1.0f / 4096, 128, 0, 255}, y.data(), N);
  int inside = 0;
  for (uint8_t v : y) inside += v > 0 && v < 255;
  EXPECT_GT(inside, M * N * 9 / 10);
}

TEST(Qmatmul, ReferenceIsMatMulInteger) {
  std::mt19937 rng(4);
  const int64_t M = 9, N = 11, K = 13;
  for (int types = 0; types < 4; ++types) {
    const bool as = types & 1, bs = types & 2;
    const int32_t za = as ? -7 : 200, zb = bs ? 5 : 3;
    const Codes a = random_operand(M, K, K, as, za, rng), b = random_operand(K, N, N, bs, zb, rng);
    std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
    const ref::IntMatmulZeroPoints z{&za, false, &zb, false};
    const auto* pa = a.bytes.data();
    const auto* pb = b.bytes.data();
    const auto* sa = reinterpret_cast<const int8_t*>(pa);
    const auto* sb = reinterpret_cast<const int8_t*>(pb);
    if (!as && !bs) ref::matmul_integer(M, N, K, pa, pb, z, want.data());
    if (as && !bs) ref::matmul_integer(M, N, K, sa, pb, z, want.data());
    if (!as && bs) ref::matmul_integer(M, N, K, pa, sb, z, want.data());
    if (as && bs) ref::matmul_integer(M, N, K, sa, sb, z, want.data());
    ref::qmatmul_s32(M, N, K, a.op, b.op, got.data(), N);
    EXPECT_EQ(got, want) << types;
  }
}

// K = 0 (an empty product): every sum is 0 on every path, requantized to the zero point.
TEST(Qmatmul, EmptyDepthGivesZeros) {
  const Isa saved = active_isa();
  const uint8_t dummy[4] = {1, 2, 3, 4};
  const QOperand a{dummy, 0, false, 7}, b{dummy, 3, true, -2};
  for (Isa isa : isa_paths()) {
    set_active_isa(isa);
    std::vector<int32_t> c(6, 99);
    qmatmul_s32(2, 3, 0, a, b, c.data(), 3);
    EXPECT_EQ(c, std::vector<int32_t>(6, 0)) << isa_name(isa);
    std::vector<uint8_t> y(6, 0);
    qmatmul_requant_u8(2, 3, 0, a, b, QMatmulRequant{0.5f, 128, 0, 255}, y.data(), 3);
    EXPECT_EQ(y, std::vector<uint8_t>(6, 128)) << isa_name(isa);
  }
  set_active_isa(saved);
}

// Sums beyond int32: extreme codes and zero points at the deepest K the GEMM takes (65536) and
// beyond (the reference loops): every path wraps exactly like the reference.
TEST(Qmatmul, WrapsModulo2To32LikeTheReference) {
  const Isa saved = active_isa();
  for (int64_t K : {65536, 65540}) {
    const int64_t M = 2, N = 17;
    std::vector<uint8_t> a(static_cast<size_t>(M * K), 255);
    std::vector<uint8_t> b(static_cast<size_t>(K * N), 0);  // uint8 0 with zero point 255: −255 each
    a[5] = 0;
    const QOperand qa{a.data(), K, false, 0}, qb{b.data(), N, false, 255};
    std::vector<int32_t> want(static_cast<size_t>(M * N)), got(want.size());
    ref::qmatmul_s32(M, N, K, qa, qb, want.data(), N);
    EXPECT_NE(int64_t{want[1]}, -255LL * 255 * K);  // it did wrap
    for (Isa isa : isa_paths()) {
      set_active_isa(isa);
      qmatmul_s32(M, N, K, qa, qb, got.data(), N);
      EXPECT_EQ(got, want) << "K=" << K << " on " << isa_name(isa);
    }
    set_active_isa(saved);
  }
}

}  // namespace
}  // namespace lowbit::kernels
