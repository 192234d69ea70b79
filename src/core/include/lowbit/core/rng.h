// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A value is a pure function
// of (seed, stream, index), so parallel code gets the same numbers for any thread count and
// any iteration order. Streams separate independent uses (a tensor id, a training step, ...).
#pragma once

#include <array>
#include <cstdint>

namespace lowbit {

// One Philox4x32-10 block: 4 uniform 32-bit words for a 128-bit counter and 64-bit key.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// Mixes several 64-bit identifiers into one stream id (e.g. step, tensor id).
constexpr uint64_t mix_stream(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return x;
}

// Random 32-bit word number `index` of the stream (seed, stream).
uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t index);

// Uniform float in [0, 1) with 24 random bits: exactly representable, never 1.0.
inline float u32_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }

// Fills out[0..n) with uniform [0,1) floats for indices [first, first+n) of the stream.
void uniform_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out);
// Standard normal floats (Box-Muller over pairs of uniforms), same indexing rule.
void normal_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float* out);

// A sequential convenience generator over one stream: draws consume consecutive indices.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  uint32_t next_u32() { return random_u32(seed_, stream_, index_++); }
  float uniform() { return u32_to_unit_float(next_u32()); }
  // Uniform integer in [0, n) (n > 0), via Lemire's multiply-shift (bias below 2^-32 * n).
  uint64_t below(uint64_t n) { return (static_cast<uint64_t>(next_u32()) * n) >> 32; }
  float normal();
  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t index() const { return index_; }
  void set_index(uint64_t i) { index_ = i; }

 private:
  uint64_t seed_, stream_, index_ = 0;
};

}  // namespace lowbit
