// Quantizer kernels: every code and every rounding boundary for b = 2..8, signed and unsigned;
// fast path equal to the reference bit for bit (nearest and stochastic, per tensor and per
// channel); stochastic rounding unbiased within a bound derived from the sample count and
// independent of the thread count; int4 packing round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/isa.h"
#include "lowbit/kernels/quant.h"
#include "lowbit/kernels/quant_ref.h"

namespace lowbit::kernels {
namespace {

// Code ranges exercised: signed symmetric [-q, q], unsigned [0, 2^b - 1], signed asymmetric
// [-2^(b-1), 2^(b-1) - 1] with a zero point.
struct Range {
  int32_t qmin, qmax, zp;
};
std::vector<Range> ranges(int bits) {
  const int32_t q = (1 << (bits - 1)) - 1;
  return {{-q, q, 0}, {0, (1 << bits) - 1, 0}, {-q - 1, q, 3 - bits}};
}

// Every code k is hit by x = (k - zp)·s; the boundary (k - zp + 0.5)·s goes to the even
// neighbour and its float neighbours go down and up. s = 2^-3 keeps all of these exact.
TEST(Quant, EveryCodeAndEveryRoundingBoundary) {
  const float s = 0.125f;
  for (int bits = 2; bits <= 8; ++bits)
    for (const Range& r : ranges(bits)) {
      std::vector<float> x;
      std::vector<int32_t> want;
      for (int32_t k = r.qmin; k <= r.qmax; ++k) {
        const float y = static_cast<float>(k - r.zp);
        x.push_back(y * s);
        want.push_back(k);
        if (k == r.qmax) break;
        const float tie = (y + 0.5f) * s;
        x.push_back(tie);
        want.push_back(static_cast<int32_t>(std::nearbyint(y + 0.5f)) + r.zp);  // the even one
        x.push_back(std::nextafter(tie, -1e30f));
        want.push_back(k);
        x.push_back(std::nextafter(tie, 1e30f));
        want.push_back(k + 1);
      }
      // Beyond the range (and NaN) clamps to the end codes.
      x.insert(x.end(), {(r.qmax - r.zp + 40) * s, (r.qmin - r.zp - 40) * s, NAN, INFINITY, -INFINITY});
      want.insert(want.end(), {r.qmax, r.qmin, r.qmin, r.qmax, r.qmin});
      const QuantGrid g{1, 1, static_cast<int64_t>(x.size()), &s, &r.zp, r.qmin, r.qmax};
      for (Isa isa : {Isa::ref, best_supported_isa()}) {
        set_active_isa(isa);
        std::vector<int32_t> got(x.size());
        if (r.qmax > 127) {
          std::vector<uint8_t> q(x.size());
          quantize_f32_u8(g, x.data(), q.data(), Rounding::nearest, {});
          for (size_t i = 0; i < q.size(); ++i) got[i] = q[i];
        } else {
          std::vector<int8_t> q(x.size());
          quantize_f32_i8(g, x.data(), q.data(), Rounding::nearest, {});
          for (size_t i = 0; i < q.size(); ++i) got[i] = q[i];
        }
        ASSERT_EQ(got, want) << "bits=" << bits << " qmin=" << r.qmin << " zp=" << r.zp << " " << isa_name(isa);
        // Dequantizing a code gives back its grid point exactly.
        for (size_t i = 0; i + 5 < x.size(); i += 4) ASSERT_EQ(static_cast<float>(got[i] - r.zp) * s, x[i]);
      }
      set_active_isa(best_supported_isa());
    }
}

TEST(Quant, StochasticRoundingBetweenNeighboursOnly) {
  for (float y : {0.0f, 2.0f, 2.25f, -2.75f, 6.999f, -7.0f})
    for (float u : {0.0f, 0.249f, 0.25f, 0.5f, 0.999999f}) {
      const int32_t q = ref::quantize_one(y, 1.0f, -7.0f, 7.0f, Rounding::stochastic, u);
      const float a = std::fabs(y), frac = a - std::floor(a);
      const int32_t mag = static_cast<int32_t>(std::floor(a)) + (u < frac ? 1 : 0);
      EXPECT_EQ(q, y < 0 ? -mag : mag) << y << " " << u;
    }
}

// Fast == reference for random data, per channel along each position, both roundings, int8,
// uint8 and int32 inputs; the stochastic codes do not depend on the thread count.
TEST(Quant, FastEqualsReferenceAndThreadCountInvariant) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 4.0f);
  const int64_t outer = 3, channels = 5, inner = 700;  // inner > one chunk, not a multiple of it
  const int64_t n = outer * channels * inner;
  std::vector<float> x(n), scale(channels);
  std::vector<int32_t> acc(n), zp(channels);
  for (auto& v : x) v = d(rng);
  for (int64_t i = 0; i < n; ++i) acc[i] = static_cast<int32_t>(d(rng) * 1000);
  for (int64_t c = 0; c < channels; ++c) scale[c] = 0.05f * static_cast<float>(c + 1), zp[c] = static_cast<int32_t>(c) - 2;
  const RandomKey key{42, 7, 1000};
  const int saved_threads = num_threads();
  for (auto [o, c, i] : {std::tuple<int64_t, int64_t, int64_t>{outer, channels, inner}, {outer * channels * inner / 5, 5, 1}}) {
    const QuantGrid g{o, c, i, scale.data(), zp.data(), -100, 100};
    for (Rounding r : {Rounding::nearest, Rounding::stochastic}) {
      std::vector<int8_t> want(n), got(n), want32(n), got32(n);
      std::vector<uint8_t> wantu(n), gotu(n);
      ref::quantize_f32_i8(g, x.data(), want.data(), r, key);
      ref::quantize_i32_i8(g, acc.data(), want32.data(), r, key);
      const QuantGrid gu{o, c, i, scale.data(), nullptr, 0, 255};
      ref::quantize_f32_u8(gu, x.data(), wantu.data(), r, key);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        quantize_f32_i8(g, x.data(), got.data(), r, key);
        quantize_i32_i8(g, acc.data(), got32.data(), r, key);
        quantize_f32_u8(gu, x.data(), gotu.data(), r, key);
        EXPECT_EQ(got, want) << "threads=" << threads << " inner=" << i;
        EXPECT_EQ(got32, want32) << "threads=" << threads << " inner=" << i;
        EXPECT_EQ(gotu, wantu) << "threads=" << threads << " inner=" << i;
      }
      std::vector<float> back(n), back_ref(n);
      dequantize_i8_f32(g, got.data(), back.data());
      ref::dequantize_i8_f32(g, got.data(), back_ref.data());
      EXPECT_EQ(back, back_ref);
    }
  }
  set_num_threads(saved_threads);
}

