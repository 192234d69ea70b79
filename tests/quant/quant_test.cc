// Tensor-level quantization and Hadamard transform: HDQT's scale rule (m = c·max|x|), the code
// ranges of every scheme, per-channel parameters, stochastic rounding keyed by (seed, step,
// tensor id), requantization of accumulators, int4 round trips and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/quant/hadamard.h"
#include "lowbit/quant/quantize.h"

namespace lowbit::quant {
namespace {

Tensor randn(const Shape& s, uint64_t seed, float sd = 1.0f) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> d(0.0f, sd);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

TEST(Quantize, HdqtForwardScaleAndCodes) {
  // max|x| = 4, c = 0.975: m = 3.9, s = m / 7; x = -4 clips to -7; 1.0 -> round(1/s) = 2.
  const Tensor x = Tensor::from({4}, {-4.0f, 1.0f, 0.0f, 3.9f});
  const QTensor q = quantize_per_tensor(x, 4, Scheme::auto_sign, Rounding::nearest, 0.975f);
  EXPECT_EQ(q.codes.dtype(), DType::i8);
  EXPECT_FLOAT_EQ(q.params.scale_at(0), 0.975f * 4.0f / 7.0f);
  const int8_t* c = q.codes.data<int8_t>();
  EXPECT_EQ(c[0], -7);
  EXPECT_EQ(c[1], 2);
  EXPECT_EQ(c[2], 0);
  EXPECT_EQ(c[3], 7);
  // Non-negative input (after a ReLU) switches to unsigned codes [0, 15] with s = m / 15.
  const Tensor r = Tensor::from({3}, {0.0f, 2.0f, 1.0f});
  const QTensor u = quantize_per_tensor(r, 4, Scheme::auto_sign, Rounding::nearest, 0.975f);
  EXPECT_EQ(u.params.qmin, 0);
  EXPECT_EQ(u.params.qmax, 15);
  EXPECT_FLOAT_EQ(u.params.scale_at(0), 0.975f * 2.0f / 15.0f);
  EXPECT_EQ(u.codes.data<int8_t>()[1], 15);
}

TEST(Quantize, EverySchemeStaysInItsRangeAndRoundTripsWithinHalfAStep) {
  const Tensor x = randn({7, 33}, 1, 2.0f);
  for (int bits = 2; bits <= 8; ++bits)
    for (Scheme s : {Scheme::symmetric, Scheme::asymmetric, Scheme::asymmetric_signed})
      for (int64_t axis : {-1, 0, 1}) {
        const QTensor q = axis < 0 ? quantize_per_tensor(x, bits, s) : quantize_per_channel(x, axis, bits, s);
        const Tensor back = dequantize(q);
        const std::vector<float> codes = q.codes.to_vector();
        for (float v : codes) ASSERT_TRUE(v >= q.params.qmin && v <= q.params.qmax) << bits;
        ASSERT_EQ(q.params.qmax - q.params.qmin, s == Scheme::symmetric ? 2 * q_max(bits) : (1 << bits) - 1);
        // clip = 1: every value is inside the grid's range, so the error is at most half a step
        // (plus one rounding of x/s and of the dequantized product: 2 ulp of |x|).
        for (int64_t r = 0; r < 7; ++r)
          for (int64_t c = 0; c < 33; ++c) {
            const int64_t ch = axis == 0 ? r : axis == 1 ? c : 0;
            const float step = q.params.scale_at(ch), xv = x.data<float>()[r * 33 + c];
            ASSERT_LE(std::fabs(back.data<float>()[r * 33 + c] - xv), 0.5f * step * (1 + 1e-6f) + 2 * std::fabs(xv) * 0x1p-24f)
                << "bits=" << bits << " axis=" << axis;
          }
      }
}

TEST(Quantize, StochasticStreamDependsOnStepAndTensorOnly) {
  const Tensor x = randn({64, 64}, 2);
  auto codes = [&](RandomKey rs) { return quantize_per_tensor(x, 4, Scheme::symmetric, Rounding::stochastic, 1.0f, rs).codes.to_vector(); };
  EXPECT_EQ(codes(keyed_stream(7, 3, 11)), codes(keyed_stream(7, 3, 11)));
  EXPECT_NE(codes(keyed_stream(7, 3, 11)), codes(keyed_stream(7, 4, 11)));
  EXPECT_NE(codes(keyed_stream(7, 3, 11)), codes(keyed_stream(7, 3, 12)));
  // Codes are one of the two neighbours of x/s.
  const QTensor q = quantize_per_tensor(x, 4, Scheme::symmetric, Rounding::stochastic, 1.0f, {1, 2});
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float y = x.data<float>()[i] / q.params.scale_at(0);
    ASSERT_LE(std::fabs(q.codes.data<int8_t>()[i] - y), 1.0f);
  }
}

TEST(Quantize, RequantizeAccumulatorsMatchesQuantizingTheirValues) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> d(-5000, 5000);
  Tensor acc = Tensor::empty({10, 20}, DType::i32);
  for (int64_t i = 0; i < acc.numel(); ++i) acc.data<int32_t>()[i] = d(rng);
  acc.data<int32_t>()[5] = -7000;
  const QTensor q = requantize(acc, 0.5f, 4, Rounding::nearest);
  EXPECT_FLOAT_EQ(q.params.scale_at(0), 0.5f * 7000.0f / 7.0f);
  EXPECT_EQ(q.codes.data<int8_t>()[5], -7);
  for (int64_t i = 0; i < acc.numel(); ++i)
    ASSERT_EQ(q.codes.data<int8_t>()[i], static_cast<int8_t>(std::nearbyint(acc.data<int32_t>()[i] / 1000.0f)));
}

