// The ONNX engine's backward kernels (fp32.h, "Backward kernels") against their plain-loop
// references (ref/fp32_ref_grad.cc) with the derived tolerance of fp32_test_util.h; the
// references themselves are checked against finite differences through the ONNX ops
// (tests/onnx/grad_ops_test.cc).
#include <cmath>

#include "fp32_test_util.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;

TEST(Fp32VjpKernels, ActivationBackwardMatchesReference) {
  const int64_t n = 1000;
  const auto x = random_floats(n, 1, -4, 4), dy = random_floats(n, 2);
  struct K { ActGrad kind; float a, b; bool y_from_sigmoid, y_from_tanh, y_from_sqrt; };
  const K kinds[] = {{ActGrad::relu, 0, 0, false, false, false},       {ActGrad::leaky_relu, 0.1f, 0, false, false, false},
                     {ActGrad::clip, -1, 2, false, false, false},      {ActGrad::hard_sigmoid, 0.2f, 0.5f, false, false, false},
                     {ActGrad::hard_swish, 0, 0, false, false, false}, {ActGrad::sigmoid, 0, 0, true, false, false},
                     {ActGrad::tanh, 0, 0, false, true, false},        {ActGrad::gelu_erf, 0, 0, false, false, false},
                     {ActGrad::gelu_tanh, 0, 0, false, false, false},  {ActGrad::erf, 0, 0, false, false, false},
                     {ActGrad::sqrt, 0, 0, false, false, true},        {ActGrad::pow, 3, 0, false, false, false}};
  for (const K& k : kinds) {
    std::vector<float> xs = x, y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      float& v = xs[static_cast<size_t>(i)];
      if (k.y_from_sqrt) v = std::fabs(v) + 0.1f;
      y[static_cast<size_t>(i)] = k.y_from_sigmoid ? 1 / (1 + std::exp(-v)) : k.y_from_tanh ? std::tanh(v) : k.y_from_sqrt ? std::sqrt(v) : 0;
    }
    std::vector<float> fast(static_cast<size_t>(n)), want(static_cast<size_t>(n)), mag(static_cast<size_t>(n));
    activation_backward(k.kind, n, xs.data(), y.data(), dy.data(), k.a, k.b, fast.data());
    ref::activation_backward(k.kind, n, xs.data(), y.data(), dy.data(), k.a, k.b, want.data());
    // A few float roundings of elementary functions, each within a few ulps of terms bounded
    // by |dy|·(1 + 3x² + 1/y) (the largest derivative factor among the kinds).
    for (size_t i = 0; i < mag.size(); ++i)
      mag[i] = std::fabs(dy[i]) * (1 + 3 * xs[i] * xs[i] + (k.y_from_sqrt ? 1 / y[i] : 0));
    expect_close(fast, want, mag, 16, "activation " + std::to_string(static_cast<int>(k.kind)));
  }
}

TEST(Fp32VjpKernels, SoftmaxBackwardMatchesReference) {
  const int64_t outer = 3, C = 7, inner = 5, n = outer * C * inner;
  const auto dy = random_floats(n, 3);
  for (bool log_form : {false, true}) {
    // y: a softmax (or log-softmax) over the middle axis of random logits.
    auto z = random_floats(n, 4, -3, 3);
    std::vector<float> y(static_cast<size_t>(n)), fast(y.size()), want(y.size()), mag(y.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s += std::exp(z[static_cast<size_t>((o * C + c) * inner + j)]);
        double sa = 0, sb = 0;
        for (int64_t c = 0; c < C; ++c) {
          const size_t i = static_cast<size_t>((o * C + c) * inner + j);
          const double p = std::exp(z[i]) / s;
          y[i] = static_cast<float>(log_form ? std::log(p) : p);
          sa += std::fabs(dy[i] * p);
          sb += std::fabs(dy[i]);
        }
        for (int64_t c = 0; c < C; ++c) {
          const size_t i = static_cast<size_t>((o * C + c) * inner + j);
          const double p = log_form ? std::exp(y[i]) : y[i];
          mag[i] = static_cast<float>(std::fabs(dy[i]) + p * (log_form ? sb : sa) + (log_form ? 0 : p * std::fabs(dy[i])));
        }
      }
    softmax_backward_axis(outer, C, inner, y.data(), dy.data(), log_form, fast.data());
    ref::softmax_backward_axis(outer, C, inner, y.data(), dy.data(), log_form, want.data());
    expect_close(fast, want, mag, C + 4, log_form ? "log_softmax" : "softmax");
  }
}

