// AVX-512 quantizers: the rule of quant.h sixteen elements per vector, with the Philox4x32-10
// words of stochastic rounding computed in registers rather than through a float buffer.
// Element e still uses byte (first+e) % 16 of block (first+e) / 16, so codes equal the reference.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as "maybe
// uninitialized" (a false positive of the header, not of this code), and as plainly
// "uninitialized" where a function-level target attribute inlines them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cstring>

#include "int_impl.h"
#include "lowbit/core/threads.h"

namespace lowbit::kernels::avx512 {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // Philox4x32 multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
constexpr int kGroups = 4;  // independent 16-block lane sets in flight: 2 ran 0.45 ns/element, 4 0.34, 8 spilled (0.51)
constexpr int64_t kBlockSpan = 256;         // stream indices (bytes) of one 16-block lane set
constexpr int64_t kChunk = 2048;            // elements per parallel task (a multiple of 4 kBlockSpan)
// Elements a thread gets at least before a call goes parallel (~15-40 µs of quantizing): waking
// a sleeping OpenMP worker costs tens of µs on a 2-vCPU VM (OMP_WAIT_POLICY=passive), so smaller
// tensors (a conv's weights, K·CRS <= 37 K) run on the calling thread.
constexpr int64_t kMinTaskElements = int64_t{1} << 17;

// 16 products a·m of 32-bit lanes: high and low 32-bit halves, lane order kept.
inline void mulhilo(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                         // lanes 0,2,..: 64-bit
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // lanes 1,3,..
  const __m512i hi_idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
  hi = _mm512_permutex2var_epi32(even, hi_idx, odd);
  lo = _mm512_permutex2var_epi32(even, lo_idx, odd);
}

// Words of blocks first_block .. first_block + 16·G - 1 in stream order:
// w[g][m] lane i = word 64·g + 16·m + i counted from block first_block's word 0.
template <int G>
inline void philox_words(uint64_t seed, uint64_t stream, uint64_t first_block, __m512i (&w)[G][4]) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i c[G][4];
  for (int g = 0; g < G; ++g) {
    const uint64_t b = first_block + 16 * static_cast<uint64_t>(g);
    const __m512i base = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
    c[g][0] = _mm512_add_epi32(base, iota);
    const __mmask16 carry = _mm512_cmplt_epu32_mask(c[g][0], base);  // the low word wrapped
    const __m512i hi = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32)));
    c[g][1] = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
    c[g][2] = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
    c[g][3] = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  }
  const __m512i m0 = _mm512_set1_epi64(kM0), m1 = _mm512_set1_epi64(kM1);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const __m512i kk0 = _mm512_set1_epi32(static_cast<int>(k0)), kk1 = _mm512_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < G; ++g) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo(c[g][0], m0, hi0, lo0);
      mulhilo(c[g][2], m1, hi1, lo1);
      c[g][0] = _mm512_ternarylogic_epi32(hi1, c[g][1], kk0, 0x96);  // three-way xor
      c[g][1] = lo1;
      c[g][2] = _mm512_ternarylogic_epi32(hi0, c[g][3], kk1, 0x96);
      c[g][3] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  // c[g][j] lane l is word j of block 16g + l; reorder to stream order (a 4x4 transpose of
  // 32-bit words inside each 128-bit lane, then of the 128-bit lanes across the 4 vectors).
  for (int g = 0; g < G; ++g) {
    const __m512i t0 = _mm512_unpacklo_epi32(c[g][0], c[g][1]), t1 = _mm512_unpackhi_epi32(c[g][0], c[g][1]);
    const __m512i t2 = _mm512_unpacklo_epi32(c[g][2], c[g][3]), t3 = _mm512_unpackhi_epi32(c[g][2], c[g][3]);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const __m512i a = _mm512_shuffle_i32x4(u0, u1, 0x44), b = _mm512_shuffle_i32x4(u2, u3, 0x44);
    const __m512i cc = _mm512_shuffle_i32x4(u0, u1, 0xEE), d = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    w[g][0] = _mm512_shuffle_i32x4(a, b, 0x88);
    w[g][1] = _mm512_shuffle_i32x4(a, b, 0xDD);
    w[g][2] = _mm512_shuffle_i32x4(cc, d, 0x88);
    w[g][3] = _mm512_shuffle_i32x4(cc, d, 0xDD);
  }
}

inline __m512 load16(const float* x) { return _mm512_loadu_ps(x); }
inline __m512 load16(const int32_t* x) { return _mm512_cvtepi32_ps(_mm512_loadu_si512(x)); }

// The per-run constants of quant.h's rule.
struct Rule {
  __m512 scale, lo, hi;
  __m512i zp;
};

