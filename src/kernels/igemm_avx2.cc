// AVX2 integer GEMM. Without VNNI the exact int8 product of choice is `vpmaddwd` on int16:
// it multiplies signed pairs and sums each pair into int32 exactly (vpmaddubsw would saturate
// at int16 for some int8 inputs), so A and B are widened to int16 and k goes two at a time.
// Tiled models keep per-tile lanes (tiles are whole pairs) folded into wide lanes after every
// tile; `saturating` runs sequentially in k on 16 int16 lanes (saturating add, then clamp).
#include <immintrin.h>

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

namespace lowbit::kernels::avx2 {
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

struct Args {
  int64_t K = 0, K2 = 0;        // K and the number of k pairs
  int64_t lda = 0;              // row stride of the int16 copy of A (elements)
  int64_t pstride = 0;          // int16 elements between panels
  int64_t tp = 0, tiles = 1;    // tile width in pairs, number of tiles
  int64_t tile = 0;             // tile width in k (saturating)
  int32_t q = 0;                // q_max(A)
  int shift = 0;                // 32 - A (wrap)
  bool wrap = false;
};

inline __m256i pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int MR, int NR>
struct Exact {
  static void run(const Args& g, const int16_t* a, const int16_t* bp, int32_t* out) {
    __m256i acc[MR][NR];
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
    for (int64_t kp = 0; kp < g.K2; ++kp) {
      __m256i b[NR];
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + j * g.pstride + kp * 16));
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
        const __m256i av = pair(a + i * g.lda + 2 * kp);
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, b[j]));
      }
    }
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * NR * 8 + j * 8), acc[i][j]);
  }
};

template <int MR, int NR>
struct Tiled {
  static void run(const Args& g, const int16_t* a, const int16_t* bp, int32_t* out) {
    __m256i wide[MR][NR];
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) wide[i][j] = _mm256_setzero_si256();
    const __m256i lo = _mm256_set1_epi32(-g.q), hi = _mm256_set1_epi32(g.q);
    const __m128i shift = _mm_cvtsi32_si128(g.shift);
    for (int64_t t = 0; t < g.tiles; ++t) {
      __m256i acc[MR][NR];
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
      const int64_t k1 = std::min(g.K2, (t + 1) * g.tp);
      for (int64_t kp = t * g.tp; kp < k1; ++kp) {
        __m256i b[NR];
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + j * g.pstride + kp * 16));
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          const __m256i av = pair(a + i * g.lda + 2 * kp);
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, b[j]));
        }
      }
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
          const __m256i v = g.wrap ? _mm256_sra_epi32(_mm256_sll_epi32(acc[i][j], shift), shift)
                                   : _mm256_min_epi32(_mm256_max_epi32(acc[i][j], lo), hi);
          wide[i][j] = _mm256_add_epi32(wide[i][j], v);
        }
    }
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
      LOWBIT_UNROLL for (int j = 0; j < NR; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * NR * 8 + j * 8), wide[i][j]);
  }
};

// B panels here are 16 columns of int16 per k (one register per k).
template <int MR, int NR>
struct Saturating {
  static void run(const Args& g, const int16_t* a, const int16_t* bp, int32_t* out) {
    const __m256i lo = _mm256_set1_epi16(static_cast<int16_t>(-g.q)), hi = _mm256_set1_epi16(static_cast<int16_t>(g.q));
    LOWBIT_UNROLL for (int i = 0; i < MR * NR * 16; ++i) out[i] = 0;
    const int64_t T = g.tile > 0 ? g.tile : g.K;
    for (int64_t k0 = 0; k0 < g.K; k0 += T) {
      __m256i acc[MR][NR];
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
      const int64_t k1 = std::min(g.K, k0 + T);
      for (int64_t k = k0; k < k1; ++k) {
        __m256i b[NR];
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) b[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + j * g.pstride + k * 16));
        LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
          const __m256i av = _mm256_set1_epi16(a[i * g.lda + k]);
          LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
            const __m256i s = _mm256_adds_epi16(acc[i][j], _mm256_mullo_epi16(av, b[j]));
            acc[i][j] = _mm256_min_epi16(_mm256_max_epi16(s, lo), hi);
          }
        }
      }
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
        LOWBIT_UNROLL for (int j = 0; j < NR; ++j) {
          int32_t* o = out + i * NR * 16 + j * 16;
          const __m256i l = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[i][j]));
          const __m256i h = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[i][j], 1));
          auto* o0 = reinterpret_cast<__m256i*>(o);
          auto* o1 = reinterpret_cast<__m256i*>(o + 8);
          _mm256_storeu_si256(o0, _mm256_add_epi32(_mm256_loadu_si256(o0), l));
          _mm256_storeu_si256(o1, _mm256_add_epi32(_mm256_loadu_si256(o1), h));
        }
    }
  }
};