TEST(Quantize, Int4PackRoundTrip) {
  const QTensor q = quantize_per_tensor(randn({5, 9}, 4), 4, Scheme::symmetric);
  const QTensor p = pack_int4(q);
  EXPECT_EQ(p.codes.dtype(), DType::i4);
  EXPECT_EQ(unpack_int4(p).codes.to_vector(), q.codes.to_vector());
  EXPECT_EQ(dequantize(p).to_vector(), dequantize(q).to_vector());
}

TEST(Quantize, ArgumentErrorsNameTheOp) {
  const Tensor x = randn({4, 4}, 5);
  EXPECT_THROW(quantize_per_tensor(x, 9, Scheme::symmetric), ValueError);
  EXPECT_THROW(quantize_per_tensor(x, 4, Scheme::symmetric, Rounding::nearest, 0.0f), ValueError);
  EXPECT_THROW(quantize_per_channel(x, 2, 4, Scheme::symmetric), ValueError);
  EXPECT_THROW(quantize_per_tensor(Tensor::zeros({3}, DType::i32), 4, Scheme::symmetric), ValueError);
  EXPECT_THROW(pack_int4(quantize_per_tensor(x, 8, Scheme::symmetric)), ValueError);
  try {
    quantize_per_tensor(x, 1, Scheme::symmetric);
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[choose_params]"), std::string::npos) << e.what();
  }
  // All-zero tensors quantize to zero codes with scale 1.
  const QTensor z = quantize_per_tensor(Tensor::zeros({3}), 4, Scheme::symmetric);
  EXPECT_EQ(z.params.scale_at(0), 1.0f);
}

TEST(HadamardTransform, AlongEveryDimensionAndTwiceIsHTimesIdentity) {
  const Tensor x = randn({6, 12, 8}, 6);
  float max_abs = 0;
  for (float v : x.to_vector()) max_abs = std::max(max_abs, std::fabs(v));
  for (int64_t dim : {0, 1, 2, -1}) {
    const int64_t n = x.size(dim), h = hadamard_block_size(n);
    const Tensor y = hadamard_transform(hadamard_transform(x, dim), dim);
    // Each pass rounds log2(h) times on values up to h·max|x| (first) and h²·max|x| (second),
    // and the second pass sums h copies of the first pass's error.
    const float tol = 2 * std::log2(float(h)) * 0x1p-24f * float(h * h) * max_abs;
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_NEAR(y.data<float>()[i], h * x.data<float>()[i], tol) << dim;
  }
  // Integers: i8 in, exact i32 out; applying twice multiplies by h exactly.
  std::vector<int8_t> v(4 * 24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  const Tensor xi = Tensor::from<int8_t>({4, 24}, v);
  const Tensor yi = hadamard_transform(hadamard_transform(xi, 1), 1);
  EXPECT_EQ(yi.dtype(), DType::i32);
  for (int64_t i = 0; i < xi.numel(); ++i) ASSERT_EQ(yi.data<int32_t>()[i], 8 * v[i]);
  EXPECT_THROW(hadamard_transform(x, 1, 3), ValueError);
  EXPECT_THROW(hadamard_transform(x, 1, 8), ValueError);  // 8 does not divide 12
  EXPECT_THROW(hadamard_transform(x, 3), ValueError);
}

}  // namespace
}  // namespace lowbit::quant