// The 8-bit draws (quant.h, RandomKey): u takes each of the 256 values (r + 0.5) / 256 once over
// r, so P(round up) for a fraction f is exactly #{r : u_r < f} / 256 = round(256 f) / 256 (ties
// down). Enumerated over r for fractions on and off the grid: the bias is 0 on the 1/256 grid
// and at most 2^-9 of a step anywhere, and its mean over a fine uniform grid of fractions is 0.
TEST(Quant, EightBitDrawsRoundUpWithProbabilityFracOnItsGrid) {
  double bias_sum = 0;
  const int kFine = 256 * 64;
  for (int k = 0; k < kFine; ++k) {
    const float y = 2.0f + static_cast<float>(k) / kFine;  // frac = k / kFine, exact
    const double f = static_cast<double>(k) / kFine;
    int up = 0;
    for (int r = 0; r < 256; ++r) up += ref::quantize_one(y, 1.0f, -7.0f, 7.0f, Rounding::stochastic, (r + 0.5f) / 256) - 2;
    const double p = up / 256.0, bias = p - f;
    if (k % 64 == 0) {
      ASSERT_EQ(bias, 0.0) << "frac " << f << " on the 1/256 grid";
    }
    ASSERT_LE(std::fabs(bias), 0x1p-9) << "frac " << f;
    bias_sum += bias;
  }
  // The ties-down rule leaves a mean bias of -2^-9 / 64 (one tie per grid cell of 64 fractions).
  EXPECT_NEAR(bias_sum / kFine, -0x1p-9 / 64, 1e-12);
  // The kernels draw every byte value: 4096 consecutive draws of one stream hit all 256 values.
  std::vector<int> seen(256, 0);
  for (uint64_t i = 0; i < 4096; ++i) ++seen[static_cast<int>(ref::stochastic_uniform(5, 6, i) * 256)];
  for (int r = 0; r < 256; ++r) EXPECT_GT(seen[r], 0) << r;
}

