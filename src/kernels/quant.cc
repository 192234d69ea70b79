// Portable fast quantizers: the rule of quant.h over chunks of 256 elements, one Philox block
// per 16 stochastic draws (sr_fill) instead of one per element, chunks spread over threads.
// Chunk boundaries never change a result: element e always uses stream index first+e.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <type_traits>

#include "int_impl.h"
#include "lowbit/core/rng.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels {
namespace portable {
namespace {

constexpr int64_t kChunk = 256;

// u[i] = ref::stochastic_uniform(seed, stream, first + i) for i < n, a block per 16 indices.
void sr_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* u) {
  int64_t i = 0;
  while (i < n) {
    const uint64_t idx = first + static_cast<uint64_t>(i), blk = idx >> 4;
    const auto w = philox4x32({static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                               static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                              {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
    for (uint64_t j = idx & 15; j < 16 && i < n; ++j, ++i)
      u[i] = (static_cast<float>((w[j >> 2] >> (8 * (j & 3))) & 0xFFu) + 0.5f) * 0x1.0p-8f;
  }
}

// Quantizes n consecutive elements that share one channel: y = clamp(x/s, lo, hi), rounded.
template <typename In, typename Out>
void quantize_run(int64_t n, const In* x, Out* q, float scale, int32_t zp, float lo, float hi, Rounding r,
                  const RandomKey& key, uint64_t first) {
  float u[kChunk];
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t len = std::min(kChunk, n - b);
    if (r == Rounding::nearest) {
      for (int64_t i = 0; i < len; ++i) {
        float y = static_cast<float>(x[b + i]) / scale;
        y = y > lo ? y : lo;
        y = y < hi ? y : hi;
        q[b + i] = static_cast<Out>(static_cast<int32_t>(std::nearbyint(y)) + zp);
      }
    } else {
      sr_fill(key.seed, key.stream, first + static_cast<uint64_t>(b), len, u);
      for (int64_t i = 0; i < len; ++i) {
        float y = static_cast<float>(x[b + i]) / scale;
        y = y > lo ? y : lo;
        y = y < hi ? y : hi;
        const float a = std::fabs(y), fl = std::floor(a);
        const int32_t mag = static_cast<int32_t>(fl) + (u[i] < a - fl ? 1 : 0);
        q[b + i] = static_cast<Out>((y < 0.0f ? -mag : mag) + zp);
      }
    }
  }
}

template <typename In, typename Out>
void quantize_grid(const QuantGrid& g, const In* x, Out* q, Rounding r, RandomKey key) {
  auto run = [&](int64_t o, int64_t c, int64_t i0, int64_t len) {
    const int32_t zp = g.zero_point ? g.zero_point[c] : 0;
    const int64_t e = (o * g.channels + c) * g.inner + i0;
    quantize_run(len, x + e, q + e, g.scale[c], zp, static_cast<float>(g.qmin - zp),
                 static_cast<float>(g.qmax - zp), r, key, key.first + static_cast<uint64_t>(e));
  };
  if (g.inner >= kChunk) {  // long runs per channel: split each run into chunks
    const int64_t per_run = (g.inner + kChunk - 1) / kChunk;
    parallel_for(g.outer * g.channels * per_run, 16, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t run_id = t / per_run, i0 = (t % per_run) * kChunk;
        run(run_id / g.channels, run_id % g.channels, i0, std::min(kChunk, g.inner - i0));
      }
    });
  } else {  // short runs (inner == 1 for a per-column scale): one task per (o, c) group
    parallel_for(g.outer * g.channels, std::max<int64_t>(1, 4096 / std::max<int64_t>(g.inner, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t t = b; t < e; ++t) run(t / g.channels, t % g.channels, 0, g.inner);
                 });
  }
}

template <typename In>
void dequantize_grid(const QuantGrid& g, const In* q, float* x) {
  using Diff = std::conditional_t<std::is_same_v<In, int32_t>, int64_t, int32_t>;  // never overflows
  parallel_for(g.outer * g.channels, std::max<int64_t>(1, 4096 / std::max<int64_t>(g.inner, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t c = t % g.channels;
                   const int32_t zp = g.zero_point ? g.zero_point[c] : 0;
                   const float s = g.scale[c];
                   const In* src = q + t * g.inner;
                   float* dst = x + t * g.inner;
                   for (int64_t i = 0; i < g.inner; ++i) dst[i] = static_cast<float>(static_cast<Diff>(src[i]) - zp) * s;
                 }
               });
}

}  // namespace

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

}  // namespace portable

// ---- ISA-independent helpers (no reference twin: they are their own specification) ----

// Written on the bit patterns so that the compiler vectorizes the reductions: for non-NaN x,
// |x| orders like its bits without the sign, and NaN patterns are exactly those above +inf's.
float max_abs_f32(int64_t n, const float* x) {
  uint32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t a = std::bit_cast<uint32_t>(x[i]) & 0x7FFFFFFFu;
    // NaN never wins: all ones iff a <= +inf's pattern 0x7F800000 (a branch-free mask; GCC 12
    // leaves the equivalent conditional expression scalar).
    const uint32_t keep = static_cast<uint32_t>(static_cast<int32_t>(a - 0x7F800001u) >> 31);
    m = std::max(m, a & keep);
  }
  return std::bit_cast<float>(m);
}

int32_t max_abs_i32(int64_t n, const int32_t* x) {
  uint32_t m = 0;  // |INT32_MIN| = 2^31 fits unsigned; saturated at the end
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t v = static_cast<uint32_t>(x[i]);
    m = std::max(m, x[i] < 0 ? 0u - v : v);
  }
  return static_cast<int32_t>(std::min<uint32_t>(m, std::numeric_limits<int32_t>::max()));
}

void min_max_f32(int64_t n, const float* x, float* lo, float* hi) {
  float a = std::numeric_limits<float>::infinity(), b = -a;
  for (int64_t i = 0; i < n; ++i) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *lo = a;
  *hi = b;
}

void pack_int4(int64_t n, const int8_t* x, uint8_t* packed) {
  for (int64_t i = 0; i + 1 < n; i += 2)
    packed[i / 2] = static_cast<uint8_t>((static_cast<uint8_t>(x[i]) & 0x0F) | (static_cast<uint8_t>(x[i + 1]) << 4));
  if (n % 2) packed[n / 2] = static_cast<uint8_t>(x[n - 1]) & 0x0F;
}

void unpack_int4(int64_t n, const uint8_t* packed, int8_t* x) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t nib = (packed[i / 2] >> (4 * (i % 2))) & 0x0F;
    x[i] = static_cast<int8_t>(static_cast<int8_t>(nib << 4) >> 4);
  }
}

void unpack_uint4(int64_t n, const uint8_t* packed, int8_t* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<int8_t>((packed[i / 2] >> (4 * (i % 2))) & 0x0F);
}

}  // namespace lowbit::kernels
