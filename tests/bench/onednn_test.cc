// The oneDNN baselines compute what they claim: the int8 matmul agrees with our exact integer
// GEMM (up to oneDNN's u8 shift), the fp32 matmul with a double-precision product.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "lowbit/bench/onednn_matmul.h"
#include "lowbit/quant/int_gemm.h"

namespace lowbit::bench {
namespace {

Tensor codes(const Shape& s, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  Tensor t = Tensor::empty(s, DType::i8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
  return t;
}

// oneDNN computes Σ (a + 128)·b with a + 128 as u8: equal to ours plus 128·Σ_k b[n, k].
TEST(OnednnMatmul, Int8AgreesWithExactIntGemm) {
  const int64_t M = 33, N = 65, K = 257;
  const Tensor A = codes({M, K}, -128, 127, 3), B = codes({N, K}, -128, 127, 4);
  std::vector<uint8_t> au(M * K);
  for (int64_t i = 0; i < M * K; ++i) au[i] = static_cast<uint8_t>(A.data<int8_t>()[i] + 128);
  OnednnMatmul mm(OnednnMatmul::Kind::u8s8s32, M, N, K, B.data<int8_t>());
  std::vector<int32_t> dn(M * N);
  mm.run(au.data(), dn.data());
  const Tensor C = quant::int_gemm(A, B, quant::AccumulatorSpec::exact());
  for (int64_t n = 0; n < N; ++n) {
    int32_t colsum = 0;
    for (int64_t k = 0; k < K; ++k) colsum += B.data<int8_t>()[n * K + k];
    for (int64_t m = 0; m < M; ++m) ASSERT_EQ(C.data<int32_t>()[m * N + n] + 128 * colsum, dn[m * N + n]);
  }
}

// fp32: C = A·Bᵀ within the bound of any summation order, K·eps·Σ_k |a_k b_k|.
TEST(OnednnMatmul, F32AgreesWithDoubleProduct) {
  const int64_t M = 9, N = 17, K = 130;
  std::mt19937 rng(6);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> A(M * K), B(N * K), C(M * N);
  for (float& v : A) v = d(rng);
  for (float& v : B) v = d(rng);
  OnednnMatmul mm(OnednnMatmul::Kind::f32, M, N, K, B.data());
  mm.run(A.data(), C.data());
  const double eps = std::numeric_limits<float>::epsilon();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double want = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        want += double{A[m * K + k]} * B[n * K + k];
        mag += std::fabs(double{A[m * K + k]} * B[n * K + k]);
      }
      ASSERT_NEAR(C[m * N + n], want, static_cast<double>(K) * eps * mag) << m << "," << n;
    }
}

}  // namespace
}  // namespace lowbit::bench
