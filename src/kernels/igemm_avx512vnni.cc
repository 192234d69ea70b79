// AVX-512 VNNI integer GEMM. `vpdpbusd` multiplies u8 by s8 and sums groups of four into int32
// lanes, so B is packed as u8 = b + 128 (16 columns × 4 k per register) and A is broadcast as
// s8: the lanes then hold Σ a·b + 128·Σ a, corrected with per-row sums of A. The tiled models
// need each tile's exact sum: tiles are whole groups of four and a tile's lanes start from
// -128·Σ_tile a, so they end on the exact sum and clamp/wrap with constant bounds. `saturating` is
// sequential in k: int16 lanes (32 columns per register), saturating add then clamp per k.
// One file over 600 lines: the microkernels, their register epilogues and the packers share
// Args, the register-block tables and the intrinsics helpers, all of this one ISA's flags.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as "maybe
// uninitialized" (a false positive of the header, not of this code).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <utility>

#include "int_impl.h"
#include "lowbit/core/threads.h"

// Register blocks must be fully unrolled: with loops left to GCC's heuristics the accumulator
// arrays are kept in memory and reloaded every k step (measured 5x slower).
#define LOWBIT_UNROLL _Pragma("GCC unroll 16")

namespace lowbit::kernels::avx512vnni {
namespace {

constexpr int64_t kRowChunk = 48;  // rows per work item (a multiple of every MR below)

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_buffer(int64_t n) {
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T) + 63) / 64 * 64;
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(std::aligned_alloc(64, bytes)));
}

// acc += per lane Σ_4 u8(b)·s8(a[0..3]), the four bytes of A broadcast inside the instruction
// ({1to16}). GCC hoists a _mm512_set1_epi32 into a separate vpbroadcastd per row instead, which
// measured 2.3x slower on Zen 4 for 8×3 register blocks (475 vs 206 G multiply-adds/s, L1 data).
inline void dpbusd_bcast(__m512i& acc, __m512i b, const int8_t* a) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(b), "m"(*reinterpret_cast<const int32_t*>(a)));
}

// Everything a microkernel needs besides its row pointer, packed panels and output block.
struct Args {
  int64_t K = 0, K4 = 0;      // K and the number of groups of four
  int64_t lda = 0;            // row stride of A (bytes)
  int64_t pstride = 0;        // bytes (u8 kernels) or elements (int16 kernel) between panels
  int64_t tq = 0, tiles = 1;  // tile width in groups of four, number of tiles
  int64_t tile = 0;           // tile width in k (saturating)
  const int32_t* rs = nullptr;  // -128·(row sums of A) per tile, [M][tiles]
  int64_t kq0 = 0, kq1 = 0;   // this call's groups of four (a block of K, whole tiles)
  bool first = true;          // first block: lanes start from zero, else from `out`
  int32_t q = 0;              // q_max(A)
  int shift = 0;              // 32 - A (wrap)
  bool wrap = false;
};

// Lanes of an MR×NR block: zero for the first block of K, else what the previous block left.
template <int MR, int NR>
void start(__m512i (&acc)[MR][NR], const Args& g, const int32_t* out) {
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
    LOWBIT_UNROLL for (int j = 0; j < NR; ++j)
      acc[i][j] = g.first ? _mm512_setzero_si512() : _mm512_loadu_si512(out + i * NR * 16 + j * 16);
}

// exact: Σ over the block's groups (the 128·rowsum correction comes after the last block).
template <int MR, int NR>
struct Exact {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, int32_t* out) {
    __m512i acc[MR][NR];
    start<MR, NR>(acc, g, out);
    for (int64_t kq = g.kq0; kq < g.kq1; ++kq) {
      __m512i b[NR];
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + kq * 64);
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) dpbusd_bcast(acc[i][j], b[j], a + i * g.lda + 4 * kq);
    }
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) _mm512_storeu_si512(out + i * NR * 16 + j * 16, acc[i][j]);
  }
};

