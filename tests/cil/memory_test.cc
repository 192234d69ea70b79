// Herding against hand-worked and brute-force answers; the memory budget; NME class means.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lowbit/cil/memory.h"
#include "lowbit/core/rng.h"

namespace lowbit::cil {
namespace {

// Herding straight from its definition, in double: the reference the fast loop must match.
std::vector<int64_t> herding_reference(const Tensor& x, int64_t m) {
  const int64_t n = x.size(0), d = x.size(1);
  std::vector<std::vector<double>> phi(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(d)));
  std::vector<double> mu(static_cast<size_t>(d), 0.0), s(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) norm += std::pow(x.data<float>()[i * d + j], 2);
    norm = std::sqrt(norm);
    for (int64_t j = 0; j < d; ++j) phi[i][j] = x.data<float>()[i * d + j] / norm;
    for (int64_t j = 0; j < d; ++j) mu[j] += phi[i][j] / static_cast<double>(n);
  }
  std::vector<int64_t> out;
  std::vector<bool> taken(static_cast<size_t>(n), false);
  for (int64_t k = 1; k <= std::min(m, n); ++k) {
    int64_t best = -1;
    double best_dist = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      if (taken[i]) continue;
      double dist = 0;
      for (int64_t j = 0; j < d; ++j) dist += std::pow(mu[j] - (s[j] + phi[i][j]) / static_cast<double>(k), 2);
      if (dist < best_dist) best_dist = dist, best = i;
    }
    taken[best] = true;
    out.push_back(best);
    for (int64_t j = 0; j < d; ++j) s[j] += phi[best][j];
  }
  return out;
}

TEST(Herding, HandWorkedExample) {
  // Normalized rows a = (1, 0), b = (0, 1), c = (0.6, 0.8); mu = (0.533, 0.6).
  // k=1: |mu - c|^2 = 0.044 < |mu - b|^2 = 0.444 < |mu - a|^2 = 0.578  -> c
  // k=2: |mu - (c+a)/2|^2 = 0.111 < |mu - (c+b)/2|^2 = 0.144          -> a, then b.
  // Rows are given unnormalized to check that herding normalizes them.
  const Tensor x = Tensor::from({3, 2}, {5, 0, 0, 2, 3, 4});
  EXPECT_EQ(herding_select(x, 3), (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(herding_select(x, 1), (std::vector<int64_t>{2}));
  EXPECT_EQ(herding_select(x, 10), (std::vector<int64_t>{2, 0, 1}));  // budget above N: everything
  EXPECT_TRUE(herding_select(x, 0).empty());
  EXPECT_THROW(herding_select(Tensor::zeros({3}), 1), ValueError);
}

TEST(Herding, MatchesTheDefinitionOnRandomFeatures) {
  for (const auto& [n, d] : std::vector<std::pair<int64_t, int64_t>>{{50, 3}, {300, 37}, {1000, 64}}) {
    Tensor x = Tensor::empty({n, d});
    normal_fill(42, static_cast<uint64_t>(n), 0, n * d, x.data<float>());
    for (int64_t i = 0; i < n * d; ++i) x.data<float>()[i] = std::abs(x.data<float>()[i]);  // ReLU-like features
    EXPECT_EQ(herding_select(x, 20), herding_reference(x, 20)) << n << "x" << d;
  }
}

TEST(Herding, PrefixIsHerdingWithTheSmallerBudget) {
  Tensor x = Tensor::empty({200, 8});
  normal_fill(3, 0, 0, 200 * 8, x.data<float>());
  const auto big = herding_select(x, 50), small = herding_select(x, 10);
  EXPECT_EQ(std::vector<int64_t>(big.begin(), big.begin() + 10), small);
}

TEST(ExemplarMemory, BudgetSplitsEvenlyAndReduces) {
  ExemplarMemory mem(10);
  EXPECT_EQ(mem.per_class(2), 5);
  EXPECT_EQ(mem.per_class(3), 3);  // floor: one slot unused
  mem.set_class(1, {10, 11, 12, 13, 14});
  mem.set_class(0, {0, 1, 2, 3, 4});
  EXPECT_EQ(mem.size(), 10);
  EXPECT_EQ(mem.classes(), (std::vector<int>{0, 1}));
  mem.reduce(4);  // two new classes arrive: 10 / 4 = 2 each, keeping the herding prefix
  EXPECT_EQ(mem.exemplars(0), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(mem.exemplars(1), (std::vector<int64_t>{10, 11}));
  mem.set_class(2, {20, 21});
  EXPECT_EQ(mem.all(), (std::vector<int64_t>{0, 1, 10, 11, 20, 21}));
  EXPECT_LE(mem.size(), mem.total());
  EXPECT_THROW(mem.exemplars(7), ValueError);
  EXPECT_THROW(mem.per_class(0), ValueError);
  EXPECT_THROW(ExemplarMemory(-1), ValueError);
}

TEST(Nme, MeansOfNormalizedFeaturesAndNearestPrediction) {
  // Class 0: (2, 0) and (0, 3) -> normalized mean (0.5, 0.5) -> (0.707, 0.707). Class 1: (-1, 0).
  const Tensor f = Tensor::from({3, 2}, {2, 0, 0, 3, -4, 0});
  const std::vector<int32_t> y = {0, 0, 1};
  const Tensor means = class_means(f, Tensor::from<int32_t>({3}, y), 3);
  ASSERT_EQ(means.shape(), (Shape{3, 2}));
  const float h = std::sqrt(0.5f);
  const std::vector<float> expected = {h, h, -1, 0, 0, 0};  // class 2 has no rows: zero mean
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(means.to_vector()[i], expected[i], 1e-6f);
  const Tensor pred = nme_predict(Tensor::from({3, 2}, {10, 9, -1, 0.5f, 0.1f, -0.2f}), means.narrow(0, 0, 2).contiguous());
  EXPECT_EQ(pred.to_vector(), (std::vector<float>{0, 1, 0}));
  EXPECT_THROW(class_means(f, Tensor::from<int32_t>({3}, std::vector<int32_t>{0, 5, 1}), 3), ValueError);
}

}  // namespace
}  // namespace lowbit::cil
