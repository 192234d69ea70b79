// AVX-512 VNNI integer GEMM. `vpdpbusd` multiplies u8 by s8 and sums groups of four into int32
// lanes, so B is packed as u8 = b + 128 (16 columns × 4 k per register) and A is broadcast as
// s8: the lanes then hold Σ a·b + 128·Σ a, corrected with per-row sums of A. The tiled models
// need each tile's exact sum: tiles are whole groups of four, a tile's lanes start from zero,
// and the correction 128·Σ_tile a is folded into the clamp bounds (clamp(v - c, lo, hi) + c =
// clamp(v, lo + c, hi + c)), leaving one subtraction per row at the end. `saturating` is
// sequential in k: int16 lanes (32 columns per register), saturating add then clamp per k.
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

inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Everything a microkernel needs besides its row pointer, packed panels and output block.
struct Args {
  int64_t K = 0, K4 = 0;      // K and the number of groups of four
  int64_t lda = 0;            // row stride of A (bytes)
  int64_t pstride = 0;        // bytes (u8 kernels) or elements (int16 kernel) between panels
  int64_t tq = 0, tiles = 1;  // tile width in groups of four, number of tiles
  int64_t tile = 0;           // tile width in k (saturating)
  const int32_t* rs = nullptr;  // row sums of A per tile, [M][tiles]
  int32_t q = 0;              // q_max(A)
  int shift = 0;              // 32 - A (wrap)
  bool wrap = false;
};

// exact: Σ over all groups, minus 128·rowsum.
template <int MR, int NR>
struct Exact {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, int32_t* out) {
    __m512i acc[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
    for (int64_t kq = 0; kq < g.K4; ++kq) {
      __m512i b[NR];
      for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + kq * 64);
      for (int i = 0; i < MR; ++i) {
        const __m512i av = _mm512_set1_epi32(load4(a + i * g.lda + 4 * kq));
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], b[j], av);
      }
    }
    for (int i = 0; i < MR; ++i) {
      const __m512i corr = _mm512_set1_epi32(128 * g.rs[(m + i) * g.tiles]);
      for (int j = 0; j < NR; ++j) _mm512_storeu_si512(out + i * NR * 16 + j * 16, _mm512_sub_epi32(acc[i][j], corr));
    }
  }
};

// tile_clamp / wrap: per-tile lanes folded into a wide accumulator after every tile.
template <int MR, int NR>
struct Tiled {
  static void run(const Args& g, int64_t m, const int8_t* a, const uint8_t* bp, int32_t* out) {
    __m512i wide[MR][NR];
    int32_t total[MR] = {};
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) wide[i][j] = _mm512_setzero_si512();
    const __m128i shift = _mm_cvtsi32_si128(g.shift);
    for (int64_t t = 0; t < g.tiles; ++t) {
      __m512i acc[MR][NR];
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
      const int64_t k1 = std::min(g.K4, (t + 1) * g.tq);
      for (int64_t kq = t * g.tq; kq < k1; ++kq) {
        __m512i b[NR];
        for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + kq * 64);
        for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi32(load4(a + i * g.lda + 4 * kq));
          for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], b[j], av);
        }
      }
      for (int i = 0; i < MR; ++i) {
        const int32_t c = 128 * g.rs[(m + i) * g.tiles + t];
        if (g.wrap) {
          const __m512i cv = _mm512_set1_epi32(c);
          for (int j = 0; j < NR; ++j) {
            const __m512i v = _mm512_sub_epi32(acc[i][j], cv);
            wide[i][j] = _mm512_add_epi32(wide[i][j], _mm512_sra_epi32(_mm512_sll_epi32(v, shift), shift));
          }
        } else {
          total[i] += c;
          const __m512i lo = _mm512_set1_epi32(c - g.q), hi = _mm512_set1_epi32(c + g.q);
          for (int j = 0; j < NR; ++j)
            wide[i][j] = _mm512_add_epi32(wide[i][j], _mm512_min_epi32(_mm512_max_epi32(acc[i][j], lo), hi));
        }
      }
    }
    for (int i = 0; i < MR; ++i) {
      const __m512i corr = _mm512_set1_epi32(total[i]);
      for (int j = 0; j < NR; ++j) _mm512_storeu_si512(out + i * NR * 16 + j * 16, _mm512_sub_epi32(wide[i][j], corr));
    }
  }
};