// tile_clamp / wrap: per-tile lanes folded into wide lanes after every tile. A tile's lanes
// start from -128·Σ_tile a (rs holds it per row and tile), so they end on the exact tile sum:
// the clamp bounds and the wrap shift are loop constants and no correction is left for the end.
template <int MR, int NR>
inline void tiled_sum(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, __m512i (&wide)[MR][NR]) {
  const __m128i shift = _mm_cvtsi32_si128(g.shift);
  const __m512i lo = _mm512_set1_epi32(-g.q), hi = _mm512_set1_epi32(g.q);
  for (int64_t t = g.kq0 / g.tq; t * g.tq < g.kq1; ++t) {
    __m512i acc[MR][NR];
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512i c = _mm512_set1_epi32(g.rs[(m + i) * g.tiles + t]);
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = c;
    }
    const int64_t k1 = std::min(g.kq1, (t + 1) * g.tq);
    for (int64_t kq = t * g.tq; kq < k1; ++kq) {
      __m512i b[NR];
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + kq * 64);
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) dpbusd_bcast(acc[i][j], b[j], a + i * g.lda + 4 * kq);
    }
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
        const __m512i v = g.wrap ? _mm512_sra_epi32(_mm512_sll_epi32(acc[i][j], shift), shift)
                                 : _mm512_min_epi32(_mm512_max_epi32(acc[i][j], lo), hi);
        wide[i][j] = _mm512_add_epi32(wide[i][j], v);
      }
  }
}

template <int MR, int NR>
struct Tiled {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, int32_t* out) {
    __m512i wide[MR][NR];
    start<MR, NR>(wide, g, out);
    tiled_sum<MR, NR>(g, m, a, bp, wide);
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) _mm512_storeu_si512(out + i * NR * 16 + j * 16, wide[i][j]);
  }
};

// Final sums v[i][j] of row m + i, columns n0 + 16j.. (cols in the block) written straight from
// registers with store_block's or scatter_block's fp32 arithmetic, in their order.
template <int MR, int NR>
inline void write_f32(const __m512i (&v)[MR][NR], const detail::IgemmOut& out, int64_t m, int64_t n0, int64_t cols) {
  constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
  const __mmask16 last = static_cast<__mmask16>(cols % 16 == 0 ? 0xFFFFu : (1u << (cols % 16)) - 1);
  if (out.scatter) {
    const IgemmScatter& sc = *out.scatter;
    const __m512 alpha = _mm512_set1_ps(sc.alpha);
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
      float* const row = out.cf + (sc.offset[m + i] + n0);  // column n0 + c lands at row[c]
      const uint64_t* mask = sc.mask[m + i];
      // n0 is a multiple of kIgemmScatterCols = 32: the block's mask bits lie in one word.
      const uint64_t bits = mask != nullptr ? mask[n0 / 64] >> (n0 % 64) : ~uint64_t{0};
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
        const __mmask16 live = static_cast<__mmask16>((j + 1 == NR ? last : 0xFFFFu) & (bits >> (16 * j)));
        if (live == 0) continue;
        const __m512 f = _mm512_mul_round_ps(_mm512_cvtepi32_ps(v[i][j]), alpha, kCur);
        _mm512_mask_storeu_ps(row + 16 * j, live, _mm512_add_round_ps(_mm512_maskz_loadu_ps(live, row + 16 * j), f, kCur));
      }
    }
    return;
  }
  const __m512 alpha = _mm512_set1_ps(out.ep.alpha);
  const float* cs = out.ep.col_scale ? out.ep.col_scale + n0 : nullptr;
  const float* bias = out.ep.bias ? out.ep.bias + n0 : nullptr;
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
    float* const dst = out.cf + (m + i) * out.ldc + n0;
    LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
      const __mmask16 live = j + 1 == NR ? last : static_cast<__mmask16>(0xFFFFu);
      __m512 f = _mm512_mul_round_ps(_mm512_cvtepi32_ps(v[i][j]), alpha, kCur);
      if (cs) f = _mm512_mul_round_ps(f, _mm512_maskz_loadu_ps(live, cs + 16 * j), kCur);
      if (bias) f = _mm512_add_round_ps(f, _mm512_maskz_loadu_ps(live, bias + 16 * j), kCur);
      _mm512_mask_storeu_ps(dst + 16 * j, live, f);
    }
  }
}

// tile_clamp / wrap over all of K in one call, written by write_f32 (no int32 block in memory).
template <int MR, int NR>
struct TiledF32 {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, const detail::IgemmOut& out,
                  int64_t n0, int64_t cols) {
    __m512i wide[MR][NR];
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) wide[i][j] = _mm512_setzero_si512();
    tiled_sum<MR, NR>(g, m, a, bp, wide);
    write_f32<MR, NR>(wide, out, m, n0, cols);
  }
};