// E[q] = y: each draw's error e = q - y lies in (-1, 1) with variance frac·(1-frac) <= 1/4, so
// the mean of n draws has standard deviation <= 0.5/sqrt(n); 6 sigma, plus the <= 2^-9 bias of
// an 8-bit draw off its grid, never fails by chance in practice (p < 2e-9). The values below
// are off the 1/256 grid except 0.5; nearest rounding fails the test.
TEST(Quant, StochasticRoundingIsUnbiased) {
  const int64_t n = 200000;
  const float bound = static_cast<float>(6 * 0.5 / std::sqrt(static_cast<double>(n)) + 0x1p-9);
  for (float y : {0.1f, 0.5f, 0.9f, 2.3f, -1.7f, -0.01f}) {
    std::vector<float> x(n, y);
    std::vector<int8_t> q(n);
    const float one = 1.0f;
    const QuantGrid g{1, 1, n, &one, nullptr, -7, 7};
    quantize_f32_i8(g, x.data(), q.data(), Rounding::stochastic, {123, 9, 0});
    double mean = 0;
    for (int8_t v : q) mean += v;
    mean /= static_cast<double>(n);
    EXPECT_LE(std::fabs(mean - y), bound) << "y=" << y;
    quantize_f32_i8(g, x.data(), q.data(), Rounding::nearest, {});
    if (std::fabs(y - std::nearbyint(y)) > 0.05f) {
      EXPECT_GT(std::fabs(q[0] - y), bound);
    }
  }
}

// Every path equals the reference where vectors and Philox windows meet the data unevenly:
// stream offsets that are not block aligned, lengths around 16/64/128 and chunk sizes, block
// counters that carry across 2^32, special values, and the dispatcher's short-run fallback.
TEST(Quant, EveryPathEqualsReferenceAtOddOffsetsAndLengths) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 5.0f);
  std::vector<float> x(5000);
  std::vector<int32_t> acc(x.size());
  for (auto& v : x) v = d(rng);
  for (size_t i = 0; i < x.size(); ++i) acc[i] = static_cast<int32_t>(d(rng) * 300);
  x[17] = NAN, x[18] = INFINITY, x[19] = -INFINITY, x[20] = -0.0f, x[21] = 7.5f, x[22] = -7.5f;
  const float scale = 0.7f, acc_scale = 211.0f;
  for (Isa isa : {Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
    if (!isa_supported(isa)) continue;
    for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 300, 2047, 2049, 4999})
      for (uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{3}, uint64_t{6}, (uint64_t{1} << 34) - 70})
        for (Rounding r : {Rounding::nearest, Rounding::stochastic}) {
          const QuantGrid g{1, 1, n, &scale, nullptr, -7, 7};
          const QuantGrid ga{1, 1, n, &acc_scale, nullptr, -7, 7};
          const QuantGrid gu{1, 1, n, &scale, nullptr, 0, 15};
          const RandomKey key{0xABCDEF0123ull, 0x1234567ull, first};
          std::vector<int8_t> want(n), got(n), want32(n), got32(n);
          std::vector<uint8_t> wantu(n), gotu(n);
          ref::quantize_f32_i8(g, x.data(), want.data(), r, key);
          ref::quantize_i32_i8(ga, acc.data(), want32.data(), r, key);
          ref::quantize_f32_u8(gu, x.data(), wantu.data(), r, key);
          set_active_isa(isa);
          quantize_f32_i8(g, x.data(), got.data(), r, key);
          quantize_i32_i8(ga, acc.data(), got32.data(), r, key);
          quantize_f32_u8(gu, x.data(), gotu.data(), r, key);
          set_active_isa(best_supported_isa());
          ASSERT_EQ(got, want) << isa_name(isa) << " n=" << n << " first=" << first;
          ASSERT_EQ(got32, want32) << isa_name(isa) << " n=" << n << " first=" << first;
          ASSERT_EQ(gotu, wantu) << isa_name(isa) << " n=" << n << " first=" << first;
        }
  }
}