template <template <int, int> class F, int NR, int... M>
constexpr auto row_of(std::integer_sequence<int, M...>) {
  return std::array{&F<M + 1, NR>::run...};
}
template <template <int, int> class F, int MR, int... N>
constexpr auto table_of(std::integer_sequence<int, N...>) {
  return std::array{row_of<F, N + 1>(std::make_integer_sequence<int, MR>())...};
}

// B (N×K) as int16 panels of `cols` columns; `pairs` interleaves k two at a time (vpmaddwd
// layout: column n's pair at 2n), else one k per register row. Zero padding.
void pack_b(int64_t N, int64_t K, int64_t Kp, const int8_t* B, int64_t ldb, int cols, bool pairs, int16_t* bp) {
  const int64_t panels = (N + cols - 1) / cols;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int16_t* dst = bp + p * Kp * cols;
      std::memset(dst, 0, static_cast<size_t>(Kp * cols) * sizeof(int16_t));
      for (int64_t n = 0; n < cols && p * cols + n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          dst[pairs ? (k / 2) * 2 * cols + 2 * n + k % 2 : k * cols + n] = B[(p * cols + n) * ldb + k];
    }
  });
}

template <int MR, int NR, typename Table>
void run_blocks(int64_t M, int64_t N, int64_t cols_per_panel, const Table& table, const Args& g, const int16_t* A,
                const int16_t* bp, const detail::IgemmOut& out) {
  const int64_t width = NR * cols_per_panel;
  const int64_t groups = (N + width - 1) / width, chunks = (M + kRowChunk - 1) / kRowChunk;
  parallel_for(groups * chunks, 1, [&](int64_t t0, int64_t t1) {
    alignas(64) int32_t buf[MR * NR * 16];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = (t / chunks) * width, m_end = std::min(M, (t % chunks + 1) * kRowChunk);
      const int64_t cols = std::min(width, N - n0);
      const int nr = static_cast<int>((cols + cols_per_panel - 1) / cols_per_panel);
      const int16_t* b = bp + (n0 / cols_per_panel) * g.pstride;
      for (int64_t m = (t % chunks) * kRowChunk; m < m_end; m += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, m_end - m));
        table[nr - 1][mr - 1](g, A + m * g.lda, b, buf);
        detail::igemm_store(out, m, n0, mr, cols, buf, nr * cols_per_panel);
      }
    }
  });
}

}  // namespace

bool igemm_supported(const AccSpec& acc) {
  if (acc.model == AccModel::saturating) return acc.bits <= 16;
  return acc.model == AccModel::exact || acc.tile == 0 || acc.tile % 2 == 0;
}

void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out) {
  Args g;
  g.K = K;
  g.K2 = (K + 1) / 2;
  g.q = static_cast<int32_t>(std::min<int64_t>(acc_qmax(acc.bits), INT32_MAX));
  g.tile = acc.tile;
  g.wrap = acc.model == AccModel::wrap;
  g.shift = 32 - std::min(acc.bits, 32);
  // A widened to int16, rows padded to whole pairs.
  g.lda = g.K2 * 2;
  auto a16 = aligned_buffer<int16_t>(M * g.lda);
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      int16_t* dst = a16.get() + m * g.lda;
      for (int64_t k = 0; k < K; ++k) dst[k] = A[m * lda + k];
      if (K % 2) dst[K] = 0;
    }
  });
  if (acc.model == AccModel::saturating) {
    constexpr int kMr = 3, kNr = 2;
    auto bp = aligned_buffer<int16_t>((N + 15) / 16 * 16 * K);
    pack_b(N, K, K, B, ldb, 16, false, bp.get());
    g.pstride = K * 16;
    static constexpr auto table = table_of<Saturating, kMr>(std::make_integer_sequence<int, kNr>());
    return run_blocks<kMr, kNr>(M, N, 16, table, g, a16.get(), bp.get(), out);
  }
  auto bp = aligned_buffer<int16_t>((N + 7) / 8 * 8 * g.K2 * 2);
  pack_b(N, K, g.K2 * 2, B, ldb, 8, true, bp.get());
  g.pstride = g.K2 * 2 * 8;
  const bool tiled = acc.model != AccModel::exact;
  g.tp = tiled && acc.tile > 0 ? acc.tile / 2 : g.K2;
  g.tiles = (g.K2 + g.tp - 1) / g.tp;
  constexpr int kNr = 3, kMrExact = 4, kMrTiled = 2;
  static constexpr auto exact_table = table_of<Exact, kMrExact>(std::make_integer_sequence<int, kNr>());
  static constexpr auto tiled_table = table_of<Tiled, kMrTiled>(std::make_integer_sequence<int, kNr>());
  if (tiled) return run_blocks<kMrTiled, kNr>(M, N, 8, tiled_table, g, a16.get(), bp.get(), out);
  run_blocks<kMrExact, kNr>(M, N, 8, exact_table, g, a16.get(), bp.get(), out);
}

}  // namespace lowbit::kernels::avx2
