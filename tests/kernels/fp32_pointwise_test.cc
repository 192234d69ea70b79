// fp32 pooling, batch norm, ReLU, log-softmax and cross-entropy: hand-checked answers for the
// references, fast paths against the references on odd shapes, and bitwise independence of
// the thread count (these kernels reduce in a fixed order by design).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels {
namespace {

using testing::abs_of;
using testing::expect_close;
using testing::kUnit;
using testing::random_floats;

ConvGeom pool(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  return ConvGeom::pool2d(N, C, H, W, kh, kw).strides(stride, stride).pads(pad, pad);
}

TEST(Fp32Ref, PoolingKnownAnswers) {
  const ConvGeom s = pool(1, 1, 4, 4, 2, 2, 2, 0);
  const float x[] = {1, 5, 2, 2, 3, 4, 2, 0, 9, 8, 7, 7, 6, 9, 7, 7};  // ties in the last two windows
  float y[4];
  int32_t arg[4];
  ref::maxpool2d_forward(s, x, y, arg);
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{5, 2, 9, 7}));
  EXPECT_EQ(std::vector<int32_t>(arg, arg + 4), (std::vector<int32_t>{1, 2, 8, 10}));  // first max on ties
  // Average with padding: windows are clipped, corners average one element.
  const ConvGeom a = pool(1, 1, 2, 2, 2, 2, 1, 1);
  const float xa[] = {1, 2, 3, 4};
  float ya[9];
  ref::avgpool2d_forward(a, xa, ya);
  EXPECT_EQ(std::vector<float>(ya, ya + 9), (std::vector<float>{1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4}));
}

TEST(Fp32Ref, BatchNormKnownStatistics) {
  // One channel, N=2, HW=2: values 1..4, mean 2.5, biased var 1.25, unbiased 5/3.
  const float x[] = {1, 2, 3, 4}, gamma[] = {2}, beta[] = {1};
  float y[4], mean[1], invstd[1], rm[] = {0}, rv[] = {1};
  ref::batchnorm_forward_train(2, 1, 2, x, gamma, beta, 0.0f, 0.1f, rm, rv, y, mean, invstd);
  EXPECT_FLOAT_EQ(mean[0], 2.5f);
  EXPECT_FLOAT_EQ(invstd[0], static_cast<float>(1 / std::sqrt(1.25)));
  EXPECT_FLOAT_EQ(y[0], static_cast<float>(2 * -1.5 / std::sqrt(1.25) + 1));
  EXPECT_FLOAT_EQ(rm[0], 0.25f);
  EXPECT_FLOAT_EQ(rv[0], static_cast<float>(0.9 + 0.1 * 5.0 / 3.0));
}

TEST(Fp32Ref, SoftmaxKnownAnswers) {
  // Uniform logits: loss log C, probs 1/C.
  const float logits[] = {3, 3, 3, 3, 3, -2, -2, -2, -2, -2};
  const int32_t labels[] = {0, 4};
  float probs[10];
  EXPECT_FLOAT_EQ(ref::softmax_cross_entropy_forward(2, 5, logits, labels, probs), std::log(5.0f));
  for (float p : probs) EXPECT_FLOAT_EQ(p, 0.2f);
  const float x[] = {0, std::log(3.0f)};
  float y[2];
  ref::log_softmax_forward(1, 2, x, y);
  EXPECT_FLOAT_EQ(y[0], -std::log(4.0f));
  EXPECT_FLOAT_EQ(y[1], std::log(0.75f));
}

const ConvGeom kPools[] = {pool(1, 1, 7, 7, 2, 2, 2, 0),  pool(5, 3, 17, 17, 3, 3, 2, 1),
                              pool(5, 7, 31, 33, 2, 3, 1, 1), pool(1, 17, 7, 7, 7, 7, 1, 0),
                              pool(5, 2, 65, 3, 3, 3, 3, 1)};