// The 16 bytes of 128-bit lane L of w (16 consecutive stream indices), zero-extended to 32 bits.
template <int L>
inline __m512i bytes16(__m512i w) {
  return _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(w, L));
}

// Codes of 16 values (clamp(x / s) rounded; `r` holds their 8-bit draws when stochastic).
template <bool kStochastic>
inline __m128i codes16(__m512 x, const Rule& r, __m512i bytes) {
  __m512 y = _mm512_div_ps(x, r.scale);
  y = _mm512_max_ps(y, r.lo);  // NaN -> lo: maxps returns its second operand on NaN
  y = _mm512_min_ps(y, r.hi);
  __m512i q;
  if constexpr (!kStochastic) {
    q = _mm512_cvtps_epi32(y);  // current rounding mode: nearest, ties to even (= nearbyint)
  } else {
    const __m512 a = _mm512_abs_ps(y);
    const __m512 fl = _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512 u = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(bytes), _mm512_set1_ps(0.5f)),
                                    _mm512_set1_ps(0x1.0p-8f));  // exact: (r + 0.5) / 256
    const __mmask16 up = _mm512_cmp_ps_mask(u, _mm512_sub_ps(a, fl), _CMP_LT_OQ);
    __m512i mag = _mm512_cvttps_epi32(fl);
    mag = _mm512_mask_add_epi32(mag, up, mag, _mm512_set1_epi32(1));
    const __mmask16 neg = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_LT_OQ);
    q = _mm512_mask_sub_epi32(mag, neg, _mm512_setzero_si512(), mag);
  }
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(q, r.zp));  // in [qmin, qmax]: truncation is exact
}

// n consecutive elements of one channel; element i has stream index s0 + i. Philox windows
// start at block boundaries: the first and last vectors of a run may be partial, and go
// through a 16-element scratch so that no load or store leaves [x, x + n).
template <bool kStochastic, typename In, typename Out>
void quantize_run(int64_t n, const In* x, Out* q, const Rule& rule, const RandomKey& key, uint64_t s0) {
  In xin[16];
  Out qout[16];
  auto partial = [&](int64_t i, int64_t lo, int64_t hi, __m512i w) {  // lanes [lo, hi) <-> elements i+lo..
    std::memset(xin, 0, sizeof(xin));
    std::memcpy(xin + lo, x + i + lo, static_cast<size_t>(hi - lo) * sizeof(In));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qout), codes16<kStochastic>(load16(xin), rule, w));
    std::memcpy(q + i + lo, qout + lo, static_cast<size_t>(hi - lo) * sizeof(Out));
  };
  auto vec = [&](int64_t i, __m512i w) {  // vector of lanes for elements [i, i + 16)
    const int64_t lo = std::max<int64_t>(0, -i), hi = std::min<int64_t>(16, n - i);
    if (hi <= lo) return;
    if (lo == 0 && hi == 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), codes16<kStochastic>(load16(x + i), rule, w));
    else
      partial(i, lo, hi, w);
  };
  if constexpr (!kStochastic) {
    for (int64_t i = 0; i < n; i += 16) vec(i, _mm512_setzero_si512());
  } else {
    // Windows start at block boundaries (16 indices); the long ones run kGroups lane sets at
    // once, the last (or only) short one a single set so that short runs draw no spare blocks.
    auto window = [&]<int G>(int64_t i) {
      __m512i w[G][4];
      philox_words<G>(key.seed, key.stream, (s0 + static_cast<uint64_t>(i)) >> 4, w);
      for (int g = 0; g < G; ++g)
        for (int m = 0; m < 4; ++m) {
          const int64_t at = i + kBlockSpan * g + 64 * m;
          vec(at, bytes16<0>(w[g][m]));
          vec(at + 16, bytes16<1>(w[g][m]));
          vec(at + 32, bytes16<2>(w[g][m]));
          vec(at + 48, bytes16<3>(w[g][m]));
        }
    };
    const uint64_t start = s0 & ~uint64_t{15};
    for (int64_t i = -static_cast<int64_t>(s0 - start); i < n;) {
      if (n - i > (kGroups - 1) * kBlockSpan) {
        window.template operator()<kGroups>(i);
        i += kBlockSpan * kGroups;
      } else {
        window.template operator()<1>(i);
        i += kBlockSpan;
      }
    }
  }
}

