// The shared activation kernel (fp32_act.h): fast_exp / fast_erf against libm in double over
// dense sweeps, every activation kind and the RNN gates against ref:: (double, libm) within
// tolerances derived from each formula's roundings, and the f64 overload.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/kernels/fp32_act.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels {
namespace {

using testing::kUnit;
using testing::random_floats;

// The vectorizable exp/erf against libm on a dense grid: the error bounds fp32_act.h states.
TEST(Fp32FastMath, ExpAndErfWithinStatedBounds) {
  double worst_exp = 0, worst_erf = 0;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = -87.0f + 175.0f * static_cast<float>(i) / 2000000.0f;
    const double e = std::exp(static_cast<double>(x));
    worst_exp = std::max(worst_exp, std::fabs(fast_exp(x) - e) / e);
    const float z = -6.0f + 12.0f * static_cast<float>(i) / 2000000.0f;
    worst_erf = std::max(worst_erf, std::fabs(fast_erf(z) - std::erf(static_cast<double>(z))));
  }
  EXPECT_LE(worst_exp, 2 * 0x1p-23);            // 2 ulp relative
  EXPECT_LE(worst_erf, 1.5e-7 + 12 * 0x1p-24);  // A&S 7.1.26 bound plus ~12 float roundings
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_GT(fast_exp(-1000.0f), 0.0f);      // clamped, never 0 or NaN
  EXPECT_EQ(fast_exp(1000.0f), INFINITY);   // overflows like expf, never NaN
  EXPECT_EQ(fast_erf(-2.0f), -fast_erf(2.0f));  // odd by construction
}

// Per-kind bound on |fast - ref| for input x and reference value r (u = 2^-24).
double act_tolerance(const Activation& act, double x, double r) {
  const double ax = std::fabs(x), ar = std::fabs(r);
  switch (act.kind) {
    case Act::none: case Act::relu: case Act::clip: case Act::leaky_relu: return 0;  // one rounding or none: exact
    case Act::sigmoid: return 8 * kUnit * ar + 1e-37;     // fast_exp 4u, add, divide
    case Act::silu: return 8 * kUnit * ar + 1e-37;        // the same, x in place of 1
    case Act::tanh: return 4 * kUnit * ar + 1e-37;        // libm tanhf: <= 2 ulp
    case Act::hardswish: return 4 * kUnit * (ax + ar);   // x/6, +0.5, clamp, multiply
    case Act::hardsigmoid: return 4 * kUnit * (std::fabs(act.a) * ax + std::fabs(act.b) + ar);
    case Act::gelu: return 0.5 * ax * 9e-7 + 4 * kUnit * (ax + ar);  // fast_erf's absolute error, scaled by x/2
    case Act::gelu_tanh:  // inner polynomial (4 roundings, tanh' <= 1), tanhf, then 0.5 x (1 + t)
      return 0.5 * ax * kUnit * (4 * 0.8 * (ax + 0.045 * ax * ax * ax) + 4) + 4 * kUnit * (ax + ar);
    case Act::elu: case Act::selu: case Act::celu: case Act::mish: case Act::thresholded_relu: case Act::shrink:
      return 0;  // computed in double like the reference, rounded once: exact
  }
  return 0;
}

TEST(Fp32Activation, EveryKindMatchesReference) {
  std::vector<float> x = random_floats(10007, 31, -8.0f, 8.0f);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 6.0f, -3.0f, 3.0f, 30.0f, -30.0f, 90.0f, -90.0f}) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  const Activation kinds[] = {{Act::none}, {Act::relu}, {Act::clip, -0.5f, 2.0f}, {Act::sigmoid}, {Act::tanh},
                              {Act::hardswish}, {Act::hardsigmoid, 0.2f, 0.5f}, {Act::leaky_relu, 0.01f},
                              {Act::gelu}, {Act::gelu_tanh}, {Act::silu}};
  for (const Activation& act : kinds) {
    std::vector<float> fast(x.size()), ref(x.size());
    activation_forward(act, n, x.data(), fast.data());
    ref::activation_forward(act, n, x.data(), ref.data());
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double err = std::fabs(double(fast[i]) - double(ref[i]));
      const double tol = act_tolerance(act, x[i], ref[i]);
      const double excess = err <= tol ? 0 : (tol > 0 ? err / tol : INFINITY);
      if (!(excess <= worst)) worst = std::isnan(excess) ? INFINITY : excess, at = i;
    }
    EXPECT_LE(worst, 1.0) << "kind " << int(act.kind) << " x=" << x[at] << " fast=" << fast[at] << " ref=" << ref[at];
    // In place (y aliases x) gives the same values.
    std::vector<float> inplace = x;
    activation_forward(act, n, inplace.data(), inplace.data());
    EXPECT_EQ(0, std::memcmp(inplace.data(), fast.data(), fast.size() * sizeof(float))) << "kind " << int(act.kind);
  }
}

