// Harness for the ONNX gradient tests: a tiny graph built twice (float32 for Backprop, float64
// as the oracle), an MSE loss against a random target, and every input's gradient compared
// element by element with double-precision central differences of the float64 forward.
// Tolerance: float32 rounding of a reduction of length K is at most about K·u relative
// (u = 2^-24), so |vjp − fd| <= 4·K·u·G, G the largest gradient magnitude, plus the
// difference quotient's own h² truncation and ε64/h rounding (negligible at h = 1e-5).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/grad.h"
#include "test_util.h"

namespace lowbit::onnx::test {

// Builds the graph for element type `elem` from the differentiable inputs (already declared).
using GradBody = std::function<int(GraphBuilder& b, const std::vector<int>& xs, ElemType elem)>;

struct GradCase {
  std::string name;
  std::vector<Shape> inputs;            // differentiable graph inputs x0, x1, ...
  GradBody body;
  std::vector<std::pair<double, double>> range;  // per input [lo, hi] (default [-1, 1], |x| >= 0.05)
  int opset = 17;
  // float64 oracle when the engine has no float64 kernel for the op (Conv): inputs -> output.
  std::function<Array(const std::vector<Array>&)> forward64;
};

// An array of elem type holding `v` (the test's float values, exact in both types).
inline Array typed(ElemType elem, const Shape& s, const std::vector<double>& v) {
  if (elem == ElemType::f64) return Array::from<double>(s, std::span<const double>(v));
  std::vector<float> f(v.begin(), v.end());
  return Array::from<float>(s, std::span<const float>(f));
}

inline int typed_const(GraphBuilder& b, ElemType elem, const std::string& name, const Shape& s,
                       const std::vector<double>& v) {
  return b.constant(name, typed(elem, s, v));
}

inline Graph build_case(const GradCase& c, ElemType elem) {
  GraphBuilder b(c.opset);
  std::vector<int> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) xs.push_back(b.input(fmt::format("x{}", i), elem, c.inputs[i]));
  b.output(c.body(b, xs, elem), "y");
  return b.finish();
}

inline std::vector<double> random_values(std::mt19937& rng, int64_t n, double lo, double hi) {
  std::uniform_real_distribution<float> u(static_cast<float>(lo), static_cast<float>(hi));
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) {
    do x = u(rng);
    while (lo < 0 && hi > 0 && std::fabs(x) < 0.05);  // keep clear of kinks at 0 (Relu, Clip...)
  }
  return v;
}

inline double mse64(const Array& y, const std::vector<double>& t) {
  const double B = y.dim() > 0 ? static_cast<double>(y.shape()[0]) : 1.0;
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += std::pow(y.get_f64(i) - t[static_cast<size_t>(i)], 2);
  return s / B;
}

inline void check_grad_case_seed(const GradCase& c, uint32_t seed) {
  SCOPED_TRACE(c.name);
  std::mt19937 rng(seed);
  const Graph g32 = build_case(c, ElemType::f32);
  std::vector<std::vector<double>> vals;
  std::vector<Array> x32, x64;
  std::vector<std::string> names;
  int64_t K = 1;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const auto r = i < c.range.size() ? c.range[i] : std::pair<double, double>{-1, 1};
    vals.push_back(random_values(rng, checked_numel(c.inputs[i], "test"), r.first, r.second));
    x32.push_back(typed(ElemType::f32, c.inputs[i], vals.back()));
    x64.push_back(typed(ElemType::f64, c.inputs[i], vals.back()));
    names.push_back(fmt::format("x{}", i));
    K = std::max(K, x32.back().numel());
  }
  std::unique_ptr<Session> s64;
  if (!c.forward64) s64 = std::make_unique<Session>(build_case(c, ElemType::f64), SessionOptions{1, 1, false});
  auto fwd64 = [&](const std::vector<Array>& in) { return c.forward64 ? c.forward64(in) : s64->run(in)[0]; };
  const Array y0 = fwd64(x64);
  K = std::max(K, y0.numel());
  const std::vector<double> t = random_values(rng, y0.numel(), -1, 1);
  LossSpec loss;
  loss.kind = LossKind::mse_to_target;
  loss.target = typed(ElemType::f32, y0.shape(), t);
  Backprop bp(g32, 1);
  const GradResult r = bp.run(x32, loss, names);
  EXPECT_NEAR(r.loss, mse64(y0, t), 8.0 * static_cast<double>(K) * 0x1.0p-24 * std::max(1.0, mse64(y0, t)));
  constexpr double h = 1e-5;
  std::vector<std::vector<double>> fd(c.inputs.size());
  double G = 0;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    for (int64_t i = 0; i < x64[k].numel(); ++i) {
      double* p = x64[k].data<double>() + i;
      const double x = *p;
      *p = x + h;
      const double lp = mse64(fwd64(x64), t);
      *p = x - h;
      const double lm = mse64(fwd64(x64), t);
      *p = x;
      fd[k].push_back((lp - lm) / (2 * h));
      G = std::max(G, std::fabs(fd[k].back()));
    }
  }
  const double tol = 4.0 * static_cast<double>(K) * 0x1.0p-24 * G + 1e-8;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const Array& g = r.grads.at(names[k]);
    ASSERT_EQ(g.shape(), c.inputs[k]);
    for (int64_t i = 0; i < g.numel(); ++i)
      ASSERT_NEAR(g.data<float>()[i], fd[k][static_cast<size_t>(i)], tol) << names[k] << "[" << i << "]";
  }
}

// Three random points per case (LOWBIT_GRAD_SEEDS overrides the count, for soak runs).
inline void check_grad_case(const GradCase& c) {
  const char* env = std::getenv("LOWBIT_GRAD_SEEDS");
  const uint32_t n = env ? static_cast<uint32_t>(std::atoi(env)) : 3;
  for (uint32_t s = 1; s <= n; ++s) check_grad_case_seed(c, s);
}

}  // namespace lowbit::onnx::test