// Stochastic rounding of int32 values |x| <= 255 on a symmetric grid (qmin = -qmax, no zero
// point): the requantization of Hadamard-transformed 4-bit codes. For one scale the rule of
// quant.h depends only on v = |x|, the draw r and the sign, so it is tabulated once per call for
// v in [0, 255]: base[v] = floor(a) and thr[v] = #{r : (r + 0.5) / 256 < a - floor(a)} with
// a = min(v / s, qmax) (the same IEEE division and clamp), and round-up <=> r < thr[v] (the
// draws increase with r). thr = 256 (always up) is stored as base + 1, thr 0. A run then takes
// 64 elements per step: byte-table lookups (vpermi2b, AVX-512 VBMI) and one unsigned byte
// compare against the 64 draw bytes of one Philox register, in place of 16-wide float
// arithmetic. Functions that use VBMI carry its target attribute; dispatch.cc checks the CPU.
#define LOWBIT_VBMI __attribute__((target("avx512vbmi")))

struct SrTable {
  __m512i base[4], thr[4];  // entries 64·i .. 64·i + 63
};

SrTable sr_table(float scale, int32_t qmax) {
  alignas(64) uint8_t base[256], thr[256];
  const __m512 s = _mm512_set1_ps(scale), hi = _mm512_set1_ps(static_cast<float>(qmax));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int c = 0; c < 16; ++c) {
    const __m512i v = _mm512_add_epi32(_mm512_set1_epi32(16 * c), iota);
    const __m512 a = _mm512_min_ps(_mm512_div_ps(_mm512_cvtepi32_ps(v), s), hi);
    const __m512 fl = _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    // 256·frac is exact; r + 0.5 < 256·frac <=> r < 256·frac - 0.5, which is exact as well
    // when 256·frac >= 0.5 (below that no r qualifies), so thr = ceil(max(256·frac - 0.5, 0)).
    const __m512 f = _mm512_mul_ps(_mm512_sub_ps(a, fl), _mm512_set1_ps(256.0f));
    const __m512 t = _mm512_roundscale_ps(_mm512_max_ps(_mm512_sub_ps(f, _mm512_set1_ps(0.5f)), _mm512_setzero_ps()),
                                          _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    __m512i b = _mm512_cvttps_epi32(fl), th = _mm512_cvttps_epi32(t);
    const __mmask16 always = _mm512_cmpeq_epi32_mask(th, _mm512_set1_epi32(256));
    b = _mm512_mask_add_epi32(b, always, b, _mm512_set1_epi32(1));
    th = _mm512_mask_mov_epi32(th, always, _mm512_setzero_si512());
    _mm_store_si128(reinterpret_cast<__m128i*>(base + 16 * c), _mm512_cvtepi32_epi8(b));
    _mm_store_si128(reinterpret_cast<__m128i*>(thr + 16 * c), _mm512_cvtepi32_epi8(th));
  }
  SrTable t;
  for (int i = 0; i < 4; ++i) {
    t.base[i] = _mm512_load_si512(base + 64 * i);
    t.thr[i] = _mm512_load_si512(thr + 64 * i);
  }
  return t;
}

// table[v] for 64 byte indices v (vpermi2b looks up 128 entries; bit 7 picks the half).
LOWBIT_VBMI inline __m512i lookup256(const __m512i (&table)[4], __m512i v, __mmask64 upper) {
  const __m512i lo = _mm512_permutex2var_epi8(table[0], v, table[1]);
  const __m512i hi = _mm512_permutex2var_epi8(table[2], v, table[3]);
  return _mm512_mask_blend_epi8(upper, lo, hi);
}

// Codes of the 64 int32 values x[0..63] (|x| <= 255) with their 64 draw bytes r.
LOWBIT_VBMI inline __m512i codes64(const int32_t* x, __m512i r, const SrTable& t) {
  __m512i a[4];
  uint64_t neg = 0;
  for (int k = 0; k < 4; ++k) {
    const __m512i v = _mm512_loadu_si512(x + 16 * k);
    neg |= static_cast<uint64_t>(_mm512_movepi32_mask(v)) << (16 * k);
    a[k] = _mm512_abs_epi32(v);
  }
  // The packs leave dword group L (4 values) of a[j] at dword 4·L + j; the permute moves it to
  // dword 4·j + L, element order.
  const __m512i packed = _mm512_packus_epi16(_mm512_packus_epi32(a[0], a[1]), _mm512_packus_epi32(a[2], a[3]));
  const __m512i v =
      _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), packed);
  const __mmask64 upper = _mm512_movepi8_mask(v);
  const __m512i base = lookup256(t.base, v, upper);
  const __mmask64 up = _mm512_cmplt_epu8_mask(r, lookup256(t.thr, v, upper));
  const __m512i mag = _mm512_mask_add_epi8(base, up, base, _mm512_set1_epi8(1));
  return _mm512_mask_sub_epi8(mag, static_cast<__mmask64>(neg), _mm512_setzero_si512(), mag);
}