// TiledF32 for one tile over all of K (the backward GEMMs' default): the tile's lanes are the
// result, so no wide lanes are kept and twice the rows fit in registers.
template <int MR, int NR>
struct OneTileF32 {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, const detail::IgemmOut& out,
                  int64_t n0, int64_t cols) {
    __m512i acc[MR][NR];
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512i c = _mm512_set1_epi32(g.rs[m + i]);  // one tile: rs is [M][1]
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = c;
    }
    for (int64_t kq = 0; kq < g.K4; ++kq) {
      __m512i b[NR];
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + kq * 64);
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) dpbusd_bcast(acc[i][j], b[j], a + i * g.lda + 4 * kq);
    }
    const __m128i shift = _mm_cvtsi32_si128(g.shift);
    const __m512i lo = _mm512_set1_epi32(-g.q), hi = _mm512_set1_epi32(g.q);
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j)
        acc[i][j] = g.wrap ? _mm512_sra_epi32(_mm512_sll_epi32(acc[i][j], shift), shift)
                           : _mm512_min_epi32(_mm512_max_epi32(acc[i][j], lo), hi);
    write_f32<MR, NR>(acc, out, m, n0, cols);
  }
};

// saturating: 32 int16 lanes per register; per k: product, saturating add, clamp to ±q.
// Lanes can neither overflow (|acc| <= q <= 32767, adds saturates first) nor lose a clamp.
template <int MR, int NR>
struct Saturating {
  static void run(const Args& g, int64_t m, const int8_t* a, const int16_t* bp, int32_t* out) {
    const __m512i lo = _mm512_set1_epi16(static_cast<int16_t>(-g.q)), hi = _mm512_set1_epi16(static_cast<int16_t>(g.q));
    LOWBIT_UNROLL for (int i = 0; i < MR * NR * 32; ++i) out[i] = 0;
    const int64_t T = g.tile > 0 ? g.tile : g.K;
    for (int64_t k0 = 0; k0 < g.K; k0 += T) {
      __m512i acc[MR][NR];
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
      const int64_t k1 = std::min(g.K, k0 + T);
      for (int64_t k = k0; k < k1; ++k) {
        __m512i b[NR];
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + k * 32);
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi16(a[i * g.lda + k]);
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
            const __m512i s = _mm512_adds_epi16(acc[i][j], _mm512_mullo_epi16(av, b[j]));
            acc[i][j] = _mm512_min_epi16(_mm512_max_epi16(s, lo), hi);
          }
        }
      }
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
          int32_t* o = out + i * NR * 32 + j * 32;
          const __m512i l = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc[i][j]));
          const __m512i h = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc[i][j], 1));
          _mm512_storeu_si512(o, _mm512_add_epi32(_mm512_loadu_si512(o), l));
          _mm512_storeu_si512(o + 16, _mm512_add_epi32(_mm512_loadu_si512(o + 16), h));
        }
    }
  }
};

// Table of microkernels indexed [nr-1][mr-1], so edge blocks run the same code, narrower.
template <template <int, int> class F, int NR, int... M>
constexpr auto row_of(std::integer_sequence<int, M...>) {
  return std::array{&F<M + 1, NR>::run...};
}
template <template <int, int> class F, int MR, int... N>
constexpr auto table_of(std::integer_sequence<int, N...>) {
  return std::array{row_of<F, N + 1>(std::make_integer_sequence<int, MR>())...};
}

