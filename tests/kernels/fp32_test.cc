// fp32 GEMM and convolution: known answers for the references, then every library path
// (fp32_tuning.h) against the reference on odd shapes with tolerances from fp32_test_util.h.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/fp32_tuning.h"

namespace lowbit::kernels {
namespace {

using testing::abs_of;
using testing::expect_close;
using testing::random_floats;

TEST(Fp32Ref, GemmKnownAnswer) {
  const float A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
  float C[] = {1, 1, 1, 1};
  ref::gemm_f32(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.5f, C, 2);
  EXPECT_EQ(std::vector<float>(C, C + 4), (std::vector<float>{19.5f, 22.5f, 43.5f, 50.5f}));
  float CT[] = {NAN, NAN, NAN, NAN};  // beta = 0 must not read C
  ref::gemm_f32(true, true, 2, 2, 2, 2.0f, A, 2, B, 2, 0.0f, CT, 2);  // 2 * A^T B^T
  EXPECT_EQ(std::vector<float>(CT, CT + 4), (std::vector<float>{46, 62, 68, 92}));
}

// 3x3 input, 2x2 kernel, stride 1, no padding: each output is a hand-computed dot product.
TEST(Fp32Ref, Conv2x2KnownAnswer) {
  const ConvGeom s = ConvGeom::conv2d(1, 1, 3, 3, 1, 2, 2);
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {1, 2, 3, 4}, bias[] = {1}, ones[] = {1, 1, 1, 1};
  float y[4], dx[9], dw[4], db[1];
  ref::conv2d_forward(s, x, w, bias, y);
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{38, 48, 68, 78}));
  ref::conv2d_backward_data(s, ones, w, dx);
  EXPECT_EQ(std::vector<float>(dx, dx + 9), (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
  ref::conv2d_backward_weight(s, x, ones, dw, db);
  EXPECT_EQ(std::vector<float>(dw, dw + 4), (std::vector<float>{12, 16, 24, 28}));
  EXPECT_EQ(db[0], 4.0f);
}

// Stride 2 with padding 1 on a 2x2 input and a 3x3 kernel of ones: one output, the sum of x.
TEST(Fp32Ref, ConvPaddingStrideKnownAnswer) {
  const ConvGeom s = ConvGeom::conv2d(1, 1, 2, 2, 1, 3, 3).strides(2, 2).pads(1, 1);
  ASSERT_EQ(s.OH(), 1);
  ASSERT_EQ(s.OW(), 1);
  const float x[] = {1, 2, 3, 4}, w[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  float y[1];
  ref::conv2d_forward(s, x, w, nullptr, y);
  EXPECT_EQ(y[0], 10.0f);
}

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
};

void check_gemm(const GemmCase& c, GemmLib lib) {
  // Padded leading dimensions catch stride bugs.
  const int64_t lda = (c.ta ? c.M : c.K) + 3, ldb = (c.tb ? c.K : c.N) + 1, ldc = c.N + 2;
  const int64_t a_rows = c.ta ? c.K : c.M, b_rows = c.tb ? c.N : c.K;
  auto A = random_floats(a_rows * lda, 1), B = random_floats(b_rows * ldb, 2), C0 = random_floats(c.M * ldc, 3);
  auto fast = C0, ref = C0;
  set_gemm_lib(lib);
  gemm_f32(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, fast.data(), ldc);
  set_gemm_lib(GemmLib::automatic);
  ref::gemm_f32(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, ref.data(), ldc);
  // Magnitude: |alpha| * |A||B| + |beta| |C|, over a sum of K + 1 terms (+1 for alpha scaling).
  auto mag = abs_of(C0);
  const auto absA = abs_of(A), absB = abs_of(B);
  ref::gemm_f32(c.ta, c.tb, c.M, c.N, c.K, std::fabs(c.alpha), absA.data(), lda, absB.data(), ldb,
                std::fabs(c.beta), mag.data(), ldc);
  expect_close(fast, ref, mag, double(c.K + 2),
               "gemm lib=" + std::to_string(int(lib)) + " ta=" + std::to_string(c.ta) + " tb=" + std::to_string(c.tb) +
                   " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K));
}

TEST(Fp32Gemm, MatchesReferenceOnOddShapes) {
  const int64_t sizes[] = {1, 3, 7, 17, 33, 65};
  for (GemmLib lib : {GemmLib::onednn, GemmLib::openblas})
    for (int t = 0; t < 4; ++t)
      for (int64_t M : sizes)
        for (int64_t N : {int64_t(1), int64_t(31), int64_t(65)})
          for (int64_t K : {int64_t(1), int64_t(17), int64_t(130)}) {
            const float beta = (M + N) % 3 == 0 ? 0.0f : -0.5f;
            check_gemm({bool(t & 1), bool(t & 2), M, N, K, 1.5f, beta}, lib);
          }
}

TEST(Fp32Gemm, DeepKAndBothThreadCounts) {
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    check_gemm({false, true, 33, 65, 2049, 1.0f, 0.0f}, GemmLib::automatic);
    check_gemm({true, false, 129, 63, 257, 1.0f, 1.0f}, GemmLib::automatic);
  }
  set_num_threads(saved);
}

ConvGeom conv_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t stride,
                       int64_t pad, int64_t groups = 1, int64_t dil = 1) {
  return ConvGeom::conv2d(N, C, H, W, K, R, S).strides(stride, stride).pads(pad, pad).grouped(groups).dilations(dil, dil);
}

std::string describe(const ConvGeom& s, ConvAlgo algo) {
  return "conv algo=" + std::to_string(int(algo)) + " N" + std::to_string(s.N) + " C" + std::to_string(s.C) + " " +
         std::to_string(s.H()) + "x" + std::to_string(s.W()) + " K" + std::to_string(s.K) + " " + std::to_string(s.R()) +
         "x" + std::to_string(s.S()) + " s" + std::to_string(s.stride_h()) + " p" + std::to_string(s.pad_t()) + " g" +
         std::to_string(s.groups) + " d" + std::to_string(s.dil_h());
}

// All three passes of one path against the reference. Reduction lengths: forward C/g*R*S + 1
// (bias), backward data K/g*R*S, backward weight N*OH*OW plus the fixed batch-chunk partials.
void check_conv(const ConvGeom& s, ConvAlgo algo) {
  const int64_t xs = s.N * s.C * s.H() * s.W(), ws = s.K * (s.C / s.groups) * s.R() * s.S();
  const int64_t ys = s.N * s.K * s.OH() * s.OW();
  const auto x = random_floats(xs, 11), w = random_floats(ws, 12), b = random_floats(s.K, 13);
  const auto dy = random_floats(ys, 14);
  const auto ax = abs_of(x), aw = abs_of(w), ab = abs_of(b), ady = abs_of(dy);
  const std::string what = describe(s, algo);
  set_conv_algo(algo);

  std::vector<float> y(ys, NAN), y_ref(ys), y_mag(ys);
  conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  ref::conv2d_forward(s, x.data(), w.data(), b.data(), y_ref.data());
  ref::conv2d_forward(s, ax.data(), aw.data(), ab.data(), y_mag.data());
  expect_close(y, y_ref, y_mag, double((s.C / s.groups) * s.R() * s.S() + 1), what + " forward");
  std::vector<float> y_nb(ys, NAN);
  conv2d_forward(s, x.data(), w.data(), nullptr, y_nb.data());
  ref::conv2d_forward(s, x.data(), w.data(), nullptr, y_ref.data());
  expect_close(y_nb, y_ref, y_mag, double((s.C / s.groups) * s.R() * s.S() + 1), what + " forward, no bias");

  std::vector<float> dx(xs, NAN), dx_ref(xs), dx_mag(xs);
  conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  ref::conv2d_backward_data(s, dy.data(), w.data(), dx_ref.data());
  ref::conv2d_backward_data(s, ady.data(), aw.data(), dx_mag.data());
  expect_close(dx, dx_ref, dx_mag, double((s.K / s.groups) * s.R() * s.S() + 1), what + " backward data");

  std::vector<float> dw(ws, NAN), dw_ref(ws), dw_mag(ws), db(s.K, NAN), db_ref(s.K), db_mag(s.K);
  conv2d_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
  ref::conv2d_backward_weight(s, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  ref::conv2d_backward_weight(s, ax.data(), ady.data(), dw_mag.data(), db_mag.data());
  const double L = double(s.N * s.OH() * s.OW() + 8);
  expect_close(dw, dw_ref, dw_mag, L, what + " backward weight");
  expect_close(db, db_ref, db_mag, L, what + " backward bias");
  std::vector<float> dw_nb(ws, NAN);
  conv2d_backward_weight(s, x.data(), dy.data(), dw_nb.data(), nullptr);
  expect_close(dw_nb, dw_ref, dw_mag, L, what + " backward weight, no bias");
  set_conv_algo(ConvAlgo::automatic);
}

const ConvGeom kOddConvs[] = {
    conv_shape(1, 1, 7, 7, 1, 3, 3, 1, 1),         // single channel, same padding
    conv_shape(5, 3, 17, 17, 7, 3, 3, 2, 1),       // stem-like, stride 2
    conv_shape(1, 17, 7, 31, 33, 1, 1, 1, 0),      // pointwise, non-square input
    conv_shape(5, 16, 14, 14, 32, 1, 1, 2, 0),     // 1x1 stride-2 shortcut
    conv_shape(5, 7, 9, 8, 5, 3, 5, 1, 2),         // non-square kernel
    conv_shape(1, 6, 11, 13, 9, 3, 3, 2, 1, 3),    // groups 3, stride 2
    conv_shape(5, 4, 12, 12, 4, 3, 3, 1, 2, 4, 2), // depthwise, dilation 2
    conv_shape(5, 33, 7, 7, 65, 3, 3, 1, 1),       // deep channels
    conv_shape(1, 3, 3, 3, 1, 5, 5, 1, 2),         // kernel larger than the input
};

TEST(Fp32Conv, EveryPathMatchesReferenceOnOddShapes) {
  for (ConvAlgo algo : {ConvAlgo::onednn_plain, ConvAlgo::onednn_blocked, ConvAlgo::im2col, ConvAlgo::automatic})
    for (const ConvGeom& s : kOddConvs) check_conv(s, algo);
}

TEST(Fp32Conv, TrainingShapesOnTwoThreads) {
  const int saved = num_threads();
  set_num_threads(2);
  for (ConvAlgo algo : {ConvAlgo::automatic, ConvAlgo::im2col}) {
    check_conv(conv_shape(9, 16, 28, 28, 32, 3, 3, 2, 1), algo);
    check_conv(conv_shape(9, 1, 28, 28, 16, 3, 3, 1, 1), algo);
  }
  set_num_threads(saved);
}

// The im2col backward weight sums fixed batch chunks in a fixed order: bitwise equal results
// on 1 and 2 threads.
TEST(Fp32Conv, Im2colBackwardWeightIndependentOfThreadCount) {
  const ConvGeom s = conv_shape(13, 8, 10, 10, 8, 3, 3, 1, 1);
  const auto x = random_floats(s.N * s.C * s.H() * s.W(), 5), dy = random_floats(s.N * s.K * s.OH() * s.OW(), 6);
  std::vector<float> dw1(s.K * s.C * 9), dw2(dw1.size()), db1(s.K), db2(s.K);
  const int saved = num_threads();
  set_conv_algo(ConvAlgo::im2col);
  set_num_threads(1);
  conv2d_backward_weight(s, x.data(), dy.data(), dw1.data(), db1.data());
  set_num_threads(2);
  conv2d_backward_weight(s, x.data(), dy.data(), dw2.data(), db2.data());
  set_num_threads(saved);
  set_conv_algo(ConvAlgo::automatic);
  EXPECT_EQ(dw1, dw2);
  EXPECT_EQ(db1, db2);
}

// The primitive cache and per-thread scratch are shared by callers on different threads (e.g.
// a data-loader thread running inference next to training): results must stay right.
TEST(Fp32Conv, ConcurrentCallersGetCorrectResults) {
  const ConvGeom shapes[] = {conv_shape(3, 8, 12, 12, 16, 3, 3, 1, 1), conv_shape(2, 16, 9, 9, 8, 3, 3, 2, 1)};
  std::vector<std::vector<float>> got(4), want(4);
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    const ConvGeom& s = shapes[t % 2];
    want[t].resize(s.N * s.K * s.OH() * s.OW());
    workers.emplace_back([&, t, s] {
      const auto x = random_floats(s.N * s.C * s.H() * s.W(), 70 + t), w = random_floats(s.K * s.C * 9, 80 + t);
      got[t].assign(want[t].size(), NAN);
      for (int rep = 0; rep < 3; ++rep) conv2d_forward(s, x.data(), w.data(), nullptr, got[t].data());
      ref::conv2d_forward(s, x.data(), w.data(), nullptr, want[t].data());
    });
  }
  for (auto& th : workers) th.join();
  for (int t = 0; t < 4; ++t) {
    const ConvGeom& s = shapes[t % 2];
    const auto x = random_floats(s.N * s.C * s.H() * s.W(), 70 + t), w = random_floats(s.K * s.C * 9, 80 + t);
    const auto ax = abs_of(x), aw = abs_of(w);
    std::vector<float> mag(want[t].size());
    ref::conv2d_forward(s, ax.data(), aw.data(), nullptr, mag.data());
    expect_close(got[t], want[t], mag, double(s.C * 9 + 1), "concurrent conv " + std::to_string(t));
  }
}

}  // namespace
}  // namespace lowbit::kernels
