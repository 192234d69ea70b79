// Helpers for the fp32 kernel tests: seeded random buffers, NCHW/NHWC relayout and the derived-tolerance compare.
// Tolerance model: a float result of a length-L sum differs from the exact sum by at most
// L * u * sum|terms| (u = 2^-24, any order, FMA or not), so every check takes the magnitude
// sum|terms| per element (computed by the double reference on absolute values) and L.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/core/rng.h"

namespace lowbit::kernels::testing {

constexpr double kUnit = 0x1p-24;  // unit roundoff of float

// Uniform in [lo, hi), deterministic for a seed (Philox stream 7 of lowbit's RNG).
inline std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  uniform_fill(seed, 7, 0, n, v.data());
  for (auto& x : v) x = lo + (hi - lo) * x;
  return v;
}

inline std::vector<float> abs_of(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::fabs(v[i]);
  return out;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// (N, C, HW) NCHW -> NHWC (to_nhwc) or back.
inline std::vector<float> relayout(const std::vector<float>& v, bool to_nhwc, int64_t N, int64_t C, int64_t HW) {
  std::vector<float> out(v.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) {
        const size_t a = static_cast<size_t>((n * C + c) * HW + p), b = static_cast<size_t>((n * HW + p) * C + c);
        if (to_nhwc) out[b] = v[a];
        else out[a] = v[b];
      }
  return out;
}

// Expects |fast - ref| <= (L * mag + 2 * |ref|) * u elementwise (the 2|ref|u covers the
// reference's own final rounding and the fast path's). Reports the worst element.
inline void expect_close(const std::vector<float>& fast, const std::vector<float>& ref,
                         const std::vector<float>& mag, double L, const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size()) << what;
  ASSERT_EQ(mag.size(), ref.size()) << what;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = (L * mag[i] + 2.0 * std::fabs(ref[i])) * kUnit + 1e-30;
    const double excess = std::fabs(double(fast[i]) - double(ref[i])) / tol;
    if (!(excess <= worst)) {  // also catches NaN
      worst = std::isnan(excess) ? INFINITY : excess;
      worst_i = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": element " << worst_i << " fast=" << fast[worst_i] << " ref=" << ref[worst_i]
                        << " mag=" << mag[worst_i] << " L=" << L;
}

// Same tolerance with one magnitude for every element.
inline void expect_close(const std::vector<float>& fast, const std::vector<float>& ref, double mag, double L,
                         const std::string& what) {
  expect_close(fast, ref, std::vector<float>(ref.size(), static_cast<float>(mag)), L, what);
}

}  // namespace lowbit::kernels::testing
