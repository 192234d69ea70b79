// AVX-512 VNNI u8×s8 GEMM for quantized inference (qlinear.h): each group of four uint8 codes
// of A is broadcast into a register and `vpdpbusd` multiplies it with sixteen columns' four
// int8 weights, so the activations enter as they are (the igemm of igemm_avx512vnni.cc takes
// signed A and pays a row-sum correction instead). Register blocks MR×NR panels of 16 columns,
// chosen by N; work items are row chunks × column groups over lowbit::parallel_for.
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "lowbit/core/threads.h"
#include "qlinear_impl.h"

#define LOWBIT_UNROLL _Pragma("GCC unroll 16")

namespace lowbit::kernels::avx512vnni {
namespace {

// 16 int32 lanes (already in the output type's range) stored as bytes under mask k, through a
// register: `vpmovdb` with a memory destination is slow on Zen 4 (the stall sat on it in perf).
inline void store_bytes(void* out, __mmask16 k, __m512i r) {
  const __m128i b = _mm512_cvtepi32_epi8(r);
  if (k == 0xFFFF) _mm_storeu_si128(static_cast<__m128i*>(out), b);
  else _mm_mask_storeu_epi8(out, k, b);
}


struct Block {
  int64_t K4 = 0, lda = 0, pstride = 0, ldc = 0;
  // K as T taps of C4 groups of four: tap t reads A at offset off[t] (implicit-GEMM convs);
  // a plain GEMM is one tap at offset 0.
  const int64_t* off = nullptr;
  int64_t taps = 1, C4 = 0;
  int64_t cols = 0;  // valid columns of this column group (<= NR·16)
  const Requant* rq = nullptr;  // fused requantization (c is then uint8/int8 codes, ldc in bytes)
  int64_t n0 = 0;               // first column of the group (index into rq's vectors)
  bool out_signed = false;
  bool w16 = false;  // int8 panels hold 16·w (int4 weights unpacked): sums shifted right by 4
  bool unclamped = false;  // the ±1e9 clamp of the requantization cannot act (requant_clamp_free)
};

// W4 (packed int4 weights, qgemm_w4_pack): each 64-byte block holds two groups of four k of 16
// columns, the first in the low nibbles and the second in the high ones; the four panels of a
// 64-column group are interleaved block by block, so a row streams one contiguous run of
// weights (the M = 1 case is bound by how fast memory delivers them). A nibble n becomes the
// int8 16·n by one mask (high) or one shift and mask (low), so vpdpbusd accumulates 16·Σ a·w
// (|16·acc| <= 16·K·255·8 < 2^31 for K <= 65536) and one arithmetic shift at the end gives
// the exact sum. One row (M = 1, the memory-bound GEMV) keeps low and high products in
// separate accumulators so that no register waits on two vpdpbusd per block.
constexpr int64_t kPrefetchBlocks = 16;  // 4 KiB ahead (prefetches past the end are harmless)

template <int MR, int NR, bool W4>
void micro(const Block& g, const uint8_t* a, const int8_t* bp, int32_t* c) {
  constexpr int S = W4 && MR == 1 ? 2 : 1;  // accumulator sets
  __m512i acc[S][MR][NR];
  LOWBIT_UNROLL for (int s = 0; s < S; ++s)
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[s][i][j] = _mm512_setzero_si512();
  // Requantized int8 products start from corr instead of adding it at the end (int32 addition is
  // associative: the same sums), one add less per 16 outputs in an epilogue that is ~40 % of
  // MobileNetV2's 1x1 convs (K of 16-96). Not with int4 weights, whose sums are shifted after.
  const bool corr_first = !W4 && !g.w16 && g.rq;
  if (corr_first) {
    LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
      const int64_t left = g.cols - 16 * j;
      const __mmask16 k = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(left, 0)) - 1);
      const __m512i corr = _mm512_maskz_loadu_epi32(k, g.rq->corr + g.n0 + 16 * j);
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i) acc[0][i][j] = corr;
    }
  }
  const __m512i high = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (int64_t t = 0; t < g.taps; ++t) {
    const uint8_t* at = a + (g.off ? g.off[t] : 0);
    if constexpr (!W4) {
      const int8_t* bt = bp + t * g.C4 * 64;
      for (int64_t kq = 0; kq < g.C4; ++kq) {
        __m512i b[NR];
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bt + j * g.pstride + kq * 64);
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          int32_t word;
          std::memcpy(&word, at + i * g.lda + 4 * kq, 4);
          const __m512i av = _mm512_set1_epi32(word);
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], av, b[j]);
        }
      }
    } else {
      const int8_t* bt = bp + t * ((g.C4 + 1) / 2) * 256;  // taps only with C4 even
      const int64_t pairs = g.C4 / 2;
      for (int64_t kp = 0; kp <= pairs; ++kp) {
        const bool tail = kp == pairs;  // an odd last group of four: low nibbles only
        if (tail && g.C4 % 2 == 0) break;
        if constexpr (MR == 1 && NR == 4) {  // one row: a single stream, fetched ahead of use
          LOWBIT_UNROLL for (int j = 0; j < 4; ++j)
            _mm_prefetch(reinterpret_cast<const char*>(bt + (kp + kPrefetchBlocks) * 256 + j * 64), _MM_HINT_T0);
        }
        if constexpr (S == 2) {
          __m512i lo[NR], hi[NR];
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
            const __m512i v = _mm512_load_si512(bt + kp * 256 + j * 64);
            lo[j] = _mm512_and_si512(_mm512_slli_epi16(v, 4), high);
            hi[j] = _mm512_and_si512(v, high);
          }
          int32_t w0, w1 = 0;
          std::memcpy(&w0, at + 8 * kp, 4);
          if (!tail) std::memcpy(&w1, at + 8 * kp + 4, 4);
          const __m512i a0 = _mm512_set1_epi32(w0), a1 = _mm512_set1_epi32(w1);
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
            acc[0][0][j] = _mm512_dpbusd_epi32(acc[0][0][j], a0, lo[j]);
            acc[1][0][j] = _mm512_dpbusd_epi32(acc[1][0][j], a1, hi[j]);
          }
        } else {
          // Several rows: the low nibbles of every panel, their products, then the high ones in
          // the same registers (MR·NR accumulators + NR weights + one broadcast).
          __m512i wv[NR];
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j)
            wv[j] = _mm512_and_si512(_mm512_slli_epi16(_mm512_load_si512(bt + kp * 256 + j * 64), 4), high);
          LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
            int32_t w0;
            std::memcpy(&w0, at + i * g.lda + 8 * kp, 4);
            const __m512i a0 = _mm512_set1_epi32(w0);
            LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], a0, wv[j]);
          }
          if (tail) continue;
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) wv[j] = _mm512_and_si512(_mm512_load_si512(bt + kp * 256 + j * 64), high);
          LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
            int32_t w1;
            std::memcpy(&w1, at + i * g.lda + 8 * kp + 4, 4);
            const __m512i a1 = _mm512_set1_epi32(w1);
            LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], a1, wv[j]);
          }
        }
      }
    }
  }
  if (W4 || g.w16) {
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
        if constexpr (S == 2) acc[0][i][j] = _mm512_add_epi32(acc[0][i][j], acc[1][i][j]);
        acc[0][i][j] = _mm512_maskz_srai_epi32(0xFFFF, acc[0][i][j], 4);  // (maskz: no undefined source)
      }
  }
  LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
    const int64_t left = g.cols - 16 * j;
    const __mmask16 k = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(left, 0)) - 1);
    if (!g.rq) {
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i) _mm512_mask_storeu_epi32(c + i * g.ldc + 16 * j, k, acc[0][i][j]);
      continue;
    }
    // The requantization of qlinear_avx512.cc, lane for lane.
    const Requant& p = *g.rq;
    const int64_t n = g.n0 + 16 * j;
    const __m512i corr = corr_first ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(k, p.corr + n);
    const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + n);
    const __m512 lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
    const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
    auto* y = reinterpret_cast<int8_t*>(c);
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512i sum = corr_first ? acc[0][i][j] : _mm512_add_epi32(acc[0][i][j], corr);
      __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), scale);
      if (!g.unclamped) x = _mm512_min_ps(_mm512_max_ps(x, nlim), lim);
      const __m512i r = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(x), zp), hi), lo);
      store_bytes(y + i * g.ldc + 16 * j, k, r);
    }
  }
}

