// AVX-512 VNNI group-wise W4A8 GEMM (qgemm_grouped.h) on the W4 panels of qgemm_pack_w4 (64-byte
// blocks of 16 columns × two groups of four k, low nibbles first; four panels of a 64-column
// group interleaved). Groups are multiples of 8 k, so each starts on a block: per group the
// nibbles become 16·w in registers, vpdpbusd sums 16·Σ a·w, one shift gives the exact int32
// sum, and the group's (acc + corr)·scale is added to fp32 accumulators that stay in registers
// across groups (separate multiply and add: the reference's rounding).
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "lowbit/core/threads.h"
#include "qgemm_grouped_impl.h"

#define LOWBIT_UNROLL _Pragma("GCC unroll 16")

namespace lowbit::kernels::avx512vnni {
namespace {

constexpr int64_t kPrefetchBlocks = 16;
constexpr int kCur = _MM_FROUND_CUR_DIRECTION;  // 4 KiB ahead, as the per-channel W4 kernel

struct GBlock {
  int64_t N = 0, K = 0, group = 0, K8 = 0, lda = 0, ldy = 0, n0 = 0, cols = 0;
  const GroupedEpilogue* ep = nullptr;
};

// MR rows × 64 columns (four panels); one row keeps low and high nibble products apart.
template <int MR>
void micro(const GBlock& g, const uint8_t* a, const int8_t* bp, float* y) {
  constexpr int S = MR == 1 ? 2 : 1;
  const __m512i high = _mm512_set1_epi8(static_cast<char>(0xF0));
  __mmask16 km[4];
  LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
    const int64_t left = g.cols - 16 * j;
    km[j] = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(left, 0)) - 1);
  }
  __m512 sum[MR][4];
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
    LOWBIT_UNROLL for (int j = 0; j < 4; ++j) sum[i][j] = _mm512_setzero_ps();
  const int64_t groups = (g.K + g.group - 1) / g.group;
  for (int64_t grp = 0; grp < groups; ++grp) {
    const int64_t k0 = grp * g.group, len = std::min(g.group, g.K - k0), K4 = (len + 3) / 4, pairs = K4 / 2;
    const int8_t* bt = bp + (k0 / 8) * 256;
    const uint8_t* at = a + k0;
    __m512i acc[S][MR][4];
    LOWBIT_UNROLL for (int s = 0; s < S; ++s)
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j) acc[s][i][j] = _mm512_setzero_si512();
    for (int64_t kp = 0; kp <= pairs; ++kp) {
      const bool tail = kp == pairs;  // an odd last group of four (last group only): low nibbles
      if (tail && K4 % 2 == 0) break;
      if constexpr (MR == 1) {
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j)
          _mm_prefetch(reinterpret_cast<const char*>(bt + (kp + kPrefetchBlocks) * 256 + j * 64), _MM_HINT_T0);
        __m512i lo[4], hi[4];
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
          const __m512i v = _mm512_load_si512(bt + kp * 256 + j * 64);
          lo[j] = _mm512_and_si512(_mm512_slli_epi16(v, 4), high);
          hi[j] = _mm512_and_si512(v, high);
        }
        int32_t w0, w1 = 0;
        std::memcpy(&w0, at + 8 * kp, 4);
        if (!tail) std::memcpy(&w1, at + 8 * kp + 4, 4);
        const __m512i a0 = _mm512_set1_epi32(w0), a1 = _mm512_set1_epi32(w1);
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
          acc[0][0][j] = _mm512_dpbusd_epi32(acc[0][0][j], a0, lo[j]);
          acc[S - 1][0][j] = _mm512_dpbusd_epi32(acc[S - 1][0][j], a1, hi[j]);
        }
      } else {
        __m512i wv[4];
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j)
          wv[j] = _mm512_and_si512(_mm512_slli_epi16(_mm512_load_si512(bt + kp * 256 + j * 64), 4), high);
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          int32_t w0;
          std::memcpy(&w0, at + i * g.lda + 8 * kp, 4);
          const __m512i a0 = _mm512_set1_epi32(w0);
          LOWBIT_UNROLL for (int j = 0; j < 4; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], a0, wv[j]);
        }
        if (tail) continue;
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j) wv[j] = _mm512_and_si512(_mm512_load_si512(bt + kp * 256 + j * 64), high);
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          int32_t w1;
          std::memcpy(&w1, at + i * g.lda + 8 * kp + 4, 4);
          const __m512i a1 = _mm512_set1_epi32(w1);
          LOWBIT_UNROLL for (int j = 0; j < 4; ++j) acc[0][i][j] = _mm512_dpbusd_epi32(acc[0][i][j], a1, wv[j]);
        }
      }
    }
    const int64_t p = grp * g.N + g.n0;
    LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
      const __m512i corr = _mm512_maskz_loadu_epi32(km[j], g.ep->corr + p + 16 * j);
      const __m512 scale = _mm512_maskz_loadu_ps(km[j], g.ep->scale + p + 16 * j);
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
        __m512i v = acc[0][i][j];
        if constexpr (S == 2) v = _mm512_add_epi32(v, acc[1][i][j]);
        v = _mm512_add_epi32(_mm512_maskz_srai_epi32(0xFFFF, v, 4), corr);
        // _round_ forms with the current mode: the compiler may not contract them into an FMA.
        sum[i][j] = _mm512_add_round_ps(sum[i][j], _mm512_mul_round_ps(_mm512_cvtepi32_ps(v), scale, kCur), kCur);
      }
    }
  }
  LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
    const __m512 bias = g.ep->bias ? _mm512_maskz_loadu_ps(km[j], g.ep->bias + g.n0 + 16 * j) : _mm512_setzero_ps();
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512 v = g.ep->bias ? _mm512_add_round_ps(sum[i][j], bias, kCur) : sum[i][j];
      _mm512_mask_storeu_ps(y + i * g.ldy + 16 * j, km[j], v);
    }
  }
}

}  // namespace

void qgemm_u8s4_grouped(int64_t M, int64_t N, int64_t K, int64_t group, const uint8_t* a, int64_t lda, const void* panels,
                        const GroupedEpilogue& ep, float* y, int64_t ldy) {
  constexpr int64_t kMR = 3, chunk = kMR * 8;
  const int64_t K8 = (K + 7) / 8, cgroups = (N + 63) / 64, chunks = (M + chunk - 1) / chunk;
  // At least ~1M multiply-adds per task: batch-1 layers stay on one or two threads.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(std::min(M, chunk) * 64 * K, 1));
  const auto* p = static_cast<const int8_t*>(panels);
  parallel_for(cgroups * chunks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t cg = t / chunks, n0 = cg * 64, m0 = (t % chunks) * chunk, m1 = std::min(M, m0 + chunk);
      const GBlock g{N, K, group, K8, lda, ldy, n0, std::min<int64_t>(64, N - n0), &ep};
      const int8_t* bp = p + cg * K8 * 256;
      for (int64_t m = m0; m < m1; m += kMR) {
        const int64_t mr = std::min(kMR, m1 - m);
        float* out = y + m * ldy + n0;
        if (mr == 1) micro<1>(g, a + m * lda, bp, out);
        else if (mr == 2) micro<2>(g, a + m * lda, bp, out);
        else micro<3>(g, a + m * lda, bp, out);
      }
    }
  });
}

}  // namespace lowbit::kernels::avx512vnni