// In place: dword j of r[n] becomes dword n of r[j] (a 16×16 transpose of 32-bit words:
// pairs of rows interleaved by dwords, then by qwords, then 128-bit lanes across four vectors).
inline void transpose16x16_epi32(__m512i (&r)[16]) {
  __m512i t[16];
  LOWBIT_UNROLL for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // s[4i + k], 128-bit lane L: rows 4i..4i+3 of column 4L + k.
  __m512i q[16];
  LOWBIT_UNROLL for (int i = 0; i < 4; ++i) {
    q[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    q[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    q[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    q[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // Column 4L + k takes lane L of q[k], q[4 + k], q[8 + k], q[12 + k].
  LOWBIT_UNROLL for (int k = 0; k < 4; ++k) {
    const __m512i a = _mm512_shuffle_i32x4(q[k], q[4 + k], 0x44), b = _mm512_shuffle_i32x4(q[k], q[4 + k], 0xEE);
    const __m512i c = _mm512_shuffle_i32x4(q[8 + k], q[12 + k], 0x44), d = _mm512_shuffle_i32x4(q[8 + k], q[12 + k], 0xEE);
    r[k] = _mm512_shuffle_i32x4(a, c, 0x88);
    r[4 + k] = _mm512_shuffle_i32x4(a, c, 0xDD);
    r[8 + k] = _mm512_shuffle_i32x4(b, d, 0x88);
    r[12 + k] = _mm512_shuffle_i32x4(b, d, 0xDD);
  }
}

// Packs B (N×K) into panels of 16 columns × groups of four k, as u8 = b + 128; zero padding.
// Each group of four k is one 32-bit word per column: 16 words make one 64-byte register row.
// Whole panels take 16 groups at a time as one 64-byte load per column and a register
// transpose; the rest one gather of 16 words per group.
void pack_b_u8(int64_t N, int64_t K, int64_t K4, const int8_t* B, int64_t ldb, uint8_t* bp) {
  const int64_t panels = (N + 15) / 16;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint8_t* dst = bp + p * K4 * 64;
      const int64_t cols = std::min<int64_t>(16, N - p * 16), full = K / 4;
      const int8_t* src = B + p * 16 * ldb;
      // One gather of 16 words (one per column) per group; +128 on every byte = flip sign bits.
      const __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                 _mm512_set1_epi32(static_cast<int32_t>(ldb)));
      const __mmask16 live = static_cast<__mmask16>((1u << cols) - 1);
      const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
      int64_t kq = 0;
      if (cols == 16)
        for (; kq + 16 <= full; kq += 16) {
          __m512i r[16];
          LOWBIT_UNROLL for (int n = 0; n < 16; ++n) r[n] = _mm512_loadu_si512(src + n * ldb + 4 * kq);
          transpose16x16_epi32(r);
          LOWBIT_UNROLL for (int j = 0; j < 16; ++j) _mm512_store_si512(dst + (kq + j) * 64, _mm512_xor_si512(r[j], flip));
        }
      for (; kq < full; ++kq) {
        const __m512i w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, offsets, src + 4 * kq, 1);
        _mm512_store_si512(dst + kq * 64, _mm512_mask_xor_epi32(w, live, w, flip));
      }
      if (full < K4) {  // the last, partial group of four: zero beyond K
        uint8_t w[64] = {};
        for (int64_t n = 0; n < cols; ++n)
          for (int64_t k = 4 * full; k < K; ++k) w[n * 4 + k % 4] = static_cast<uint8_t>(src[n * ldb + k] ^ 0x80);
        std::memcpy(dst + full * 64, w, 64);
      }
    }
  });
}

// pack_b_u8's panels from B given K-major (Bt: K×N): per group of four k and 64 columns, the
// four rows' bytes interleaved into one word per column (bytes, then 16-bit pairs, within
// 128-bit lanes), then the lanes regrouped so that panel j gets columns 16j..16j+15.
// row(k, c0, live) gives row k's 64 bytes from column c0, zero outside `live` (beyond N). Rows
// past K stay 0 (pack_b_u8's padding); the rest are flipped to u8.
template <typename Row>
void pack_b_u8_kmajor(int64_t N, int64_t K, int64_t K4, const Row& row, uint8_t* bp) {
  const int64_t panels = (N + 15) / 16;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t c0 = 0; c0 < N; c0 += 64) {
    const int64_t cols = std::min<int64_t>(64, N - c0);
    const __mmask64 live = cols == 64 ? ~__mmask64{0} : (__mmask64{1} << cols) - 1;
    const int64_t p0 = c0 / 16, np = std::min<int64_t>(4, panels - p0);
    for (int64_t kq = 0; kq < K4; ++kq) {
      __m512i r[4];
      LOWBIT_UNROLL for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * kq + i;
        r[i] = k < K ? _mm512_maskz_mov_epi8(live, _mm512_xor_si512(row(k, c0, live), flip)) : _mm512_setzero_si512();
      }
      const __m512i lo01 = _mm512_unpacklo_epi8(r[0], r[1]), hi01 = _mm512_unpackhi_epi8(r[0], r[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(r[2], r[3]), hi23 = _mm512_unpackhi_epi8(r[2], r[3]);
      // q[i], 128-bit lane j: the words of columns 16j + 4i .. 16j + 4i + 3.
      const __m512i q0 = _mm512_unpacklo_epi16(lo01, lo23), q1 = _mm512_unpackhi_epi16(lo01, lo23);
      const __m512i q2 = _mm512_unpacklo_epi16(hi01, hi23), q3 = _mm512_unpackhi_epi16(hi01, hi23);
      const __m512i a = _mm512_shuffle_i32x4(q0, q1, 0x44), b = _mm512_shuffle_i32x4(q0, q1, 0xEE);
      const __m512i c = _mm512_shuffle_i32x4(q2, q3, 0x44), d = _mm512_shuffle_i32x4(q2, q3, 0xEE);
      const __m512i p[4] = {_mm512_shuffle_i32x4(a, c, 0x88), _mm512_shuffle_i32x4(a, c, 0xDD),
                            _mm512_shuffle_i32x4(b, d, 0x88), _mm512_shuffle_i32x4(b, d, 0xDD)};
      for (int64_t j = 0; j < np; ++j) _mm512_store_si512(bp + ((p0 + j) * K4 + kq) * 64, p[j]);
    }
  }
}