using Micro = void (*)(const Block&, const uint8_t*, const int8_t*, int32_t*);
template <int NR, bool W4, int... M>
constexpr std::array<Micro, sizeof...(M)> rows_table(std::integer_sequence<int, M...>) {
  return {&micro<M + 1, NR, W4>...};
}

// Register blocks by panels per item: accumulators MR·NR plus NR weight registers and one
// broadcast stay within the 32 zmm registers.
struct Taps {
  const int64_t* off = nullptr;
  int64_t taps = 1, C4 = 0;  // C4 = 0: all of K in one tap
  // The same product on `images` images: A at a + i·a_image bytes, c at c + i·c_image elements.
  int64_t images = 1, a_image = 0, c_image = 0;
};

template <int NR, int MR, bool W4>
void run(int64_t M, int64_t N, int64_t K4, const uint8_t* a, int64_t lda, const int8_t* panels, void* c, int64_t ldc,
         const Requant* rq, bool out_signed, const Taps& tp) {
  static constexpr auto table = rows_table<NR, W4>(std::make_integer_sequence<int, MR>());
  const int64_t width = 16 * NR, groups = (N + width - 1) / width;
  const int64_t chunk = MR * 8, chunks = (M + chunk - 1) / chunk;
  const int64_t es = rq ? 1 : 4;  // bytes per output element
  const bool unclamped = requant_clamp_free(rq, N, K4 * 4);
  // At least ~1M multiply-adds per task: smaller products (batch-1 layers) stay on one thread.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(chunk * width * K4 * 4, 1));
  const int64_t per_group = tp.images * chunks;  // tasks run group-major: a group's weights serve every image
  parallel_for(groups * per_group, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t img = (t % per_group) / chunks, n0 = (t / per_group) * width;
      const int64_t m0 = (t % chunks) * chunk, m1 = std::min(M, m0 + chunk);
      Block g{K4, lda, K4 * 64, ldc, tp.off, tp.taps, tp.C4 ? tp.C4 : K4, std::min(width, N - n0), rq, n0, out_signed, false, unclamped};
      const int8_t* bp = W4 ? panels + (n0 / 64) * ((K4 + 1) / 2) * 256 : panels + (n0 / 16) * g.pstride;
      const uint8_t* ai = a + img * tp.a_image;
      char* ci = static_cast<char*>(c) + img * tp.c_image * es;
      for (int64_t m = m0; m < m1; m += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, m1 - m));
        auto* out = reinterpret_cast<int32_t*>(ci + (m * ldc + n0) * es);
        table[static_cast<size_t>(mr - 1)](g, ai + m * lda, bp, out);
      }
    }
  });
}

