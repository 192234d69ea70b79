// LRN, GroupNormalization and MeanVarianceNormalization (norm_extra.h) against hand-computed
// values in float and double: the window clipped at both channel ends, an even window, the
// per-group scale/bias, and groups given by an index array.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lowbit/kernels/norm_extra.h"

namespace lowbit::kernels {
namespace {

// Float: one rounding to float of a value computed in double (2^-24 relative) plus margin;
// double: a handful of double roundings (sum, sqrt, divide) against the expression here.
template <typename T>
double tol(double v) {
  return (sizeof(T) == 4 ? 0x1p-23 : 0x1p-48) * std::fabs(v) + 1e-300;
}

template <typename T>
void check(const std::vector<T>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(double(got[i]), want[i], tol<T>(want[i])) << "element " << i;
}

template <typename T>
void lrn_case() {
  const std::vector<T> x = {1, 2, 3, -1, 0, 4};  // (N 2, C 3, inner 1)
  std::vector<T> y(6);
  // size 3, alpha / size = 1, beta 1, bias 1: windows {0,1}, {0,1,2}, {1,2}.
  lrn<T>(2, 3, 1, 3, 3.0, 1.0, 1.0, x.data(), y.data());
  check(y, {1.0 / 6, 2.0 / 15, 3.0 / 14, -1.0 / 2, 0.0, 4.0 / 17});
  // size 2 (window [c, c + 1]), beta 0.5, bias 2, alpha / size = 0.5.
  lrn<T>(2, 3, 1, 2, 1.0, 0.5, 2.0, x.data(), y.data());
  check(y, {1 / std::sqrt(4.5), 2 / std::sqrt(8.5), 3 / std::sqrt(6.5), -1 / std::sqrt(2.5), 0.0, 4 / std::sqrt(10.0)});
}

template <typename T>
void group_norm_case() {
  const std::vector<T> x = {1, 3, 2, 2, 0, 4}, scale = {2, -1, 1}, bias = {0, 5, 1};  // 3 blocks of 2
  std::vector<T> y(6);
  group_norm<T>(3, 3, 2, x.data(), scale.data(), bias.data(), 1.0, y.data());
  // block 0: mean 2, var 1 -> (x - 2) / sqrt(2) * 2; block 1: var 0 -> bias 5; block 2: mean 2, var 4.
  check(y, {-2 / std::sqrt(2.0), 2 / std::sqrt(2.0), 5.0, 5.0, 1 - 2 / std::sqrt(5.0), 1 + 2 / std::sqrt(5.0)});
}

template <typename T>
void mvn_case() {
  const std::vector<T> x = {1, 10, 3, 20};
  const std::vector<int64_t> group = {0, 1, 0, 1};
  std::vector<double> stats(6);
  std::vector<T> y(4);
  mean_variance_normalize<T>(4, x.data(), group.data(), 2, stats.data(), y.data());
  // group 0: mean 2, var 1; group 1: mean 15, var 25.
  check(y, {-1 / (1 + 1e-9), -5 / (5 + 1e-9), 1 / (1 + 1e-9), 5 / (5 + 1e-9)});
}

TEST(NormExtra, LrnWindows) {
  lrn_case<float>();
  lrn_case<double>();
}
TEST(NormExtra, GroupNormPerGroupAffine) {
  group_norm_case<float>();
  group_norm_case<double>();
}
TEST(NormExtra, MeanVarianceByGroupIndex) {
  mvn_case<float>();
  mvn_case<double>();
}

}  // namespace
}  // namespace lowbit::kernels