// Lane r of the result = Σ of the 16 lanes of v[r]: a tree of even/odd lane pairings (15
// two-source permute pairs and adds for 16 sums, where 16 separate reductions take ~8 ops each).
inline __m512i sum_lanes16(__m512i (&v)[16]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // Each level halves the lanes per vector of v and doubles the vectors per register, in order.
  for (int n = 8; n >= 1; n /= 2)
    for (int r = 0; r < n; ++r)
      v[r] = _mm512_add_epi32(_mm512_permutex2var_epi32(v[2 * r], even, v[2 * r + 1]),
                              _mm512_permutex2var_epi32(v[2 * r], odd, v[2 * r + 1]));
  return v[0];
}

// -128·Σ_k a[m, k] over each tile of `tq` groups of four ([M][tiles], rows padded to whole
// groups: the start of each tile's lanes) and 128·Σ_k a[m, k] over all of K (exact's correction).
// Sixteen rows at a time: per tile, each row's bytes summed into int32 lanes by `vpdpbusd`
// against ones (masked loads read nothing at or beyond the tile's end), then the 16 rows'
// lanes reduced together.
void row_sums(int64_t M, int64_t K, const int8_t* A, int64_t lda, int64_t tq, int64_t tiles, int32_t* rs,
              int32_t* corr) {
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t mb = m0; mb < m1; mb += 16) {
      const int rows = static_cast<int>(std::min<int64_t>(16, m1 - mb));
      __m512i total = _mm512_setzero_si512();
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t k0 = t * tq * 4, k1 = std::min(K, k0 + tq * 4);
        // Rows past `rows` load nothing (mask 0) from the last valid row's address, so that the
        // fully unrolled loop keeps the 16 accumulators in registers.
        __m512i acc[16];
        LOWBIT_UNROLL for (int r = 0; r < 16; ++r) acc[r] = _mm512_setzero_si512();
        for (int64_t k = k0; k < k1; k += 64) {
          const int64_t n = std::min<int64_t>(64, k1 - k);
          const __mmask64 live = n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
          LOWBIT_UNROLL for (int r = 0; r < 16; ++r) {
            const int8_t* row = A + (mb + std::min(r, rows - 1)) * lda + k;
            acc[r] = _mm512_dpbusd_epi32(acc[r], ones, _mm512_maskz_loadu_epi8(r < rows ? live : 0, row));
          }
        }
        const __m512i sums = sum_lanes16(acc);
        total = _mm512_add_epi32(total, sums);
        alignas(64) int32_t out[16];
        _mm512_store_si512(out, _mm512_mullo_epi32(sums, _mm512_set1_epi32(-128)));
        for (int r = 0; r < rows; ++r) rs[(mb + r) * tiles + t] = out[r];
      }
      alignas(64) int32_t out[16];
      _mm512_store_si512(out, _mm512_mullo_epi32(total, _mm512_set1_epi32(128)));
      for (int r = 0; r < rows; ++r) corr[mb + r] = out[r];
    }
  });
}

// detail::igemm_store for fp32 output, 16 columns per vector: the same fp32 roundings in the
// same order (alpha, then col_scale, then bias). The _round_ intrinsics with the current
// rounding mode keep the compiler from contracting a multiply and an add into one FMA.
void store_block(const detail::IgemmOut& out, int64_t m0, int64_t n0, int64_t rows, int64_t cols, const int32_t* acc,
                 int64_t ldt) {
  if (!out.cf) return detail::igemm_store(out, m0, n0, rows, cols, acc, ldt);
  constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
  const __m512 alpha = _mm512_set1_ps(out.ep.alpha);
  const float* cs = out.ep.col_scale ? out.ep.col_scale + n0 : nullptr;
  const float* bias = out.ep.bias ? out.ep.bias + n0 : nullptr;
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t* src = acc + i * ldt;
    float* dst = out.cf + (m0 + i) * out.ldc + n0;
    int64_t j = 0;
    for (; j + 16 <= cols; j += 16) {  // whole vectors: plain loads and stores
      __m512 v = _mm512_mul_round_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(src + j)), alpha, kCur);
      if (cs) v = _mm512_mul_round_ps(v, _mm512_loadu_ps(cs + j), kCur);
      if (bias) v = _mm512_add_round_ps(v, _mm512_loadu_ps(bias + j), kCur);
      _mm512_storeu_ps(dst + j, v);
    }
    if (j < cols) {  // the tail, masked
      const __mmask16 live = static_cast<__mmask16>((1u << (cols - j)) - 1);
      __m512 v = _mm512_mul_round_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(live, src + j)), alpha, kCur);
      if (cs) v = _mm512_mul_round_ps(v, _mm512_maskz_loadu_ps(live, cs + j), kCur);
      if (bias) v = _mm512_add_round_ps(v, _mm512_maskz_loadu_ps(live, bias + j), kCur);
      _mm512_mask_storeu_ps(dst + j, live, v);
    }
  }
}