TEST(Fp32Pool, MatchesReference) {
  for (const ConvGeom& s : kPools) {
    const std::string what = "pool " + std::to_string(s.N) + "x" + std::to_string(s.C) + "x" + std::to_string(s.H()) +
                             "x" + std::to_string(s.W()) + " k" + std::to_string(s.R()) + "x" + std::to_string(s.S());
    const int64_t xs = s.N * s.C * s.H() * s.W(), ys = s.N * s.C * s.OH() * s.OW();
    const auto x = random_floats(xs, 21), dy = random_floats(ys, 22);
    std::vector<float> y(ys), y_ref(ys), dx(xs, NAN), dx_ref(xs);
    std::vector<int32_t> arg(ys), arg_ref(ys);
    maxpool2d_forward(s, x.data(), y.data(), arg.data());
    ref::maxpool2d_forward(s, x.data(), y_ref.data(), arg_ref.data());
    EXPECT_EQ(y, y_ref) << what;  // max pooling is exact
    EXPECT_EQ(arg, arg_ref) << what;
    maxpool2d_backward(s, dy.data(), arg.data(), dx.data());
    ref::maxpool2d_backward(s, dy.data(), arg_ref.data(), dx_ref.data());
    std::vector<float> dx_mag(xs), y_mag(ys);
    const auto ady = abs_of(dy), ax = abs_of(x);
    ref::maxpool2d_backward(s, ady.data(), arg_ref.data(), dx_mag.data());
    expect_close(dx, dx_ref, dx_mag, double(s.R() * s.S()), what + " max backward");
    // Average: window sums of up to kh*kw terms, then one division.
    avgpool2d_forward(s, x.data(), y.data());
    ref::avgpool2d_forward(s, x.data(), y_ref.data());
    ref::avgpool2d_forward(s, ax.data(), y_mag.data());
    expect_close(y, y_ref, y_mag, double(s.R() * s.S() + 1), what + " avg forward");
    avgpool2d_backward(s, dy.data(), dx.data());
    ref::avgpool2d_backward(s, dy.data(), dx_ref.data());
    ref::avgpool2d_backward(s, ady.data(), dx_mag.data());
    expect_close(dx, dx_ref, dx_mag, double(s.R() * s.S() + 2), what + " avg backward");
  }
}

// Per channel, statistics reduce N*HW values: float lanes within a row (HW terms), double across
// rows, so the relative error of mean/var/invstd is O(HW u); y inherits it on (x - mean)*gamma*invstd.
TEST(Fp32BatchNorm, MatchesReference) {
  for (auto [N, C, HW] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 7}, {5, 3, 17}, {5, 17, 65}, {2, 33, 1}, {5, 7, 784}}) {
    const std::string what = "bn N" + std::to_string(N) + " C" + std::to_string(C) + " HW" + std::to_string(HW);
    const int64_t n = N * C * HW;
    const auto x = random_floats(n, 31, 0.5f, 2.5f), dy = random_floats(n, 32);  // mean far from 0
    const auto gamma = random_floats(C, 33, 0.5f, 1.5f), beta = random_floats(C, 34);
    auto rm = random_floats(C, 35), rv = random_floats(C, 36, 0.5f, 2.0f), rm_ref = rm, rv_ref = rv;
    std::vector<float> y(n), y_ref(n), mean(C), mean_ref(C), inv(C), inv_ref(C);
    batchnorm_forward_train(N, C, HW, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, rm.data(), rv.data(), y.data(),
                            mean.data(), inv.data());
    ref::batchnorm_forward_train(N, C, HW, x.data(), gamma.data(), beta.data(), 1e-5f, 0.1f, rm_ref.data(),
                                 rv_ref.data(), y_ref.data(), mean_ref.data(), inv_ref.data());
    const double L = double(HW + 8);
    expect_close(mean, mean_ref, 2.5, L, what + " mean");
    expect_close(inv, inv_ref, inv_ref, 2 * L, what + " invstd");
    expect_close(rm, rm_ref, 2.5, L, what + " running mean");
    expect_close(rv, rv_ref, rv_ref, 2 * L, what + " running var");
    std::vector<float> mag(n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / HW) % C;
      mag[i] = std::fabs(gamma[c]) * inv_ref[c] * (std::fabs(x[i] - mean_ref[c]) + 2.5f) + std::fabs(beta[c]);
    }
    expect_close(y, y_ref, mag, 2 * L, what + " y");
    batchnorm_forward_infer(N, C, HW, x.data(), gamma.data(), beta.data(), rm_ref.data(), rv_ref.data(), 1e-5f, y.data());
    ref::batchnorm_forward_infer(N, C, HW, x.data(), gamma.data(), beta.data(), rm_ref.data(), rv_ref.data(), 1e-5f,
                                 y_ref.data());
    expect_close(y, y_ref, mag, 8, what + " infer");  // no reduction: a few roundings per element
    // Backward: dx = k*dy + u*(x-mean) + v, each term rounded a few times; sums as above.
    std::vector<float> dx(n), dx_ref(n), dg(C), dg_ref(C), db(C), db_ref(C), gmag(C, 0), bmag(C, 0), xm(C, 0);
    batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), mean_ref.data(), inv_ref.data(), dx.data(),
                       dg.data(), db.data());
    ref::batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), mean_ref.data(), inv_ref.data(),
                            dx_ref.data(), dg_ref.data(), db_ref.data());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / HW) % C;
      gmag[c] += std::fabs(dy[i] * (x[i] - mean_ref[c]) * inv_ref[c]);
      bmag[c] += std::fabs(dy[i]);
      xm[c] = std::max(xm[c], std::fabs(x[i] - mean_ref[c]) * inv_ref[c]);
    }
    expect_close(dg, dg_ref, gmag, L, what + " dgamma");
    expect_close(db, db_ref, bmag, L, what + " dbeta");
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / HW) % C;
      const double M = double(N * HW);
      mag[i] = static_cast<float>(std::fabs(gamma[c]) * inv_ref[c] *
                                  (std::fabs(dy[i]) + bmag[c] / M + xm[c] * gmag[c] / M));
    }
    expect_close(dx, dx_ref, mag, 2 * L, what + " dx");
  }
}