// saturating: 32 int16 lanes per register; per k: product, saturating add, clamp to ±q.
// Lanes can neither overflow (|acc| <= q <= 32767, adds saturates first) nor lose a clamp.
template <int MR, int NR>
struct Saturating {
  static void run(const Args& g, int64_t m, const int8_t* a, const int16_t* bp, int32_t* out) {
    const __m512i lo = _mm512_set1_epi16(static_cast<int16_t>(-g.q)), hi = _mm512_set1_epi16(static_cast<int16_t>(g.q));
    for (int i = 0; i < MR * NR * 32; ++i) out[i] = 0;
    const int64_t T = g.tile > 0 ? g.tile : g.K;
    for (int64_t k0 = 0; k0 < g.K; k0 += T) {
      __m512i acc[MR][NR];
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
      const int64_t k1 = std::min(g.K, k0 + T);
      for (int64_t k = k0; k < k1; ++k) {
        __m512i b[NR];
        for (int j = 0; j < NR; ++j) b[j] = _mm512_load_si512(bp + j * g.pstride + k * 32);
        for (int i = 0; i < MR; ++i) {
          const __m512i av = _mm512_set1_epi16(a[i * g.lda + k]);
          for (int j = 0; j < NR; ++j) {
            const __m512i s = _mm512_adds_epi16(acc[i][j], _mm512_mullo_epi16(av, b[j]));
            acc[i][j] = _mm512_min_epi16(_mm512_max_epi16(s, lo), hi);
          }
        }
      }
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
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

// Packs B (N×K) into panels of 16 columns × groups of four k, as u8 = b + 128; zero padding.
void pack_b_u8(int64_t N, int64_t K, int64_t K4, const int8_t* B, int64_t ldb, uint8_t* bp) {
  const int64_t panels = (N + 15) / 16;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint8_t* dst = bp + p * K4 * 64;
      std::memset(dst, 0, static_cast<size_t>(K4 * 64));
      for (int64_t n = 0; n < 16 && p * 16 + n < N; ++n) {
        const int8_t* src = B + (p * 16 + n) * ldb;
        for (int64_t k = 0; k < K; ++k) dst[(k / 4) * 64 + n * 4 + k % 4] = static_cast<uint8_t>(src[k] ^ 0x80);
      }
    }
  });
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

// Runs microkernels over work items (a group of NR panels × a chunk of kRowChunk rows).
template <int MR, int NR, typename Table, typename PanelT>
void run_blocks(int64_t M, int64_t N, int64_t cols_per_panel, const Table& table, const Args& g, const int8_t* A,
                const PanelT* bp, const detail::IgemmOut& out) {
  const int64_t width = NR * cols_per_panel;
  const int64_t groups = (N + width - 1) / width, chunks = (M + kRowChunk - 1) / kRowChunk;
  parallel_for(groups * chunks, 1, [&](int64_t t0, int64_t t1) {
    alignas(64) int32_t buf[MR * NR * 32];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = (t / chunks) * width, m_end = std::min(M, (t % chunks + 1) * kRowChunk);
      const int64_t cols = std::min(width, N - n0);
      const int nr = static_cast<int>((cols + cols_per_panel - 1) / cols_per_panel);
      const PanelT* b = bp + (n0 / cols_per_panel) * g.pstride;
      for (int64_t m = (t % chunks) * kRowChunk; m < m_end; m += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, m_end - m));
        table[nr - 1][mr - 1](g, m, A + m * g.lda, b, buf);
        detail::igemm_store(out, m, n0, mr, cols, buf, nr * cols_per_panel);
      }
    }
  });
}

}  // namespace

bool igemm_supported(const AccSpec& acc) {
  if (acc.model == AccModel::saturating) return acc.bits <= 16;
  return acc.model == AccModel::exact || acc.tile == 0 || acc.tile % 4 == 0;
}

void igemm(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
           const AccSpec& acc, const detail::IgemmOut& out) {
  Args g;
  g.K = K;
  g.K4 = (K + 3) / 4;
  g.q = static_cast<int32_t>(std::min<int64_t>(acc_qmax(acc.bits), INT32_MAX));
  g.tile = acc.tile;
  if (acc.model == AccModel::saturating) {
    constexpr int kMr = 6, kNr = 2;
    auto bp = aligned_buffer<int16_t>((N + 31) / 32 * 32 * K);
    pack_b_i16(N, K, B, ldb, bp.get());
    g.lda = lda;
    g.pstride = K * 32;
    static constexpr auto table = table_of<Saturating, kMr>(std::make_integer_sequence<int, kNr>());
    return run_blocks<kMr, kNr>(M, N, 32, table, g, A, bp.get(), out);
  }
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
  auto rs = aligned_buffer<int32_t>(M * g.tiles);
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t t = 0; t < g.tiles; ++t) {
        int32_t s = 0;
        for (int64_t k = t * g.tq * 4; k < std::min(K, (t + 1) * g.tq * 4); ++k) s += A[m * g.lda + k];
        rs[m * g.tiles + t] = s;
      }
  });
  g.rs = rs.get();
  auto bp = aligned_buffer<uint8_t>((N + 15) / 16 * g.K4 * 64);
  pack_b_u8(N, K, g.K4, B, ldb, bp.get());
  g.pstride = g.K4 * 64;
  constexpr int kNr = 3, kMrExact = 8, kMrTiled = 4;  // 24 accumulators (+24 wide when tiled)
  static constexpr auto exact_table = table_of<Exact, kMrExact>(std::make_integer_sequence<int, kNr>());
  static constexpr auto tiled_table = table_of<Tiled, kMrTiled>(std::make_integer_sequence<int, kNr>());
  if (tiled) return run_blocks<kMrTiled, kNr>(M, N, 16, tiled_table, g, A, bp.get(), out);
  run_blocks<kMrExact, kNr>(M, N, 16, exact_table, g, A, bp.get(), out);
}

}  // namespace lowbit::kernels::avx512vnni
