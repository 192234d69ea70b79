// ref::matmul_integer (ONNX MatMulInteger): every operand type pair against an int64 sum, with
// scalar, per-row and per-column zero points, and the int32 wrap-around of a long K.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lowbit/kernels/int_matmul_ref.h"

namespace lowbit::kernels::ref {
namespace {

template <typename TA, typename TB>
void check_pair(uint32_t seed) {
  const int64_t M = 5, N = 7, K = 13;
  std::mt19937 rng(seed);
  std::vector<TA> a(M * K);
  std::vector<TB> b(K * N);
  for (auto& v : a) v = static_cast<TA>(rng());
  for (auto& v : b) v = static_cast<TB>(rng());
  std::vector<int32_t> za(M), zb(N);
  for (auto& v : za) v = static_cast<TA>(rng());
  for (auto& v : zb) v = static_cast<TB>(rng());
  for (const IntMatmulZeroPoints& z : {IntMatmulZeroPoints{}, IntMatmulZeroPoints{za.data(), false, zb.data(), false},
                                       IntMatmulZeroPoints{za.data(), true, zb.data(), true}}) {
    std::vector<int32_t> acc(M * N);
    matmul_integer(M, N, K, a.data(), b.data(), z, acc.data());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t am = z.a_zp ? z.a_zp[z.a_zp_per_row ? m : 0] : 0, bn = z.b_zp ? z.b_zp[z.b_zp_per_col ? n : 0] : 0;
        int64_t want = 0;
        for (int64_t k = 0; k < K; ++k) want += (int64_t(a[m * K + k]) - am) * (int64_t(b[k * N + n]) - bn);
        ASSERT_EQ(acc[m * N + n], want) << m << "," << n;
      }
  }
}

TEST(IntMatmulRef, EveryTypePairAndZeroPointLayout) {
  check_pair<uint8_t, uint8_t>(1);
  check_pair<uint8_t, int8_t>(2);
  check_pair<int8_t, uint8_t>(3);
  check_pair<int8_t, int8_t>(4);
}

TEST(IntMatmulRef, LongSumsWrapModulo2To32) {
  const int64_t K = 40000;  // 255 * 255 * K > 2^31
  const std::vector<uint8_t> a(K, 255), b(K, 255);
  int32_t acc = 0;
  matmul_integer(1, 1, K, a.data(), b.data(), IntMatmulZeroPoints{}, &acc);
  EXPECT_EQ(acc, static_cast<int32_t>(static_cast<uint32_t>(uint64_t{255 * 255} * K)));
}

}  // namespace
}  // namespace lowbit::kernels::ref