TEST(Fp32Softmax, MatchesReference) {
  for (auto [B, C] : {std::pair<int64_t, int64_t>{1, 1}, {5, 3}, {7, 10}, {33, 65}, {3, 1000}}) {
    const std::string what = "softmax B" + std::to_string(B) + " C" + std::to_string(C);
    const int64_t n = B * C;
    const auto x = random_floats(n, 41, -20.0f, 20.0f), dy = random_floats(n, 42);
    std::vector<int32_t> labels(B);
    for (int64_t b = 0; b < B; ++b) labels[b] = static_cast<int32_t>((b * 7) % C);
    std::vector<float> y(n), y_ref(n), mag(n);
    log_softmax_forward(B, C, x.data(), y.data());
    ref::log_softmax_forward(B, C, x.data(), y_ref.data());
    // y = x - lse: lse from float exps (relative error ~u each) summed in double: a few u of
    // |x| + |lse| + 1.
    for (int64_t i = 0; i < n; ++i) mag[i] = std::fabs(x[i]) + std::fabs(x[i] - y_ref[i]) + 1.0f;
    expect_close(y, y_ref, mag, 4, what + " log_softmax");
    std::vector<float> dx(n), dx_ref(n);
    log_softmax_backward(B, C, y_ref.data(), dy.data(), dx.data());
    ref::log_softmax_backward(B, C, y_ref.data(), dy.data(), dx_ref.data());
    for (int64_t b = 0; b < B; ++b) {
      double s = 0;
      for (int64_t j = 0; j < C; ++j) s += std::fabs(dy[b * C + j]);
      for (int64_t j = 0; j < C; ++j)
        mag[b * C + j] = static_cast<float>(std::fabs(dy[b * C + j]) + std::exp(y_ref[b * C + j]) * s);
    }
    expect_close(dx, dx_ref, mag, 6, what + " log_softmax backward");
    std::vector<float> p(n), p_ref(n);
    const float loss = softmax_cross_entropy_forward(B, C, x.data(), labels.data(), p.data());
    const float loss_ref = ref::softmax_cross_entropy_forward(B, C, x.data(), labels.data(), p_ref.data());
    expect_close(p, p_ref, p_ref, 4 + 0.5 * 40, what + " probs");  // exp of (x - lse), |x - lse| <= 40
    EXPECT_NEAR(loss, loss_ref, 8 * kUnit * (40 + std::fabs(loss_ref))) << what;
    std::vector<float> g(n), g_ref(n), gmag(n);
    softmax_cross_entropy_backward(B, C, p_ref.data(), labels.data(), 0.5f, g.data());
    ref::softmax_cross_entropy_backward(B, C, p_ref.data(), labels.data(), 0.5f, g_ref.data());
    for (int64_t i = 0; i < n; ++i) gmag[i] = 0.5f / float(B) * (p_ref[i] + 1.0f);
    expect_close(g, g_ref, gmag, 4, what + " cross-entropy backward");
  }
}

