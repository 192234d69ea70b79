// Kernels that left src/onnx/ops in round 3: Clip on every numeric type (kernels::clip) and the
// f64 GEMM of MatMul/Gemm (kernels::gemm_f64, beta * C included), against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/kernels/elementwise.h"
#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {
namespace {

template <typename T>
void clip_case(std::vector<T> x, T lo, T hi, const std::vector<T>& want) {
  std::vector<T> y(x.size());
  clip<T>(static_cast<int64_t>(x.size()), x.data(), lo, hi, y.data());
  EXPECT_EQ(y, want);
  clip<T>(static_cast<int64_t>(x.size()), x.data(), lo, hi, x.data());  // in place
  EXPECT_EQ(x, want);
}

TEST(Clip, EveryNumericTypeBothBounds) {
  clip_case<int8_t>({-128, -5, 0, 7, 127}, -4, 6, {-4, -4, 0, 6, 6});
  clip_case<uint8_t>({0, 3, 200, 255}, 2, 201, {2, 3, 200, 201});
  clip_case<int32_t>({-100000, 5, 100000}, -7, 7, {-7, 5, 7});
  clip_case<int64_t>({std::numeric_limits<int64_t>::min(), 0, std::numeric_limits<int64_t>::max()}, -1, 1, {-1, 0, 1});
  clip_case<uint64_t>({0, 10, ~uint64_t{0}}, 1, 9, {1, 9, 9});
  clip_case<double>({-2.5, 0.25, 3.0}, -1.0, 1.0, {-1.0, 0.25, 1.0});
  // Bounds at +-infinity leave values alone; NaN stays NaN.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> x = {-1e300, std::nan(""), 1e300}, y(3);
  clip<double>(3, x.data(), -inf, inf, y.data());
  EXPECT_EQ(y[0], -1e300);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(y[2], 1e300);
}

// C = alpha * op(A) op(B) + beta * C on 2x3 by 3x2, every transpose combination.
TEST(GemmF64, KnownValuesAllTransposesAndBeta) {
  const double A[6] = {1, 2, 3, 4, 5, 6};        // (2, 3); as A^T storage it is (3, 2)
  const double B[6] = {7, 8, 9, 10, 11, 12};     // (3, 2); as B^T storage it is (2, 3)
  const double At[6] = {1, 4, 2, 5, 3, 6};       // A transposed, (3, 2)
  const double Bt[6] = {7, 9, 11, 8, 10, 12};    // B transposed, (2, 3)
  const double AB[4] = {58, 64, 139, 154};
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      double C[4] = {1, 2, 3, 4};
      gemm_f64(ta, tb, 2, 2, 3, 0.5, ta ? At : A, ta ? 2 : 3, tb ? Bt : B, tb ? 3 : 2, -2.0, C, 2);
      for (int i = 0; i < 4; ++i) EXPECT_EQ(C[i], 0.5 * AB[i] - 2.0 * (i + 1)) << ta << tb << " " << i;
    }
  double C[4] = {std::nan(""), std::nan(""), std::nan(""), std::nan("")};  // beta 0 never reads C
  gemm_f64(false, false, 2, 2, 3, 1.0, A, 3, B, 2, 0.0, C, 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(C[i], AB[i]);
}

}  // namespace
}  // namespace lowbit::kernels