// quantize_i32_i8_bounded with |x| <= 255 takes the tabulated path on CPUs with AVX-512 VBMI:
// every value -255..255 (twice, so that each meets several draws) at scales that put a = |x|/s
// on, between and beyond the codes (clamped), at odd lengths and stream offsets and any thread
// count, equal to the reference; a bound above 255 (the float path) equal as well.
// One run long enough to be split over 2-3 threads (a thread takes at least 128 Ki elements),
// starting mid-block in the stream: the reference's codes at every thread count and path,
// through the grid quantizers and the bounded (table) one.
TEST(Quant, LongRunsEqualReferenceAtAnyThreadCount) {
  std::mt19937 rng(12);
  std::normal_distribution<float> d(0.0f, 40.0f);
  const int64_t n = 400003;
  std::vector<float> x(n);
  std::vector<int32_t> acc(n);
  for (int64_t i = 0; i < n; ++i) x[i] = d(rng), acc[i] = std::clamp(static_cast<int32_t>(x[i]), -255, 255);
  const float scale = 255.0f / 7.0f;
  const QuantGrid g{1, 1, n, &scale, nullptr, -7, 7};
  const RandomKey key{5, 9, 1001};
  const int saved_threads = num_threads();
  const Isa saved = active_isa();
  for (Rounding r : {Rounding::nearest, Rounding::stochastic}) {
    std::vector<int8_t> want(n), want32(n), got(n), got32(n), bounded(n);
    ref::quantize_f32_i8(g, x.data(), want.data(), r, key);
    ref::quantize_i32_i8(g, acc.data(), want32.data(), r, key);
    for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
      if (!isa_supported(isa)) continue;
      set_active_isa(isa);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        quantize_f32_i8(g, x.data(), got.data(), r, key);
        quantize_i32_i8(g, acc.data(), got32.data(), r, key);
        quantize_i32_i8_bounded(g, acc.data(), 255, bounded.data(), r, key);
        EXPECT_EQ(got, want) << isa_name(isa) << " threads " << threads;
        EXPECT_EQ(got32, want32) << isa_name(isa) << " threads " << threads;
        EXPECT_EQ(bounded, want32) << "bounded, " << isa_name(isa) << " threads " << threads;
      }
    }
  }
  set_num_threads(saved_threads);
  set_active_isa(saved);
}

TEST(Quant, BoundedInt32EqualsReferenceForEveryValueAndScale) {
  std::vector<int32_t> acc;
  for (int rep = 0; rep < 2; ++rep)
    for (int32_t v = -255; v <= 255; ++v) acc.push_back(v * (rep == 0 ? 1 : -1));
  std::mt19937 rng(9);
  std::shuffle(acc.begin() + 511, acc.end(), rng);
  const int saved_threads = num_threads();
  for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni}) {
    if (!isa_supported(isa)) continue;
    for (float scale : {255.0f / 7.0f, 240.0f / 7.0f, 1.0f, 0.5f, 3.0f, 1.0f / 3.0f, 36.4285f, 0.01f, 1000.0f})
      for (int64_t n : {int64_t{1}, int64_t{63}, int64_t{64}, int64_t{65}, int64_t{1022}})
        for (uint64_t first : {uint64_t{0}, uint64_t{5}, (uint64_t{1} << 33) + 17})
          for (int threads : {1, 3}) {
            const QuantGrid g{1, 1, n, &scale, nullptr, -7, 7};
            const RandomKey key{77, 3, first};
            std::vector<int8_t> want(n), got(n), wide(n);
            ref::quantize_i32_i8(g, acc.data(), want.data(), Rounding::stochastic, key);
            set_active_isa(isa);
            set_num_threads(threads);
            quantize_i32_i8_bounded(g, acc.data(), 255, got.data(), Rounding::stochastic, key);
            quantize_i32_i8_bounded(g, acc.data(), 256, wide.data(), Rounding::stochastic, key);
            set_num_threads(saved_threads);
            set_active_isa(best_supported_isa());
            ASSERT_EQ(got, want) << isa_name(isa) << " scale=" << scale << " n=" << n << " first=" << first;
            ASSERT_EQ(wide, want) << isa_name(isa) << " scale=" << scale << " n=" << n << " first=" << first;
          }
  }
}