// The scatter-add epilogue (igemm.h IgemmScatter) of a rows×cols block at (m0, n0): per row,
// v = float(acc)·alpha as store_block rounds it, added to out[offset[m] + n] under the row's
// mask. Called in the order igemm.h specifies (n0 a multiple of kIgemmScatterCols, cols at most
// that): rows ascending, then columns ascending.
void scatter_block(const detail::IgemmOut& out, int64_t m0, int64_t n0, int64_t rows, int64_t cols,
                   const int32_t* acc, int64_t ldt) {
  constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
  // Everything read per row is loaded into locals first: through the (may-alias) stores the
  // compiler would reload it for every vector.
  const IgemmScatter& sc = *out.scatter;
  float* const cf = out.cf;
  const int64_t* const offset = sc.offset;
  const uint64_t* const* const masks = sc.mask;
  const __m512 alpha = _mm512_set1_ps(sc.alpha);
  const int64_t vecs = (cols + 15) / 16;
  const __mmask16 last = static_cast<__mmask16>(cols % 16 == 0 ? 0xFFFFu : (1u << (cols % 16)) - 1);
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t* src = acc + i * ldt;
    const int64_t off = offset[m0 + i] + n0;  // column n0 + c lands at cf[off + c]
    const uint64_t* mask = masks[m0 + i];
    // n0 is a multiple of kIgemmScatterCols = 32: the block's mask bits lie in one word.
    const uint64_t bits = mask != nullptr ? mask[n0 / 64] >> (n0 % 64) : ~uint64_t{0};
    for (int64_t j = 0; j < vecs; ++j) {
      const __mmask16 live = static_cast<__mmask16>((j + 1 == vecs ? last : 0xFFFFu) & (bits >> (16 * j)));
      if (live == 0) continue;
      float* dst = cf + (off + 16 * j);
      const __m512 v = _mm512_mul_round_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(live, src + 16 * j)), alpha, kCur);
      _mm512_mask_storeu_ps(dst, live, _mm512_add_round_ps(_mm512_maskz_loadu_ps(live, dst), v, kCur));
    }
  }
}

// Packs B into panels of 32 columns of int16, one register per k.
void pack_b_i16(int64_t N, int64_t K, const int8_t* B, int64_t ldb, int16_t* bp) {
  const int64_t panels = (N + 31) / 32;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int16_t* dst = bp + p * K * 32;
      std::memset(dst, 0, static_cast<size_t>(K * 64));
      for (int64_t n = 0; n < 32 && p * 32 + n < N; ++n)
        for (int64_t k = 0; k < K; ++k) dst[k * 32 + n] = B[(p * 32 + n) * ldb + k];
    }
  });
}

// Runs microkernels over work items (a group of NR panels × a chunk of kRowChunk rows). Each
// item walks K in blocks of `kblock` groups of four (0: all of K at once) so that the panels'
// block stays in L1, the lanes parked in `buf` between blocks; then subtracts corr[m] (the
// 128·Σ a of the u8 trick, when given) and writes the chunk out.
template <int MR, int NR, typename Table, typename PanelT>
void run_blocks(int64_t M, int64_t N, int64_t cols_per_panel, const Table& table, const Args& g, const int8_t* A,
                const PanelT* bp, const detail::IgemmOut& out, int64_t kblock, const int32_t* corr) {
  const int64_t width = NR * cols_per_panel;
  const int64_t groups = (N + width - 1) / width, chunks = (M + kRowChunk - 1) / kRowChunk;
  const int64_t kb = kblock > 0 ? kblock : std::max<int64_t>(g.K4, 1);
  // Work items run in order t = group·chunks + chunk: a scatter's required order when run serially.
  const auto items = [&](int64_t t0, int64_t t1) {
    alignas(64) int32_t buf[kRowChunk * NR * 32];
    Args a = g;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = (t / chunks) * width, m0 = (t % chunks) * kRowChunk, m_end = std::min(M, m0 + kRowChunk);
      const int64_t cols = std::min(width, N - n0);
      const int nr = static_cast<int>((cols + cols_per_panel - 1) / cols_per_panel);
      const int64_t ldt = nr * cols_per_panel;  // the row stride the nr-panel kernel writes
      const PanelT* b = bp + (n0 / cols_per_panel) * g.pstride;
      for (a.kq0 = 0; a.kq0 < std::max<int64_t>(g.K4, 1); a.kq0 += kb) {
        a.kq1 = std::min(g.K4, a.kq0 + kb);
        a.first = a.kq0 == 0;
        for (int64_t m = m0; m < m_end; m += MR) {
          const int mr = static_cast<int>(std::min<int64_t>(MR, m_end - m));
          table[nr - 1][mr - 1](a, m, A + m * g.lda, b, buf + (m - m0) * ldt);
        }
      }
      if (corr)
        for (int64_t m = m0; m < m_end; ++m)
          for (int64_t j = 0; j < cols; ++j) buf[(m - m0) * ldt + j] -= corr[m];
      if (out.scatter) {
        scatter_block(out, m0, n0, m_end - m0, cols, buf, ldt);
      } else {
        store_block(out, m0, n0, m_end - m0, cols, buf, ldt);
      }
    }
  };
  if (out.scatter) return items(0, groups * chunks);
  parallel_for(groups * chunks, 1, items);
}