TEST(Fp32VjpKernels, LayerNormBackwardMatchesReference) {
  const int64_t rows = 6, D = 33, n = rows * D;
  const auto x = random_floats(n, 5, -2, 2), dy = random_floats(n, 6), gamma = random_floats(D, 7);
  std::vector<float> dx(static_cast<size_t>(n)), dx_ref(dx.size()), dg(static_cast<size_t>(D)), dg_ref(dg.size()),
      db(dg.size()), db_ref(dg.size());
  layernorm_backward(rows, D, x.data(), gamma.data(), 1e-5f, dy.data(), dx.data(), dg.data(), db.data());
  ref::layernorm_backward(rows, D, x.data(), gamma.data(), 1e-5f, dy.data(), dx_ref.data(), dg_ref.data(), db_ref.data());
  // |xhat| <= sqrt(D) and invstd <= 1/sqrt(var): terms of dx are bounded by invstd·|gamma|·|dy|·(2 + D)
  // on the row's scale; dgamma sums rows terms of |dy|·sqrt(D).
  double invstd_max = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t d = 0; d < D; ++d) m += x[static_cast<size_t>(r * D + d)] / static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) v += std::pow(x[static_cast<size_t>(r * D + d)] - m, 2) / static_cast<double>(D);
    invstd_max = std::max(invstd_max, 1 / std::sqrt(v + 1e-5));
  }
  expect_close(dx, dx_ref, invstd_max * (2 + D), D + 8, "layernorm dx");
  expect_close(dg, dg_ref, std::sqrt(static_cast<double>(D)), rows + 8, "layernorm dgamma");
  expect_close(db, db_ref, 1.0, rows, "layernorm dbeta");
}

TEST(Fp32VjpKernels, BatchNormInferenceBackwardMatchesReference) {
  const int64_t N = 3, C = 4, HW = 10, n = N * C * HW;
  const auto x = random_floats(n, 8, -2, 2), dy = random_floats(n, 9), gamma = random_floats(C, 10),
             mean = random_floats(C, 11), var = random_floats(C, 12, 0.5f, 1.5f);
  auto run = [&](bool fast) {
    std::vector<std::vector<float>> o{std::vector<float>(static_cast<size_t>(n))};
    for (int i = 0; i < 4; ++i) o.emplace_back(static_cast<size_t>(C));
    (fast ? batchnorm_infer_backward : ref::batchnorm_infer_backward<float>)(
        N, C, HW, x.data(), dy.data(), gamma.data(), mean.data(), var.data(), 1e-5f, o[0].data(), o[1].data(),
        o[2].data(), o[3].data(), o[4].data());
    return o;
  };
  const auto f = run(true), r = run(false);
  // invstd <= sqrt(2); |x - mean| <= 3; each per-channel sum has N·HW terms.
  const double L = static_cast<double>(N * HW) + 8;
  expect_close(f[0], r[0], std::sqrt(2.0), 4, "bn dx");
  expect_close(f[1], r[1], L * 3 * std::sqrt(2.0), L, "bn dgamma");
  expect_close(f[2], r[2], L, L, "bn dbeta");
  expect_close(f[3], r[3], L * std::sqrt(2.0), L, "bn dmean");
  expect_close(f[4], r[4], L * 3 * 2 * std::sqrt(2.0), L, "bn dvar");
}

}  // namespace
}  // namespace lowbit::kernels