// Int4 weights for products of many rows: each task unpacks its column group once into int8
// panels of 16·w (the int8 layout, in a per-thread buffer that stays in L2) and runs the int8
// micro-kernel over all its rows, so the unpacking is paid once per group instead of once per
// row block. Consecutive tasks of one thread share a group (tasks run group-major).
template <int NR, int MR>
void run_unpacked(int64_t M, int64_t N, int64_t K4, const uint8_t* a, int64_t lda, const int8_t* panels, void* c, int64_t ldc,
                  const Requant* rq, bool out_signed, const Taps& tp) {
  static constexpr auto table = rows_table<NR, false>(std::make_integer_sequence<int, MR>());
  const int64_t width = 16 * NR, groups = (N + width - 1) / width, K8 = (K4 + 1) / 2;
  const int64_t chunk = MR * 8, chunks = (M + chunk - 1) / chunk;
  const int64_t es = rq ? 1 : 4;
  const bool unclamped = requant_clamp_free(rq, N, K4 * 4);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(chunk * width * K4 * 4, 1));
  parallel_for(groups * chunks, grain, [&](int64_t t0, int64_t t1) {
    struct alignas(64) Line {
      int8_t b[64];
    };
    thread_local std::vector<Line> buf;
    if (buf.size() < static_cast<size_t>(NR * K4)) buf.resize(static_cast<size_t>(NR * K4));
    auto* up = buf.data()->b;
    const __m512i high = _mm512_set1_epi8(static_cast<char>(0xF0));
    int64_t unpacked = -1;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t grp = t / chunks, n0 = grp * width, m0 = (t % chunks) * chunk, m1 = std::min(M, m0 + chunk);
      if (grp != unpacked) {
        const int8_t* src = panels + (n0 / 64) * K8 * 256;
        for (int64_t kp = 0; kp < K8; ++kp)
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
            const __m512i v = _mm512_load_si512(src + kp * 256 + j * 64);
            _mm512_store_si512(up + j * K4 * 64 + 2 * kp * 64, _mm512_and_si512(_mm512_slli_epi16(v, 4), high));
            if (2 * kp + 1 < K4) _mm512_store_si512(up + j * K4 * 64 + (2 * kp + 1) * 64, _mm512_and_si512(v, high));
          }
        unpacked = grp;
      }
      Block g{K4, lda, K4 * 64, ldc, tp.off, tp.taps, tp.C4 ? tp.C4 : K4, std::min(width, N - n0), rq, n0, out_signed, true, unclamped};
      // The next group's int4 panels (K8 blocks of 256 bytes: 4 lines each) are fetched a
      // share per row block, so that its widening above does not wait on memory (the int8 path
      // overlaps those loads with its multiply-adds).
      const int8_t* next = grp + 1 < groups ? panels + ((grp + 1) * width / 64) * K8 * 256 : nullptr;
      const int64_t lines = K8 * 4, blocks = (M + MR - 1) / MR, share = (lines + blocks - 1) / blocks;
      for (int64_t m = m0; m < m1; m += MR) {
        if (next)
          for (int64_t l = (m / MR) * share, e = std::min(lines, l + share); l < e; ++l)
            _mm_prefetch(reinterpret_cast<const char*>(next + l * 64), _MM_HINT_T0);
        const int mr = static_cast<int>(std::min<int64_t>(MR, m1 - m));
        auto* out = reinterpret_cast<int32_t*>(static_cast<char*>(c) + (m * ldc + n0) * es);
        table[static_cast<size_t>(mr - 1)](g, a + m * lda, up, out);
      }
    }
  });
}

