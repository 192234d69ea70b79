// Standardized ordinary least squares (normal equations, Gaussian elimination with partial
// pivoting: a handful of features, so conditioning after standardization is benign).
#include <cmath>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/report.h"

namespace lowbit::paradnn {

Regression fit_standardized(const std::vector<std::vector<double>>& X, const std::vector<double>& y) {
  const size_t n = X.size(), p = n ? X[0].size() : 0;
  LOWBIT_REQUIRE(n == y.size(), "regression", "{} rows of features but {} targets", n, y.size());
  LOWBIT_REQUIRE(n > p + 1, "regression", "{} rows for {} features: need more rows than features + 1", n, p);
  std::vector<double> mean(p, 0), sd(p, 0);
  for (const auto& r : X) {
    LOWBIT_REQUIRE(r.size() == p, "regression", "ragged feature rows ({} vs {})", r.size(), p);
    for (size_t j = 0; j < p; ++j) mean[j] += r[j] / n;
  }
  for (const auto& r : X)
    for (size_t j = 0; j < p; ++j) sd[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / n;
  for (size_t j = 0; j < p; ++j) {
    sd[j] = std::sqrt(sd[j]);
    LOWBIT_REQUIRE(sd[j] > 0, "regression", "feature {} is constant", j);
  }
  const size_t q = p + 1;  // intercept first
  std::vector<std::vector<double>> a(q, std::vector<double>(q + 1, 0));
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> z(q, 1.0);
    for (size_t j = 0; j < p; ++j) z[j + 1] = (X[i][j] - mean[j]) / sd[j];
    for (size_t r = 0; r < q; ++r) {
      for (size_t c = 0; c < q; ++c) a[r][c] += z[r] * z[c];
      a[r][q] += z[r] * y[i];
    }
  }
  for (size_t c = 0; c < q; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < q; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    std::swap(a[c], a[piv]);
    LOWBIT_REQUIRE(std::fabs(a[c][c]) > 1e-12 * n, "regression", "features are collinear");
    for (size_t r = 0; r < q; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k <= q; ++k) a[r][k] -= f * a[c][k];
    }
  }
  Regression out;
  out.intercept = a[0][q] / a[0][0];
  for (size_t j = 0; j < p; ++j) out.coef.push_back(a[j + 1][q] / a[j + 1][j + 1]);
  double ybar = 0, ss_tot = 0, ss_res = 0;
  for (double v : y) ybar += v / n;
  for (size_t i = 0; i < n; ++i) {
    double pred = out.intercept;
    for (size_t j = 0; j < p; ++j) pred += out.coef[j] * (X[i][j] - mean[j]) / sd[j];
    ss_res += (y[i] - pred) * (y[i] - pred);
    ss_tot += (y[i] - ybar) * (y[i] - ybar);
  }
  out.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  return out;
}

}  // namespace lowbit::paradnn