// Dequantizers of int8, uint8 and int32 codes, per channel with zero points: the fast path
// equals the reference bit for bit, and int32 codes at the extremes do not overflow q - zp.
TEST(Quant, DequantizeEveryTypeMatchesReferencePerChannel) {
  const int64_t outer = 3, C = 4, inner = 37;
  const float scale[C] = {0.5f, 0.013f, 3.0f, 1e-3f};
  const int32_t zp8[C] = {0, -3, 7, 127}, zpu[C] = {0, 128, 255, 3}, zp32[C] = {5, -5, 0, 1 << 30};
  const QuantGrid g8{outer, C, inner, scale, zp8, -128, 127}, gu{outer, C, inner, scale, zpu, 0, 255},
      g32{outer, C, inner, scale, zp32, 0, 0};
  std::mt19937 rng(5);
  const int64_t n = outer * C * inner;
  std::vector<int8_t> q8(n);
  std::vector<uint8_t> qu(n);
  std::vector<int32_t> q32(n);
  for (int64_t i = 0; i < n; ++i) {
    q8[i] = static_cast<int8_t>(rng()), qu[i] = static_cast<uint8_t>(rng()), q32[i] = static_cast<int32_t>(rng());
  }
  q32[0] = INT32_MIN, q32[inner] = INT32_MAX;  // channel 0 with zp 5, channel 1 with zp -5
  for (const auto& [q, type] : {std::pair{0, "i8"}, std::pair{1, "u8"}, std::pair{2, "i32"}}) {
    std::vector<float> want(n), got(n);
    if (q == 0) ref::dequantize_i8_f32(g8, q8.data(), want.data()), dequantize_i8_f32(g8, q8.data(), got.data());
    if (q == 1) ref::dequantize_u8_f32(gu, qu.data(), want.data()), dequantize_u8_f32(gu, qu.data(), got.data());
    if (q == 2) ref::dequantize_i32_f32(g32, q32.data(), want.data()), dequantize_i32_f32(g32, q32.data(), got.data());
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), sizeof(float) * n)) << type;
  }
  std::vector<float> x(n);
  dequantize_i32_f32(g32, q32.data(), x.data());
  EXPECT_EQ(x[0], static_cast<float>(int64_t{INT32_MIN} - 5) * 0.5f);
  EXPECT_EQ(x[inner], static_cast<float>(int64_t{INT32_MAX} + 5) * 0.013f);
  dequantize_u8_f32(gu, qu.data(), x.data());
  EXPECT_EQ(x[inner + 2], static_cast<float>(int32_t{qu[inner + 2]} - 128) * 0.013f);
}

TEST(Quant, Int4PackingRoundTripsEveryValue) {
  std::vector<int8_t> s, u;
  for (int v = -8; v <= 7; ++v)
    for (int w = -8; w <= 7; ++w) s.push_back(static_cast<int8_t>(v)), s.push_back(static_cast<int8_t>(w));
  s.push_back(-3);  // odd length
  for (int8_t v : s) u.push_back(static_cast<int8_t>(v + 8));
  std::vector<uint8_t> p((s.size() + 1) / 2);
  std::vector<int8_t> back(s.size());
  pack_int4(static_cast<int64_t>(s.size()), s.data(), p.data());
  unpack_int4(static_cast<int64_t>(s.size()), p.data(), back.data());
  EXPECT_EQ(back, s);
  EXPECT_EQ(p.back() >> 4, 0);  // odd tail leaves the high nibble zero
  pack_int4(static_cast<int64_t>(u.size()), u.data(), p.data());
  unpack_uint4(static_cast<int64_t>(u.size()), p.data(), back.data());
  EXPECT_EQ(back, u);
}

TEST(Quant, MaxAbsAndMinMax) {
  const float x[] = {1.0f, -3.5f, NAN, 2.0f};
  EXPECT_EQ(max_abs_f32(4, x), 3.5f);
  const int32_t y[] = {5, INT32_MIN, 7};
  EXPECT_EQ(max_abs_i32(3, y), INT32_MAX);
  float lo, hi;
  min_max_f32(4, x, &lo, &hi);
  EXPECT_EQ(lo, -3.5f);
  EXPECT_EQ(hi, 2.0f);
  // Long inputs (vectorized bodies and tails) against plain comparisons, with NaNs of both
  // signs, infinities and signed zeros placed at every position class.
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 100.0f);
  for (int64_t n : {1, 7, 16, 33, 100, 1000}) {
    for (float special : {NAN, -NAN, INFINITY, -INFINITY, -0.0f, 1e-40f}) {
      std::vector<float> v(n);
      std::vector<int32_t> w(n);
      for (auto& e : v) e = d(rng);
      for (auto& e : w) e = static_cast<int32_t>(d(rng) * 1e6f);
      v[n / 2] = special;
      v[n - 1] = -special;
      w[n / 3] = n % 2 ? INT32_MIN : INT32_MAX;
      float want = 0.0f;
      int64_t want_i = 0;
      for (float e : v)
        if (std::fabs(e) > want) want = std::fabs(e);
      for (int32_t e : w) want_i = std::max<int64_t>(want_i, std::abs(static_cast<int64_t>(e)));
      EXPECT_EQ(max_abs_f32(n, v.data()), want) << "n=" << n << " special=" << special;
      EXPECT_EQ(max_abs_i32(n, w.data()), std::min<int64_t>(want_i, INT32_MAX)) << "n=" << n;
    }
  }
}

}  // namespace
}  // namespace lowbit::kernels
