// The references' backward passes are the true gradients of their forwards: central finite
// differences in double of L = sum(g * forward(...)) against the backward fed with dy = g.
// With step h = 1e-5 the truncation error is O(h^2 f''') ~ 1e-10 and rounding ~ 1e-16/h,
// so a 1e-6 relative tolerance is loose for a correct gradient and tight for a wrong one.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels {
namespace {

using Vec = std::vector<double>;

Vec random_doubles(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  return testing::to_double(testing::random_floats(n, seed, lo, hi));
}

// Checks grad[i] == dL/dparam[i] for every i, where loss() reads param.
void check_gradient(Vec& param, const Vec& grad, const std::function<double()>& loss, const std::string& what) {
  ASSERT_EQ(param.size(), grad.size()) << what;
  constexpr double kStep = 1e-5, kTol = 1e-6;
  for (size_t i = 0; i < param.size(); ++i) {
    const double saved = param[i];
    param[i] = saved + kStep;
    const double up = loss();
    param[i] = saved - kStep;
    const double down = loss();
    param[i] = saved;
    const double numeric = (up - down) / (2 * kStep);
    ASSERT_NEAR(grad[i], numeric, kTol * (1 + std::fabs(numeric))) << what << " at " << i;
  }
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(Fp32Gradients, Conv2d) {
  // stride 2, padding, groups 2, dilation on H, non-square kernel
  const ConvGeom s = ConvGeom::conv2d(2, 4, 7, 6, 6, 3, 2).strides(2, 1).pads(2, 1).dilations(2, 1).grouped(2);
  Vec x = random_doubles(s.N * s.C * s.H() * s.W(), 1), w = random_doubles(s.K * 2 * s.R() * s.S(), 2);
  Vec b = random_doubles(s.K, 3);
  const Vec g = random_doubles(s.N * s.K * s.OH() * s.OW(), 4);
  Vec y(g.size()), dx(x.size()), dw(w.size()), db(b.size());
  auto loss = [&] {
    ref::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    return dot(y, g);
  };
  ref::conv2d_backward_data(s, g.data(), w.data(), dx.data());
  ref::conv2d_backward_weight(s, x.data(), g.data(), dw.data(), db.data());
  check_gradient(x, dx, loss, "conv dx");
  check_gradient(w, dw, loss, "conv dw");
  check_gradient(b, db, loss, "conv dbias");
}

TEST(Fp32Gradients, Pooling) {
  const ConvGeom s = ConvGeom::pool2d(2, 3, 7, 6, 3, 2).strides(2, 2).pads(1, 1);
  Vec x = random_doubles(s.N * s.C * s.H() * s.W(), 5);  // distinct values: max is differentiable
  const Vec g = random_doubles(s.N * s.C * s.OH() * s.OW(), 6);
  Vec y(g.size()), dx(x.size());
  std::vector<int32_t> arg(g.size());
  auto max_loss = [&] {
    ref::maxpool2d_forward(s, x.data(), y.data(), arg.data());
    return dot(y, g);
  };
  max_loss();
  ref::maxpool2d_backward(s, g.data(), arg.data(), dx.data());
  check_gradient(x, dx, max_loss, "maxpool dx");
  auto avg_loss = [&] {
    ref::avgpool2d_forward(s, x.data(), y.data());
    return dot(y, g);
  };
  ref::avgpool2d_backward(s, g.data(), dx.data());
  check_gradient(x, dx, avg_loss, "avgpool dx");
}

TEST(Fp32Gradients, BatchNorm) {
  const int64_t N = 3, C = 2, HW = 5;
  Vec x = random_doubles(N * C * HW, 7), gamma = random_doubles(C, 8, 0.5f, 1.5f), beta = random_doubles(C, 9);
  const Vec g = random_doubles(x.size(), 10);
  Vec y(x.size()), mean(C), invstd(C), dx(x.size()), dgamma(C), dbeta(C);
  auto loss = [&] {
    ref::batchnorm_forward_train(N, C, HW, x.data(), gamma.data(), beta.data(), 1e-3, 0.1, nullptr, nullptr,
                                 y.data(), mean.data(), invstd.data());
    return dot(y, g);
  };
  loss();
  ref::batchnorm_backward(N, C, HW, x.data(), g.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                          dgamma.data(), dbeta.data());
  check_gradient(x, dx, loss, "batchnorm dx");
  check_gradient(gamma, dgamma, loss, "batchnorm dgamma");
  check_gradient(beta, dbeta, loss, "batchnorm dbeta");
}

TEST(Fp32Gradients, LogSoftmaxAndCrossEntropy) {
  const int64_t B = 3, C = 5;
  Vec x = random_doubles(B * C, 11, -3.0f, 3.0f);
  const Vec g = random_doubles(B * C, 12);
  Vec y(x.size()), dx(x.size());
  auto ls_loss = [&] {
    ref::log_softmax_forward(B, C, x.data(), y.data());
    return dot(y, g);
  };
  ls_loss();
  ref::log_softmax_backward(B, C, y.data(), g.data(), dx.data());
  check_gradient(x, dx, ls_loss, "log_softmax dx");
  const std::vector<int32_t> labels = {4, 0, 2};
  Vec probs(x.size());
  auto ce_loss = [&] { return 2.5 * ref::softmax_cross_entropy_forward(B, C, x.data(), labels.data(), probs.data()); };
  ce_loss();
  ref::softmax_cross_entropy_backward(B, C, probs.data(), labels.data(), 2.5, dx.data());
  check_gradient(x, dx, ce_loss, "cross-entropy dlogits (scale 2.5)");
}

}  // namespace
}  // namespace lowbit::kernels