TEST(Fp32Relu, MatchesReferenceExactly) {
  auto x = random_floats(100003, 51);
  x[5] = 0.0f, x[6] = -0.0f;
  const auto dy = random_floats(x.size(), 52);
  std::vector<float> y(x.size()), y_ref(x.size()), dx(x.size()), dx_ref(x.size());
  relu_forward(int64_t(x.size()), x.data(), y.data());
  ref::relu_forward(int64_t(x.size()), x.data(), y_ref.data());
  EXPECT_EQ(y, y_ref);
  relu_backward(int64_t(x.size()), y.data(), dy.data(), dx.data());
  ref::relu_backward(int64_t(x.size()), y.data(), dy.data(), dx_ref.data());
  EXPECT_EQ(dx, dx_ref);
  relu_forward(int64_t(x.size()), x.data(), x.data());  // in place
  EXPECT_EQ(x, y_ref);
}

// Runs `fn` (which writes its outputs into the returned vector) on 1 and 2 threads.
void expect_thread_independent(const std::function<std::vector<float>()>& fn, const char* what) {
  const int saved = num_threads();
  set_num_threads(1);
  const auto one = fn();
  set_num_threads(2);
  const auto two = fn();
  set_num_threads(saved);
  EXPECT_EQ(one, two) << what;
}

TEST(Fp32Determinism, ResultsDoNotDependOnThreadCount) {
  const int64_t N = 9, C = 5, HW = 14 * 14, n = N * C * HW;
  const auto x = random_floats(n, 61), dy = random_floats(n, 62), g = random_floats(C, 63), b = random_floats(C, 64);
  expect_thread_independent([&] {
    std::vector<float> y(n), out(4 * C), dx(n);
    batchnorm_forward_train(N, C, HW, x.data(), g.data(), b.data(), 1e-5f, 0.1f, out.data(), out.data() + C, y.data(),
                            out.data() + 2 * C, out.data() + 3 * C);
    std::vector<float> dg(C), db(C);
    batchnorm_backward(N, C, HW, x.data(), dy.data(), g.data(), out.data() + 2 * C, out.data() + 3 * C, dx.data(),
                       dg.data(), db.data());
    y.insert(y.end(), out.begin(), out.end());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dg.begin(), dg.end());
    return y;
  }, "batch norm");
  const ConvGeom s = pool(N, C, 14, 14, 3, 3, 2, 1);
  expect_thread_independent([&] {
    std::vector<float> y(N * C * s.OH() * s.OW()), dx(n);
    avgpool2d_forward(s, x.data(), y.data());
    avgpool2d_backward(s, y.data(), dx.data());
    y.insert(y.end(), dx.begin(), dx.end());
    return y;
  }, "avg pool");
  expect_thread_independent([&] {
    const int64_t B = 45, K = 196;
    std::vector<int32_t> labels(B, 3);
    std::vector<float> p(B * K), d(B * K);
    const float loss = softmax_cross_entropy_forward(B, K, x.data(), labels.data(), p.data());
    softmax_cross_entropy_backward(B, K, p.data(), labels.data(), 1.0f, d.data());
    d.push_back(loss);
    return d;
  }, "cross-entropy");
}

}  // namespace
}  // namespace lowbit::kernels
