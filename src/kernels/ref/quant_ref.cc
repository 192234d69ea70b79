// Reference quantizers: the rule of quant.h written one element at a time, one Philox block per
// element. The fast versions (quant.cc, quant_avx512.cc) share a block among 16 elements but
// must produce the same codes bit for bit.
#include <cmath>

#include "lowbit/core/rng.h"
#include "lowbit/kernels/quant_ref.h"

namespace lowbit::kernels::ref {
namespace {

template <typename In, typename Out>
void quantize_grid(const QuantGrid& g, const In* x, Out* q, Rounding r, RandomKey key) {
  for (int64_t o = 0; o < g.outer; ++o) {
    for (int64_t c = 0; c < g.channels; ++c) {
      const int32_t zp = g.zero_point ? g.zero_point[c] : 0;
      const float lo = static_cast<float>(g.qmin - zp), hi = static_cast<float>(g.qmax - zp);
      const int64_t base = (o * g.channels + c) * g.inner;
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t e = base + i;
        float u = 0.0f;
        if (r == Rounding::stochastic)
          u = stochastic_uniform(key.seed, key.stream, key.first + static_cast<uint64_t>(e));
        q[e] = static_cast<Out>(quantize_one(static_cast<float>(x[e]), g.scale[c], lo, hi, r, u) + zp);
      }
    }
  }
}

template <typename In>
void dequantize_grid(const QuantGrid& g, const In* q, float* x) {
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t c = 0; c < g.channels; ++c) {
      const int32_t zp = g.zero_point ? g.zero_point[c] : 0;
      const int64_t base = (o * g.channels + c) * g.inner;
      for (int64_t i = 0; i < g.inner; ++i)
        x[base + i] = static_cast<float>(static_cast<int64_t>(q[base + i]) - zp) * g.scale[c];
    }
}

}  // namespace

float stochastic_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t blk = index >> 4;
  const auto w = philox4x32({static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                             static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                            {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  const uint32_t r = (w[(index >> 2) & 3] >> (8 * (index & 3))) & 0xFFu;
  return (static_cast<float>(r) + 0.5f) * 0x1.0p-8f;
}

int32_t quantize_one(float x, float scale, float lo, float hi, Rounding r, float u) {
  float y = x / scale;
  y = y > lo ? y : lo;  // NaN -> lo
  y = y < hi ? y : hi;
  if (r == Rounding::nearest) return static_cast<int32_t>(std::nearbyint(y));  // ties to even
  const float a = std::fabs(y);
  const float fl = std::floor(a);
  const int32_t mag = static_cast<int32_t>(fl) + (u < a - fl ? 1 : 0);  // a - fl is exact
  return y < 0.0f ? -mag : mag;
}

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}
void dequantize_i8_f32(const QuantGrid& g, const int8_t* q, float* x) { dequantize_grid(g, q, x); }
void dequantize_u8_f32(const QuantGrid& g, const uint8_t* q, float* x) { dequantize_grid(g, q, x); }
void dequantize_i32_f32(const QuantGrid& g, const int32_t* q, float* x) { dequantize_grid(g, q, x); }

}  // namespace lowbit::kernels::ref