// Register blocks: MR·NR accumulators, NR weight registers (2·NR unpacked for W4) and the
// broadcasts within the 32 zmm registers.
// mode 0: int8 panels; 1: int4 panels, unpacked in registers; 2: int4 panels, unpacked per
// column group (run_unpacked).
template <int Mode>
void dispatch(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, void* c, int64_t ldc,
              const Requant* rq, bool out_signed, const Taps& tp = {}) {
  const int64_t K4 = (K + 3) / 4;
  const auto* p = static_cast<const int8_t*>(panels);
  if constexpr (Mode == 2) {
    if (N <= 16) return run_unpacked<1, 16>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    if (N <= 32) return run_unpacked<2, 12>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    if (N <= 48) return run_unpacked<3, 8>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    return run_unpacked<4, 6>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
  } else {
    constexpr bool W4 = Mode == 1;
    if (N <= 16) return run<1, 16, W4>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    if (N <= 32) return run<2, 12, W4>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    if (N <= 48) return run<3, 8, W4>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
    run<4, 6, W4>(M, N, K4, a, lda, p, c, ldc, rq, out_signed, tp);
  }
}

}  // namespace

// True when |float(Σ + corr[n])·scale[n]| stays below 1e9 for every sum of K products of codes
// (|Σ| <= K·255·128), with a factor of 2 to spare for float rounding: the requantization's ±1e9
// clamp is then the identity and is skipped. Non-finite scales keep it.
bool requant_clamp_free(const Requant* rq, int64_t N, int64_t K) {
  if (!rq) return false;
  double smax = 0, cmax = 0;
  for (int64_t n = 0; n < N; ++n) {
    const double sc = std::fabs(static_cast<double>(rq->scale[n]));
    if (!std::isfinite(sc)) return false;
    smax = std::max(smax, sc);
    cmax = std::max(cmax, std::fabs(static_cast<double>(rq->corr[n])));
  }
  return smax * (static_cast<double>(K) * 255 * 128 + cmax) < 0.5e9;
}