// run_blocks for fp32 output with all of K in one block: the kernels (TiledF32, OneTileF32)
// write their blocks themselves; same work items, same order.
template <int MR, int NR, typename Table>
void run_fused(int64_t M, int64_t N, const Table& table, Args g, const int8_t* A, const uint8_t* bp,
               const detail::IgemmOut& out) {
  static_assert(kRowChunk % MR == 0 && NR * 16 == kIgemmScatterCols, "blocks of run_blocks' items");
  g.kq0 = 0;
  g.kq1 = g.K4;
  g.first = true;
  const int64_t width = NR * 16, groups = (N + width - 1) / width, chunks = (M + kRowChunk - 1) / kRowChunk;
  const auto items = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = (t / chunks) * width, m0 = (t % chunks) * kRowChunk, m_end = std::min(M, m0 + kRowChunk);
      const int64_t cols = std::min(width, N - n0);
      const int nr = static_cast<int>((cols + 15) / 16);
      const uint8_t* b = bp + (n0 / 16) * g.pstride;
      for (int64_t m = m0; m < m_end; m += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, m_end - m));
        table[nr - 1][mr - 1](g, m, A + m * g.lda, b, out, n0, cols);
      }
    }
  };
  if (out.scatter) return items(0, groups * chunks);
  parallel_for(groups * chunks, 1, items);
}

}  // namespace

bool igemm_supported(const AccSpec& acc) {
  if (acc.model == AccModel::saturating) return acc.bits <= 16;
  return acc.model == AccModel::exact || acc.tile == 0 || acc.tile % 4 == 0;
}

int packed_layout(const AccSpec& acc) { return acc.model == AccModel::saturating ? 2 : 1; }

int64_t packed_b_bytes(int64_t N, int64_t K, int layout) {
  if (layout == 2) return (N + 31) / 32 * 32 * K * static_cast<int64_t>(sizeof(int16_t));
  return (N + 15) / 16 * ((K + 3) / 4) * 64;
}

void pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, int layout, void* dst) {
  if (layout == 2) return pack_b_i16(N, K, B, ldb, static_cast<int16_t*>(dst));
  pack_b_u8(N, K, (K + 3) / 4, B, ldb, static_cast<uint8_t*>(dst));
}

void pack_b_kmajor(int64_t N, int64_t K, const int8_t* Bt, int64_t ldbt, void* dst) {
  const auto row = [&](int64_t k, int64_t c0, __mmask64 live) { return _mm512_maskz_loadu_epi8(live, Bt + k * ldbt + c0); };
  pack_b_u8_kmajor(N, K, (K + 3) / 4, row, static_cast<uint8_t*>(dst));
}

// An im2col's rows straight from the sample: one masked load per row and 64 columns, whose
// mask is the row's position mask word itself (c0 is a multiple of 64), so that lanes off the
// image read nothing and hold code 0.
void pack_b_shifted(int64_t N, int64_t K, const ShiftedRows& Bt, void* dst) {
  const auto row = [&](int64_t k, int64_t c0, __mmask64 live) {
    const __mmask64 on = live & static_cast<__mmask64>(Bt.mask[k][c0 / 64]);
    return _mm512_maskz_loadu_epi8(on, Bt.x + (Bt.offset[k] + c0));
  };
  pack_b_u8_kmajor(N, K, (K + 3) / 4, row, static_cast<uint8_t*>(dst));
}

