// The channels-last inference kernels that keep DenseNet/GoogLeNet activations NHWC between convs:
// avgpool2d_forward_nhwc (bit for bit against the NCHW kernel, which sums in the same order, and
// within the derived tolerance of the double reference) and batchnorm_forward_infer_nhwc (against
// ref::batchnorm_forward_infer, with and without its fused Relu), on odd channel counts, padding, ceil_mode and 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_nhwc.h"
#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels {
namespace {

using testing::abs_of;
using testing::expect_close;
using testing::random_floats;
using testing::relayout;

TEST(Fp32PoolNhwc, AvgPoolMatchesNchwKernelAndReference) {
  // {C, H, k, stride, pad, ceil}: DenseNet's 2x2/2 transition pool, odd sizes, windows cut by
  // padding (count_include_pad = 0 divides by the in-bounds count) and a ceil_mode last window.
  for (const auto& [C, H, k, stride, pad, ceil] : std::vector<std::array<int64_t, 6>>{
           {16, 8, 2, 2, 0, 0}, {3, 7, 2, 2, 0, 0}, {33, 9, 3, 1, 1, 0}, {8, 5, 5, 3, 2, 0}, {5, 8, 3, 2, 0, 1},
           {1, 11, 3, 2, 1, 1}, {130, 6, 3, 2, 1, 0}}) {
    ConvGeom s = ConvGeom::pool2d(2, C, H, H + 1, k, k).strides(stride, stride).pads(pad, pad);
    if (ceil) s.out[0] = (H + 2 * pad - k + stride - 1) / stride + 1, s.out[1] = (H + 1 + 2 * pad - k + stride - 1) / stride + 1;
    const int64_t HW = s.H() * s.W(), OHW = s.OH() * s.OW();
    const auto x = random_floats(s.N * C * HW, 51 + static_cast<uint64_t>(C), -3.0f, 3.0f);
    std::vector<float> want(static_cast<size_t>(s.N * C * OHW)), mag(want.size()), nchw(want.size());
    ref::avgpool2d_forward(s, x.data(), want.data());
    ref::avgpool2d_forward(s, abs_of(x).data(), mag.data());
    avgpool2d_forward(s, x.data(), nchw.data());
    const std::string what = "avgpool C" + std::to_string(C) + " H" + std::to_string(H) + " k" + std::to_string(k);
    for (int threads : {1, 2}) {
      const int saved = num_threads();
      set_num_threads(threads);
      std::vector<float> y(want.size());
      avgpool2d_forward_nhwc(s, relayout(x, true, s.N, C, HW).data(), y.data());
      set_num_threads(saved);
      y = relayout(y, false, s.N, C, OHW);
      EXPECT_EQ(y, nchw) << what << " threads " << threads;
      // A float sum of at most k*k terms, then one division: (k*k + 1) u of the mean of |x|.
      expect_close(y, want, mag, double(k * k + 1), what);
    }
  }
}

TEST(Fp32BatchNormInferNhwc, MatchesReference) {
  for (const auto& [N, C, HW] : std::vector<std::array<int64_t, 3>>{{1, 1, 5}, {2, 17, 9}, {1, 64, 49}, {3, 300, 4}}) {
    const auto x = random_floats(N * C * HW, 61 + static_cast<uint64_t>(C), -4.0f, 4.0f);
    const auto gamma = random_floats(C, 62, -2.0f, 2.0f), beta = random_floats(C, 63, -1.0f, 1.0f);
    const auto mean = random_floats(C, 64, -1.0f, 1.0f), var = random_floats(C, 65, 0.01f, 3.0f);
    std::vector<float> want(x.size()), mag(x.size());
    ref::batchnorm_forward_infer(N, C, HW, x.data(), gamma.data(), beta.data(), mean.data(), var.data(), 1e-5f,
                                 want.data());
    // Rounding of x - mean, of gamma * invstd and of the product: ~3u of |x - mean| |gamma| invstd.
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < HW; ++p) {
          const size_t j = static_cast<size_t>((n * C + c) * HW + p);
          mag[j] = std::fabs((x[j] - mean[static_cast<size_t>(c)]) * gamma[static_cast<size_t>(c)]) /
                   std::sqrt(var[static_cast<size_t>(c)] + 1e-5f);
        }
    const std::string what = "bn nhwc N" + std::to_string(N) + " C" + std::to_string(C) + " HW" + std::to_string(HW);
    std::vector<float> want_relu(want.size());
    for (size_t j = 0; j < want.size(); ++j) want_relu[j] = std::max(want[j], 0.0f);
    for (int threads : {1, 2})
      for (bool relu : {false, true}) {
        const int saved = num_threads();
        set_num_threads(threads);
        std::vector<float> y(x.size());
        batchnorm_forward_infer_nhwc(N * HW, C, relayout(x, true, N, C, HW).data(), gamma.data(), beta.data(),
                                     mean.data(), var.data(), 1e-5f, relu, y.data());
        set_num_threads(saved);
        // max(., 0) is exact and 1-Lipschitz: the same bound holds after the fused Relu.
        expect_close(relayout(y, false, N, C, HW), relu ? want_relu : want, mag, 4.0, what + (relu ? " relu" : ""));
      }
  }
}

}  // namespace
}  // namespace lowbit::kernels
