// Finite-difference gradient checking for ops on Vars.
//
// For an op y = f(x1..xn) we check the scalar L = sum_j w_j y_j (w fixed, random), so every
// output element's gradient path is exercised. Central differences are taken with step h in
// float inputs while L is accumulated in double. Error model: the float forward perturbs each
// output by about eps32 * |y_j| * c (c = a small conditioning factor of the op), so L carries
// noise ~ eps32 * c * S with S = sum_j |w_j y_j|, and the difference quotient inherits
// eps32 * c * S / h; truncation adds O(h^2) for smooth ops. Tolerance per element:
//   tol = 4 * eps32 * c * S / h + 1e-3 * |g| + h^2,
// where c is passed by the test (e.g. the reduction length of a GEMM).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "lowbit/core/rng.h"
#include "lowbit/ops/ops.h"

namespace lowbit::testing {

inline Tensor random_tensor(const Shape& s, uint64_t seed, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  normal_fill(seed, 7, 0, t.numel(), t.data<float>());
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= scale;
  return t;
}

// Values that are pairwise at least `gap` apart and at least gap/2 away from 0 (a shuffled
// grid), so that kinks of ReLU and max-pooling lie beyond the finite-difference step.
inline Tensor distinct_tensor(const Shape& s, uint64_t seed, float gap = 0.05f) {
  Tensor t = Tensor::empty(s);
  const int64_t n = t.numel();
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  Rng rng(seed, 3);
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = gap * (static_cast<float>(perm[i] - n / 2) + 0.5f);
  return t;
}

inline void gradcheck(const std::function<Var(const std::vector<Var>&)>& f, std::vector<Tensor> inputs,
                      double conditioning = 1.0, float h = 1e-2f, uint64_t seed = 99) {
  std::vector<Var> vars;
  for (auto& t : inputs) vars.emplace_back(t, true);
  const Var y = f(vars);
  const Tensor w = random_tensor(y.shape(), seed);
  const Var loss = sum(mul(y, Var(w)));
  loss.backward();

  auto eval = [&](std::vector<Var> vs) {
    NoGradGuard g;
    const Var out = f(vs);
    const auto yv = out.value().to_vector();
    const auto wv = w.to_vector();
    double l = 0, s = 0;
    for (size_t i = 0; i < yv.size(); ++i) {
      l += double(wv[i]) * yv[i];
      s += std::fabs(double(wv[i]) * yv[i]);
    }
    return std::pair<double, double>{l, s};
  };
  const double eps32 = 1.1920929e-7;
  for (size_t k = 0; k < inputs.size(); ++k) {
    ASSERT_TRUE(vars[k].grad().defined()) << "no gradient for input " << k;
    const auto g = vars[k].grad().to_vector();
    const int64_t n = inputs[k].numel();
    const int64_t stride = std::max<int64_t>(1, n / 64);  // at most ~64 probes per input
    for (int64_t i = 0; i < n; i += stride) {
      std::vector<Var> plus, minus;
      for (size_t j = 0; j < inputs.size(); ++j) {
        Tensor tp = inputs[j].clone(), tm = inputs[j].clone();
        if (j == k) {
          tp.data<float>()[i] += h;
          tm.data<float>()[i] -= h;
        }
        plus.emplace_back(tp);
        minus.emplace_back(tm);
      }
      const auto [lp, sp] = eval(plus);
      const auto [lm, sm] = eval(minus);
      const double numeric = (lp - lm) / (2.0 * h);
      const double tol = 4 * eps32 * conditioning * std::max(sp, sm) / h + 1e-3 * std::fabs(g[i]) + double(h) * h;
      EXPECT_NEAR(g[i], numeric, tol) << "input " << k << " element " << i;
    }
  }
}

}  // namespace lowbit::testing
