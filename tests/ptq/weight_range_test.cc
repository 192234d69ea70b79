// Weight ranges (weight_range.h): minmax is amax/q; mse never quantizes a channel worse than
// minmax and clips Gaussian tails at int4; act-mse weights the errors by input power;
// quantize_model applies the choice per channel, and bias correction removes the mean shift.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/quantize_model.h"
#include "lowbit/ptq/weight_range.h"
#include "ptq_test_models.h"
#include "qdq_test_models.h"

namespace lowbit::ptq {
namespace {

std::vector<float> gaussian(int n, uint64_t seed) {
  std::vector<float> w(static_cast<size_t>(n));
  normal_fill(seed, 0, 0, n, w.data());
  return w;
}

TEST(WeightRange, MinmaxIsAmaxOverQ) {
  const std::vector<float> w = {0.5f, -2.0f, 1.0f};
  EXPECT_FLOAT_EQ(weight_scale(w, 7.0f, WeightRange::minmax), 2.0f / 7.0f);
  EXPECT_EQ(weight_scale({0.0f, 0.0f}, 7.0f, WeightRange::mse), 1.0f);              // all-zero channel
}

TEST(WeightRange, MseNeverWorseAndClipsOutliers) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> w = gaussian(256, seed);
    for (float q : {7.0f, 127.0f}) {
      const float mm = weight_scale(w, q, WeightRange::minmax), ms = weight_scale(w, q, WeightRange::mse);
      EXPECT_LE(ms, mm) << seed;
      EXPECT_LE(weight_quant_sse(w, ms, q), weight_quant_sse(w, mm, q)) << seed;
    }
  }
  // Gaussian weights at int4: amax (about 3.3 sigma for 2,048 values) leaves the bulk on a few
  // codes; the MSE range clips the tails. A huge outlier is kept: clipping it would cost more.
  std::vector<float> w = gaussian(2048, 99);
  const float mm = weight_scale(w, 7.0f, WeightRange::minmax), ms = weight_scale(w, 7.0f, WeightRange::mse);
  EXPECT_LT(ms, 0.95f * mm);
  EXPECT_LT(weight_quant_sse(w, ms, 7.0f), 0.9 * weight_quant_sse(w, mm, 7.0f));
  w[7] = 400.0f;
  EXPECT_FLOAT_EQ(weight_scale(w, 7.0f, WeightRange::mse), 400.0f / 7.0f);
}

TEST(WeightRange, NamesAndErrors) {
  EXPECT_EQ(parse_weight_range("mse"), WeightRange::mse);
  EXPECT_EQ(parse_weight_range("act-mse"), WeightRange::act_mse);
  try {
    parse_weight_range("max");
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("minmax"), std::string::npos) << e.what();
  }
}

// quantize_model with int4 weights: mse scales are at most amax/7 per channel, and the report
// says which range was used through the smaller scales.
TEST(WeightRange, QuantizeModelUsesTheRangePerChannel) {
  const onnx::Array calib = onnx::test::random_f32({16, 3, 8, 8}, 41);
  auto scales = [&](WeightRange r) {
    QuantizeOptions opt;
    opt.weight_bits = 4;
    opt.weight_range = r;
    QuantizeReport rep;
    quantize_model(test::small_cnn(), calib, opt, &rep);
    std::vector<float> out;
    for (const auto& l : rep.layers)
      if (l.op != "Add") out.push_back(l.w_scale_max);
    return out;
  };
  const auto mm = scales(WeightRange::minmax), ms = scales(WeightRange::mse);
  ASSERT_EQ(mm.size(), ms.size());
  ASSERT_FALSE(mm.empty());
  bool any_smaller = false;
  for (size_t i = 0; i < mm.size(); ++i) {
    EXPECT_LE(ms[i], mm[i] * (1 + 1e-6f)) << i;
    any_smaller |= ms[i] < mm[i] * 0.999f;
  }
  EXPECT_TRUE(any_smaller) << "random Gaussian weights at int4: some channel clips";
}

TEST(WeightRange, ActMseWeightsErrorsByInputPower) {
  const std::vector<float> w = gaussian(64, 5);
  const std::vector<double> ones(w.size(), 1.0);
  EXPECT_EQ(weight_scale(w, 7.0f, WeightRange::act_mse, &ones), weight_scale(w, 7.0f, WeightRange::mse));
  EXPECT_EQ(weight_scale(w, 7.0f, WeightRange::act_mse), weight_scale(w, 7.0f, WeightRange::mse));  // no moments: mse
  // All the input power on the largest weight: clipping it costs most, so the range stays wide.
  std::vector<double> power(w.size(), 1e-6);
  const auto big = std::max_element(w.begin(), w.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); });
  power[static_cast<size_t>(big - w.begin())] = 1e6;
  EXPECT_FLOAT_EQ(weight_scale(w, 7.0f, WeightRange::act_mse, &power), std::fabs(*big) / 7.0f);
  EXPECT_NEAR(weight_quant_sse(w, 0.3f, 7.0f, &ones), weight_quant_sse(w, 0.3f, 7.0f), 1e-9);
  const std::vector<double> three(3, 1.0);
  test::expect_error([&] { weight_scale(w, 7.0f, WeightRange::act_mse, &three); }, "importances");
}

// Bias correction: with int4 weights the quantized model's mean output (over the calibration
// set) moves away from the float model's; absorbing dW·E[x] into the biases brings it back. c2
// has no bias and gets one.
TEST(BiasCorrection, RemovesTheMeanShiftOfInt4Weights) {
  const onnx::Array calib = onnx::test::random_f32({64, 3, 8, 8}, 42);
  const auto ref = onnx::Session(test::small_cnn(), onnx::SessionOptions{1, 1, true}).run({calib});
  auto mean_shift = [&](bool correct) {
    QuantizeOptions opt;
    opt.weight_bits = 4;
    opt.bias_correction = correct;
    QuantizeReport rep;
    const onnx::Graph q = quantize_model(test::small_cnn(), calib, opt, &rep);
    for (const auto& l : rep.layers)
      if (l.op != "Add") {
        EXPECT_EQ(l.bias_corrected, correct) << l.node;
      }
    const auto got = onnx::Session(q, onnx::SessionOptions{1, 1, true}).run({calib});
    const int64_t n = ref[0].shape()[0], k = ref[0].shape()[1];
    double total = 0;
    for (int64_t j = 0; j < k; ++j) {
      double d = 0;
      for (int64_t i = 0; i < n; ++i) d += got[0].get_f64(i * k + j) - ref[0].get_f64(i * k + j);
      total += std::fabs(d / static_cast<double>(n));
    }
    return total / static_cast<double>(k);
  };
  const double plain = mean_shift(false), corrected = mean_shift(true);
  EXPECT_LT(corrected, 0.5 * plain) << "mean |E[y_q - y]| per logit: " << plain << " -> " << corrected;
}

}  // namespace
}  // namespace lowbit::ptq
