// Philox4x32-10 and the uniform/normal fills built on it.
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

namespace {

// kLanes Philox blocks side by side, written as plain loops over lanes so that the compiler
// vectorizes the 32x32->64 multiplies (vpmuludq); target_clones builds an AVX-512, an AVX2
// and a baseline version and picks one at load time. Same arithmetic as philox4x32().
constexpr int kLanes = 16;

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void philox_lanes(uint64_t seed, uint64_t stream, uint64_t first_block, float* out) {
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const uint64_t blk = first_block + static_cast<uint64_t>(l);
    c0[l] = static_cast<uint32_t>(blk);
    c1[l] = static_cast<uint32_t>(blk >> 32);
    c2[l] = static_cast<uint32_t>(stream);
    c3[l] = static_cast<uint32_t>(stream >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[l];
      const uint64_t p1 = static_cast<uint64_t>(kM1) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int l = 0; l < kLanes; ++l) {
    out[4 * l + 0] = u32_to_unit_float(c0[l]);
    out[4 * l + 1] = u32_to_unit_float(c1[l]);
    out[4 * l + 2] = u32_to_unit_float(c2[l]);
    out[4 * l + 3] = u32_to_unit_float(c3[l]);
  }
}

}  // namespace

void uniform_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out) {
  int64_t i = 0;
  // Scalar head up to a block boundary, vector body of kLanes blocks, scalar tail.
  while (i < n && ((first + static_cast<uint64_t>(i)) & 3) != 0) {
    out[i] = u32_to_unit_float(random_u32(seed, stream, first + static_cast<uint64_t>(i)));
    ++i;
  }
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
    philox_lanes(seed, stream, (first + static_cast<uint64_t>(i)) >> 2, out + i);
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