void igemm_packed(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const void* packed, const AccSpec& acc,
                  const detail::IgemmOut& out) {
  Args g;
  g.K = K;
  g.K4 = (K + 3) / 4;
  g.q = static_cast<int32_t>(std::min<int64_t>(acc_qmax(acc.bits), INT32_MAX));
  g.tile = acc.tile;
  if (acc.model == AccModel::saturating) {
    constexpr int kMr = 6, kNr = 2;
    g.lda = lda;
    g.pstride = K * 32;
    static constexpr auto table = table_of<Saturating, kMr>(std::make_integer_sequence<int, kNr>());
    g.K4 = 0;  // one pass over all of K; Saturating walks k itself
    return run_blocks<kMr, kNr>(M, N, 32, table, g, A, static_cast<const int16_t*>(packed), out, 0, nullptr);
  }
  const auto* bp = static_cast<const uint8_t*>(packed);
  // A with rows readable in whole groups of four (a padded copy when K % 4 != 0).
  std::unique_ptr<int8_t[], AlignedFree> apad;
  g.lda = lda;
  if (K % 4 != 0) {
    apad = aligned_buffer<int8_t>(M * g.K4 * 4);
    std::memset(apad.get(), 0, static_cast<size_t>(M * g.K4 * 4));
    for (int64_t m = 0; m < M; ++m) std::memcpy(apad.get() + m * g.K4 * 4, A + m * lda, static_cast<size_t>(K));
    A = apad.get();
    g.lda = g.K4 * 4;
  }
  const bool tiled = acc.model != AccModel::exact;
  g.tq = tiled && acc.tile > 0 ? acc.tile / 4 : g.K4;
  g.tiles = (g.K4 + g.tq - 1) / g.tq;
  g.wrap = acc.model == AccModel::wrap;
  g.shift = 32 - std::min(acc.bits, 32);
  auto rs = aligned_buffer<int32_t>(M * g.tiles), corr = aligned_buffer<int32_t>(M);
  row_sums(M, K, A, g.lda, g.tq, g.tiles, rs.get(), corr.get());
  g.rs = rs.get();
  g.pstride = g.K4 * 64;
  // Register blocks: 12×2 (24 accumulators) exact, 6×2 (12 + 12 wide lanes) tiled, 12×2 for one
  // tile written from registers (no wide lanes). 8×3, 6×4 and 4×3 measured the same or up to 8 %
  // slower on Zen 4 (1024³ and 128×512×784, one thread).
  constexpr int kNr = 2, kMrExact = 12, kNrTiled = 2, kMrTiled = 6;
  static_assert(kNr * 16 == kIgemmScatterCols && kNrTiled * 16 == kIgemmScatterCols, "scatter column blocks");
  static constexpr auto exact_table = table_of<Exact, kMrExact>(std::make_integer_sequence<int, kNr>());
  static constexpr auto tiled_table = table_of<Tiled, kMrTiled>(std::make_integer_sequence<int, kNrTiled>());
  // Blocks of K: 256 groups (1024 k, a 32 KiB two-panel block; measured ~3 % faster than 128
  // and than all of K) rounded to whole tiles.
  constexpr int64_t kBlock = 256;
  if (tiled) {
    const int64_t kblock = g.tq < g.K4 ? std::max<int64_t>(1, kBlock / g.tq) * g.tq : 0;
    if (out.cf != nullptr && (kblock == 0 || kblock >= g.K4)) {  // fp32 from registers
      static constexpr auto one_table = table_of<OneTileF32, 2 * kMrTiled>(std::make_integer_sequence<int, kNrTiled>());
      static constexpr auto f32_table = table_of<TiledF32, kMrTiled>(std::make_integer_sequence<int, kNrTiled>());
      if (g.tiles == 1) return run_fused<2 * kMrTiled, kNrTiled>(M, N, one_table, g, A, bp, out);
      return run_fused<kMrTiled, kNrTiled>(M, N, f32_table, g, A, bp, out);
    }
    return run_blocks<kMrTiled, kNrTiled>(M, N, 16, tiled_table, g, A, bp, out, kblock, nullptr);
  }
  run_blocks<kMrExact, kNr>(M, N, 16, exact_table, g, A, bp, out, kBlock, corr.get());
}

void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out) {
  const int layout = packed_layout(acc);
  auto bp = aligned_buffer<uint8_t>(packed_b_bytes(N, K, layout));
  pack_b(N, K, B, ldb, layout, bp.get());
  igemm_packed(M, N, K, A, lda, bp.get(), acc, out);
}

}  // namespace lowbit::kernels::avx512vnni