// The kinds the ONNX engine evaluates in double per element: fast and reference agree bit for
// bit (both are the double formula rounded once), in float and in double.
TEST(Fp32Activation, DoublePrecisionKindsEqualReference) {
  std::vector<float> xf = random_floats(5003, 34, -40.0f, 40.0f);
  for (float v : {0.0f, -0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 1e-8f, 700.0f, -700.0f}) xf.push_back(v);
  const std::vector<double> xd(xf.begin(), xf.end());
  const int64_t n = static_cast<int64_t>(xf.size());
  const Activation kinds[] = {{Act::elu, 0.7f}, {Act::selu, 1.67326319217681884765625f, 1.05070102214813232421875f},
                              {Act::celu, 1.5f}, {Act::mish}, {Act::thresholded_relu, 1.0f}, {Act::shrink, 0.1f, 0.5f}};
  for (const Activation& act : kinds) {
    std::vector<float> f(xf.size()), fr(xf.size());
    activation_forward(act, n, xf.data(), f.data());
    ref::activation_forward(act, n, xf.data(), fr.data());
    EXPECT_EQ(0, std::memcmp(f.data(), fr.data(), f.size() * sizeof(float))) << "kind " << int(act.kind);
    std::vector<double> d(xd.size()), dr(xd.size());
    activation_forward(act, n, xd.data(), d.data());
    ref::activation_forward(act, n, xd.data(), dr.data());
    for (size_t i = 0; i < xd.size(); ++i) ASSERT_EQ(d[i], dr[i]) << "kind " << int(act.kind) << " x=" << xd[i];
  }
  // Hand values: Shrink(bias 0.1, lambd 0.5) and ThresholdedRelu(1).
  const float hx[] = {-1.0f, -0.5f, 0.25f, 0.75f, 1.0f, 2.0f};
  float hy[6];
  activation_forward({Act::shrink, 0.1f, 0.5f}, 6, hx, hy);
  EXPECT_EQ(std::vector<float>(hy, hy + 6), (std::vector<float>{-0.9f, 0.0f, 0.0f, float(0.75 - double(0.1f)), 0.9f, 1.9f}));
  activation_forward({Act::thresholded_relu, 1.0f}, 6, hx, hy);
  EXPECT_EQ(std::vector<float>(hy, hy + 6), (std::vector<float>{0, 0, 0, 0, 0, 2}));
}

TEST(Fp32Activation, DoubleOverloadMatchesReference) {
  const std::vector<float> xf = random_floats(999, 32, -6.0f, 6.0f);
  const std::vector<double> x(xf.begin(), xf.end());
  for (Act kind : {Act::relu, Act::sigmoid, Act::tanh, Act::gelu}) {
    std::vector<double> fast(x.size()), ref(x.size());
    activation_forward({kind}, static_cast<int64_t>(x.size()), x.data(), fast.data());
    ref::activation_forward(Activation{kind}, static_cast<int64_t>(x.size()), x.data(), ref.data());
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(fast[i], ref[i], 4e-16 * (1 + std::fabs(ref[i]))) << "kind " << int(kind) << " x=" << x[i];
  }
}

TEST(Fp32Activation, RnnGatesMatchReference) {
  for (float clip : {0.0f, 3.0f}) {
    const std::vector<float> x = random_floats(4099, 33, -25.0f, 25.0f);
    std::vector<float> s = x, t = x, rs = x, rt = x;
    sigmoid_inplace(static_cast<int64_t>(s.size()), s.data(), clip);
    tanh_inplace(static_cast<int64_t>(t.size()), t.data(), clip);
    ref::sigmoid_inplace(static_cast<int64_t>(rs.size()), rs.data(), clip);
    ref::tanh_inplace(static_cast<int64_t>(rt.size()), rt.data(), clip);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(s[i], rs[i], 8 * kUnit * std::fabs(rs[i]) + 1e-37) << "sigmoid clip " << clip << " x=" << x[i];
      ASSERT_NEAR(t[i], rt[i], 8 * kUnit) << "tanh clip " << clip << " x=" << x[i];  // a few ulp of 1
    }
  }
}

}  // namespace
}  // namespace lowbit::kernels
