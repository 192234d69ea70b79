// Philox4x32-10 and the uniform/normal fills built on it.
#include "lowbit/core/rng.h"

// GCC 12 warns about _mm512_undefined_epi32() inside its own _mm512_mul_epu32 (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

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

// kLanes Philox blocks side by side. The portable version is plain loops; the AVX-512 one does
// the 32x32->64 multiplies of even and odd lanes with vpmuludq and recombines high and low
// halves with masked blends. Both compute exactly philox4x32(); out[4*l + j] is word j of
// block first_block + l.
constexpr int kLanes = 16;

void philox_lanes_portable(uint64_t seed, uint64_t stream, uint64_t first_block, float* out) {
  for (int l = 0; l < kLanes; ++l) {
    const auto b = block(seed, stream, first_block + static_cast<uint64_t>(l));
    for (int j = 0; j < 4; ++j) out[4 * l + j] = u32_to_unit_float(b[j]);
  }
}

__attribute__((target("avx512f"))) inline void mulhilo16(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i pe = _mm512_mul_epu32(a, m);                         // even lanes, 64-bit products
  const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // odd lanes
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
  lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

__attribute__((target("avx512f"))) void philox_lanes_avx512(uint64_t seed, uint64_t stream, uint64_t first_block,
                                                            float* out) {
  alignas(64) uint32_t lo32[kLanes], hi32[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const uint64_t blk = first_block + static_cast<uint64_t>(l);
    lo32[l] = static_cast<uint32_t>(blk);
    hi32[l] = static_cast<uint32_t>(blk >> 32);
  }
  __m512i c0 = _mm512_load_si512(lo32), c1 = _mm512_load_si512(hi32);
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  const __m512i m0 = _mm512_set1_epi64(kM0), m1 = _mm512_set1_epi64(kM1);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(c0, m0, hi0, lo0);
    mulhilo16(c2, m1, hi1, lo1);
    const __m512i kk0 = _mm512_set1_epi32(static_cast<int>(k0)), kk1 = _mm512_set1_epi32(static_cast<int>(k1));
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), kk0);
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), kk1);
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  const __m512 scale = _mm512_set1_ps(0x1.0p-24f);
  alignas(64) float f[4][kLanes];
  _mm512_store_ps(f[0], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c0, 8)), scale));
  _mm512_store_ps(f[1], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c1, 8)), scale));
  _mm512_store_ps(f[2], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c2, 8)), scale));
  _mm512_store_ps(f[3], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(c3, 8)), scale));
  for (int l = 0; l < kLanes; ++l)
    for (int j = 0; j < 4; ++j) out[4 * l + j] = f[j][l];
}

using LanesFn = void (*)(uint64_t, uint64_t, uint64_t, float*);
LanesFn lanes_impl() {
  static const LanesFn fn = __builtin_cpu_supports("avx512f") ? philox_lanes_avx512 : philox_lanes_portable;
  return fn;
}

}  // namespace

void uniform_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out) {
  int64_t i = 0;
  // Scalar head up to a block boundary, vector body of kLanes blocks, scalar tail.
  const LanesFn lanes = lanes_impl();
  while (i < n && ((first + static_cast<uint64_t>(i)) & 3) != 0) {
    out[i] = u32_to_unit_float(random_u32(seed, stream, first + static_cast<uint64_t>(i)));
    ++i;
  }
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
    lanes(seed, stream, (first + static_cast<uint64_t>(i)) >> 2, out + i);
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