// Elements [i, i + 64) of a run of n with draws r; a vector cut by either end of the run goes
// through zeroed scratch so that nothing outside [x, x + n) is read or written.
LOWBIT_VBMI inline void table_vec(int64_t n, const int32_t* x, int8_t* q, int64_t i, __m512i r, const SrTable& t) {
  const int64_t lo = std::max<int64_t>(0, -i), hi = std::min<int64_t>(64, n - i);
  if (hi <= lo) return;
  if (lo == 0 && hi == 64) return _mm512_storeu_si512(q + i, codes64(x + i, r, t));
  alignas(64) int32_t xin[64] = {};
  alignas(64) int8_t qout[64];
  std::memcpy(xin + lo, x + i + lo, static_cast<size_t>(hi - lo) * sizeof(int32_t));
  _mm512_store_si512(qout, codes64(xin, r, t));
  std::memcpy(q + i + lo, qout + lo, static_cast<size_t>(hi - lo));
}

// quantize_run<true> through the table: the same windows of Philox blocks (element i of the run
// has stream index s0 + i); one 64-byte register of draws serves 64 elements.
template <int G>
LOWBIT_VBMI inline void table_window(int64_t n, const int32_t* x, int8_t* q, int64_t i, const SrTable& t,
                                     const RandomKey& key, uint64_t s0) {
  __m512i w[G][4];
  philox_words<G>(key.seed, key.stream, (s0 + static_cast<uint64_t>(i)) >> 4, w);
  for (int g = 0; g < G; ++g)
    for (int m = 0; m < 4; ++m) table_vec(n, x, q, i + kBlockSpan * g + 64 * m, w[g][m], t);
}

LOWBIT_VBMI void quantize_run_table(int64_t n, const int32_t* x, int8_t* q, const SrTable& t, const RandomKey& key,
                                    uint64_t s0) {
  const uint64_t start = s0 & ~uint64_t{15};
  for (int64_t i = -static_cast<int64_t>(s0 - start); i < n;) {
    if (n - i > (kGroups - 1) * kBlockSpan) {
      table_window<kGroups>(n, x, q, i, t, key, s0);
      i += kBlockSpan * kGroups;
    } else {
      table_window<1>(n, x, q, i, t, key, s0);
      i += kBlockSpan;
    }
  }
}

template <typename In, typename Out>
void quantize_grid(const QuantGrid& g, const In* x, Out* q, Rounding r, const RandomKey& key) {
  // Tasks: chunks of kChunk elements of one channel's run (chunks never change a code).
  const int64_t per_run = (g.inner + kChunk - 1) / kChunk;
  parallel_for(g.outer * g.channels * per_run, std::max<int64_t>(1, kMinTaskElements / std::min(kChunk, g.inner)),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t run = t / per_run, c = run % g.channels, i0 = (t % per_run) * kChunk;
                   const int32_t zp = g.zero_point ? g.zero_point[c] : 0;
                   const Rule rule{_mm512_set1_ps(g.scale[c]), _mm512_set1_ps(static_cast<float>(g.qmin - zp)),
                                   _mm512_set1_ps(static_cast<float>(g.qmax - zp)), _mm512_set1_epi32(zp)};
                   const int64_t e0 = run * g.inner + i0, len = std::min(kChunk, g.inner - i0);
                   const uint64_t s0 = key.first + static_cast<uint64_t>(e0);
                   if (r == Rounding::stochastic)
                     quantize_run<true>(len, x + e0, q + e0, rule, key, s0);
                   else
                     quantize_run<false>(len, x + e0, q + e0, rule, key, s0);
                 }
               });
}

}  // namespace

bool quantize_supported(const QuantGrid& g) { return g.inner >= 16; }

void quantize_f32_i8(const QuantGrid& g, const float* x, int8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}
void quantize_f32_u8(const QuantGrid& g, const float* x, uint8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}
void quantize_i32_i8(const QuantGrid& g, const int32_t* x, int8_t* q, Rounding r, RandomKey key) {
  quantize_grid(g, x, q, r, key);
}

bool quantize_table_supported(const QuantGrid& g, Rounding r) {
  return r == Rounding::stochastic && g.channels == 1 && (!g.zero_point || g.zero_point[0] == 0) &&
         g.qmin == -g.qmax && g.qmax >= 1 && g.qmax <= 127;
}

void quantize_i32_i8_table(const QuantGrid& g, const int32_t* x, int8_t* q, RandomKey key) {
  const SrTable t = sr_table(g.scale[0], g.qmax);
  const int64_t n = g.numel();  // one channel: a single run of stream indices first + e
  parallel_for((n + kChunk - 1) / kChunk, kMinTaskElements / kChunk, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const int64_t e0 = c * kChunk;
      quantize_run_table(std::min(kChunk, n - e0), x + e0, q + e0, t, key, key.first + static_cast<uint64_t>(e0));
    }
  });
}

}  // namespace lowbit::kernels::avx512