// Whole groups of four panels (64 columns): the widest micro-kernel (NR = 4) loads all four
// panels of its group even when the last group has fewer valid columns; the padding is zeros.
int64_t qgemm_panel_bytes(int64_t N, int64_t K) { return (N + 63) / 64 * 4 * ((K + 3) / 4) * 64; }

void qgemm_pack(int64_t N, int64_t K, const int8_t* w, void* panels) {
  const int64_t K4 = (K + 3) / 4;
  auto* dst = static_cast<int8_t*>(panels);
  std::memset(dst, 0, static_cast<size_t>(qgemm_panel_bytes(N, K)));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) dst[(n / 16) * K4 * 64 + (k / 4) * 64 + (n % 16) * 4 + k % 4] = w[n * K + k];
}

void qgemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c, int64_t ldc) {
  dispatch<0>(M, N, K, a, lda, panels, c, ldc, nullptr, false);
}

void qgemm_u8s8_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                        void* y, int64_t ldy, bool out_signed) {
  dispatch<0>(M, N, K, a, lda, panels, y, ldy, &p, out_signed);
}

void qgemm_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                        const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed, int64_t images,
                        int64_t a_image, int64_t y_image) {
  dispatch<0>(M, N, C * taps, a, lda, panels, y, ldy, &p, out_signed, Taps{off, taps, C / 4, images, a_image, y_image});
}

// W4: 64-byte blocks of two groups of four k (low nibbles: group 2p, high: 2p + 1) of 16
// columns; groups of 64 columns, their four panels interleaved block by block.
int64_t qgemm_w4_panel_bytes(int64_t N, int64_t K) { return (N + 63) / 64 * 4 * ((K + 7) / 8) * 64; }

void qgemm_w4_pack(int64_t N, int64_t K, const int8_t* w, void* panels) {
  const int64_t K8 = (K + 7) / 8;
  auto* dst = static_cast<uint8_t*>(panels);
  std::memset(dst, 0, static_cast<size_t>(qgemm_w4_panel_bytes(N, K)));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const auto nib = static_cast<uint8_t>(w[n * K + k] & 0x0F);
      dst[(n / 64) * K8 * 256 + (k / 8) * 256 + ((n / 16) % 4) * 64 + (n % 16) * 4 + k % 4] |= static_cast<uint8_t>(nib << (4 * ((k / 4) % 2)));
    }
}

void qgemm_u8s4(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c, int64_t ldc,
                bool unpack) {
  if (unpack) return dispatch<2>(M, N, K, a, lda, panels, c, ldc, nullptr, false);
  dispatch<1>(M, N, K, a, lda, panels, c, ldc, nullptr, false);
}

void qgemm_u8s4_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                        void* y, int64_t ldy, bool out_signed, bool unpack) {
  if (unpack) return dispatch<2>(M, N, K, a, lda, panels, y, ldy, &p, out_signed);
  dispatch<1>(M, N, K, a, lda, panels, y, ldy, &p, out_signed);
}

void qgemm_u8s4_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a,
                             int64_t lda, const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed,
                             bool unpack) {
  if (unpack) return dispatch<2>(M, N, C * taps, a, lda, panels, y, ldy, &p, out_signed, Taps{off, taps, C / 4});
  dispatch<1>(M, N, C * taps, a, lda, panels, y, ldy, &p, out_signed, Taps{off, taps, C / 4});
}

}  // namespace lowbit::kernels::avx512vnni
