// Branch-free float exp and erf that compilers vectorize (plain arithmetic, no libm calls), for
// the transformer hot spots: Softmax, Gelu, Sigmoid. exp: Cephes' expf (range reduction by ln 2,
// degree-6 polynomial), relative error <= 2 ulp on [-87, 88]. erf: Abramowitz & Stegun 7.1.26,
// absolute error <= 1.5e-7 for the formula plus ~12 float roundings (< 9e-7 in all), a few ulp of
// 1 + erf(x) — the quantity Gelu uses.
#pragma once

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <bit>

namespace lowbit::onnx {

inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  // n = round(x / ln 2) via the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln 2 split in hi + lo
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = std::bit_cast<int32_t>(shifted);
  // Integer n, biased, into the exponent field.
  return p * std::bit_cast<float>((bits - 0x4B400000 + 127) << 23);
}

inline float fast_erf(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const float y = 1.0f - poly * t * fast_exp(-a * a);
  return std::copysign(y, x);
}

// y = 0.5 x (1 + erf(x / sqrt 2)) over n elements (may alias).
inline void gelu_n(int64_t n, const float* x, float* y) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * 0.70710678118654752f));
}

}  // namespace lowbit::onnx
