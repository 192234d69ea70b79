// A straightforward float simulation of the HDQT products (spec hdqt.md §1), written from the
// spec with dense ±1 Hadamard matrices and plain loops, used as the oracle of the quantized
// layers. Integer parts must match the layers exactly; float scales are computed in the same
// order of operations so the outputs match bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/rng.h"

namespace lowbit::fqt::sim {

using Mat = std::vector<float>;  // row-major
using IMat = std::vector<int64_t>;

inline std::vector<int> dense_hadamard(int64_t n) {  // n x n block-diagonal, h = largest 2^k | n
  const int64_t h = n & -n;
  std::vector<int> H(n * n, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i / h == j / h) H[i * n + j] = (__builtin_popcountll(static_cast<uint64_t>((i % h) & (j % h))) & 1) ? -1 : 1;
  return H;
}

inline int64_t q_one(float x, float s, int64_t lo, int64_t hi, bool sr, float u) {
  float y = x / s;
  y = std::min(std::max(y, float(lo)), float(hi));
  if (!sr) return static_cast<int64_t>(std::nearbyint(y));
  const float a = std::fabs(y), fl = std::floor(a);
  const int64_t mag = static_cast<int64_t>(fl) + (u < a - fl ? 1 : 0);
  return y < 0 ? -mag : mag;
}

struct Q {
  IMat q;
  float s;
};

// The stochastic-rounding draw of stream index i (spec §1.2, 8 bits per element): byte i % 16
// of Philox block i / 16 (little-endian bytes of its four words), as (r + 0.5) / 256.
inline float sr_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  const uint64_t b = i / 16;
  const auto w = philox4x32({uint32_t(b), uint32_t(b >> 32), uint32_t(stream), uint32_t(stream >> 32)},
                            {uint32_t(seed), uint32_t(seed >> 32)});
  const uint32_t r = (w[(i % 16) / 4] >> (8 * (i % 4))) & 255;
  return (float(r) + 0.5f) / 256.0f;
}

// scale = max|v| / q, signed codes; stochastic with (seed, stream, element index).
inline Q quant_max(const Mat& v, int bits, bool sr, uint64_t seed, uint64_t stream) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  const int64_t q = (1 << (bits - 1)) - 1;
  Q out{IMat(v.size()), m > 0 ? m / float(q) : 1.0f};
  for (size_t e = 0; e < v.size(); ++e)
    out.q[e] = q_one(v[e], out.s, -q, q, sr, sr ? sr_uniform(seed, stream, e) : 0.0f);
  return out;
}

// Forward operand: m = c max|x|, unsigned when allowed and x >= 0.
inline Q quant_operand(const Mat& v, int bits, float clip, bool allow_unsigned) {
  float m = 0, lo = 0;
  for (float x : v) m = std::max(m, std::fabs(x)), lo = std::min(lo, x);
  m *= clip;
  const bool uns = allow_unsigned && lo >= 0 && bits <= 7;  // int8 holds unsigned codes up to 7 bits
  const int64_t q = uns ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  Q out{IMat(v.size()), m > 0 ? m / float(q) : 1.0f};
  for (size_t e = 0; e < v.size(); ++e) out.q[e] = q_one(v[e], out.s, uns ? 0 : -q, q, false, 0);
  return out;
}

// acc[i][j] = sum over tiles of sat(sum_{k in tile} a[i][k] b[j][k]); tile 0 = one tile.
inline IMat tiled_sat_matmul(const IMat& a, const IMat& b, int64_t M, int64_t N, int64_t K, int acc_bits, int64_t tile) {
  const int64_t qa = (int64_t{1} << (acc_bits - 1)) - 1, T = tile > 0 ? tile : K;
  IMat c(M * N, 0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k0 = 0; k0 < K; k0 += T) {
        int64_t p = 0;
        for (int64_t k = k0; k < std::min(K, k0 + T); ++k) p += a[i * K + k] * b[j * K + k];
        c[i * N + j] += std::clamp(p, -qa, qa);
      }
  return c;
}

}  // namespace lowbit::fqt::sim
