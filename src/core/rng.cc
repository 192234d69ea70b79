// Philox4x32-10 and the uniform/normal fills built on it: portable code only. Vectorized Philox
// lives with the kernels that need it (kernels/quant_avx512.cc), behind kernels/dispatch.cc.
#include "lowbit/core/rng.h"

#include <cmath>

namespace lowbit {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Block for (seed, stream, block index): key = seed, counter = (block, stream).
inline std::array<uint32_t, 4> block(uint64_t seed, uint64_t stream, uint64_t blk) {
  return philox4x32({static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                     static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

}  // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c[0], hi0, lo0);
    mulhilo(kM1, c[2], hi1, lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kW0;
    k[1] += kW1;
  }
  return c;
}

uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t index) {
  return block(seed, stream, index >> 2)[index & 3];
}

void uniform_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out) {
  // A block at a time: one Philox block yields four consecutive words of the stream.
  int64_t i = 0;
  while (i < n) {
    const uint64_t idx = first + static_cast<uint64_t>(i);
    const auto b = block(seed, stream, idx >> 2);
    for (uint64_t j = idx & 3; j < 4 && i < n; ++j, ++i) out[i] = u32_to_unit_float(b[j]);
  }
}

void normal_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out) {
  // Element i uses uniforms 2i and 2i+1 of the stream, so any sub-range is reproducible.
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t idx = 2 * (first + static_cast<uint64_t>(i));
    const float u1 = u32_to_unit_float(random_u32(seed, stream, idx));
    const float u2 = u32_to_unit_float(random_u32(seed, stream, idx + 1));
    const float r = std::sqrt(-2.0f * std::log(1.0f - u1));  // 1-u1 in (0,1]
    out[i] = r * std::cos(6.28318530717958647692f * u2);
  }
}

float Rng::normal() {
  const float u1 = uniform(), u2 = uniform();
  return std::sqrt(-2.0f * std::log(1.0f - u1)) * std::cos(6.28318530717958647692f * u2);
}

}  // namespace lowbit
