// AVX-512 VNNI u8×s8 GEMM for products of at most 16 columns (qlinear.h; the 16-channel convs
// of CIFAR ResNets, MobileNetV2's narrow projections), with K in the register lanes.
//
// Why: the kernel of qgemm_avx512vnni.cc broadcasts four activation codes and multiplies them
// with a 16-column panel, so at N <= 16 each broadcast load feeds a single `vpdpbusd` and the
// loads, not the multiply-adds, set the pace (perf: ResNet-20's 16-channel stage took twice the
// time per multiply-add of its 64-channel one). `vpdpbusd` takes its unsigned operand only from
// a register, so the weights cannot be the broadcast one; instead a 128-bit load of sixteen
// activation codes (four groups of four k) is repeated in the four 128-bit lanes of a register
// and meets four weight registers, register j holding in lane g, dword q the four weights of
// column 4g + j for k group q: four multiply-adds per activation load, as in the 64-column
// kernel. An accumulator dword is then one column's sum over every fourth k group; at the end
// of a row block a 4×4 transpose within each 128-bit lane and three adds give the sixteen
// column sums in column order (int32 addition is associative, so the sums are the
// reference's bit for bit). Needs K % 16 == 0 (implicit GEMM: C % 16 == 0) so that the
// 16-byte loads stay inside each row (or tap).
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

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


constexpr int kMR = 6;  // 6·4 accumulators + 4 weight registers + 1 broadcast <= 32 zmm

struct Rows {
  int64_t lda = 0, ldc = 0;
  const int64_t* off = nullptr;  // tap t reads A at off[t] (implicit GEMM); null: one tap at 0
  int64_t taps = 1, K16 = 0;     // K16: groups of 16 k per tap
  int64_t cols = 0;              // N <= 16
  const Requant* rq = nullptr;   // fused requantization (c holds codes, ldc in bytes)
  bool out_signed = false;
  bool unclamped = false;  // the ±1e9 clamp cannot act (requant_clamp_free)
};

// The sixteen column sums of a row from its four accumulators (see the top of the file).
inline __m512i column_sums(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i u0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i u1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(u0, u1), _mm512_unpackhi_epi64(u0, u1));
}

template <int MR>
void micro(const Rows& g, const uint8_t* a, const int8_t* bp, void* c) {
  __m512i acc[MR][4];
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
    LOWBIT_UNROLL for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_setzero_si512();
  for (int64_t t = 0; t < g.taps; ++t) {
    const uint8_t* at = a + (g.off ? g.off[t] : 0);
    const int8_t* bt = bp + t * g.K16 * 256;
    for (int64_t kb = 0; kb < g.K16; ++kb) {
      __m512i b[4];
      LOWBIT_UNROLL for (int j = 0; j < 4; ++j) {
        b[j] = _mm512_load_si512(bt + kb * 256 + j * 64);
        // Kept in a register: GCC would otherwise fold the load into every `vpdpbusd`
        // (MR loads per weight register instead of one).
        asm("" : "+v"(b[j]));
      }
      LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
        const __m512i av = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at + i * g.lda + 16 * kb)));
        LOWBIT_UNROLL for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, b[j]);
      }
    }
  }
  // The accumulators pinned in registers here: without it GCC 12 spills them inside the loop
  // to make room for the reduction below (measured: 70 stack accesses in micro<6>, 22 % slower
  // on ResNet-20 than the kernel this replaces).
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i)
    LOWBIT_UNROLL for (int j = 0; j < 4; ++j) asm("" : "+v"(acc[i][j]));
  const __mmask16 k = g.cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << g.cols) - 1);
  if (!g.rq) {
    auto* y = static_cast<int32_t*>(c);
    LOWBIT_UNROLL for (int i = 0; i < MR; ++i) _mm512_mask_storeu_epi32(y + i * g.ldc, k, column_sums(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    return;
  }
  // The requantization of qlinear_avx512.cc, lane for lane.
  const Requant& p = *g.rq;
  const __m512i corr = _mm512_maskz_loadu_epi32(k, p.corr);
  const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale);
  const __m512 lim = _mm512_set1_ps(1e9f), nlim = _mm512_set1_ps(-1e9f);
  const __m512i zp = _mm512_set1_epi32(p.zp), lo = _mm512_set1_epi32(p.lo), hi = _mm512_set1_epi32(p.hi);
  auto* y = static_cast<int8_t*>(c);
  LOWBIT_UNROLL for (int i = 0; i < MR; ++i) {
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(column_sums(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), corr)), scale);
    if (!g.unclamped) x = _mm512_min_ps(_mm512_max_ps(x, nlim), lim);
    const __m512i r = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(x), zp), hi), lo);
    store_bytes(y + i * g.ldc, k, r);
  }
}

using Micro = void (*)(const Rows&, const uint8_t*, const int8_t*, void*);
template <int... M>
constexpr std::array<Micro, sizeof...(M)> rows_table(std::integer_sequence<int, M...>) {
  return {&micro<M + 1>...};
}

void run(int64_t M, int64_t N, const uint8_t* a, const void* panels, void* c, const Rows& proto) {
  static constexpr auto table = rows_table(std::make_integer_sequence<int, kMR>());
  const int64_t chunk = kMR * 8, chunks = (M + chunk - 1) / chunk;
  const int64_t es = proto.rq ? 1 : 4;  // bytes per output element
  // At least ~1M multiply-adds per task, as in qgemm_avx512vnni.cc.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(chunk * 16 * proto.taps * proto.K16 * 16, 1));
  Rows g = proto;
  g.cols = N;
  g.unclamped = requant_clamp_free(proto.rq, N, proto.taps * proto.K16 * 16);
  const auto* bp = static_cast<const int8_t*>(panels);
  parallel_for(chunks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t m0 = t * chunk, m1 = std::min(M, m0 + chunk);
      for (int64_t m = m0; m < m1; m += kMR) {
        const int mr = static_cast<int>(std::min<int64_t>(kMR, m1 - m));
        table[static_cast<size_t>(mr - 1)](g, a + m * g.lda, bp, static_cast<char*>(c) + m * g.ldc * es);
      }
    }
  });
}

}  // namespace

int64_t qgemm_n16_panel_bytes(int64_t K) { return (K + 15) / 16 * 256; }

void qgemm_n16_pack(int64_t N, int64_t K, const int8_t* w, void* panels) {
  auto* dst = static_cast<int8_t*>(panels);
  std::memset(dst, 0, static_cast<size_t>(qgemm_n16_panel_bytes(K)));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) dst[(k / 16) * 256 + (n % 4) * 64 + (n / 4) * 16 + k % 16] = w[n * K + k];
}

void qgemm_n16_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, int32_t* c,
                    int64_t ldc) {
  run(M, N, a, panels, c, Rows{lda, ldc, nullptr, 1, K / 16});
}

void qgemm_n16_requant(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const void* panels, const Requant& p,
                       void* y, int64_t ldy, bool out_signed) {
  run(M, N, a, panels, y, Rows{lda, ldy, nullptr, 1, K / 16, 0, &p, out_signed});
}

void qgemm_n16_taps_requant(int64_t M, int64_t N, int64_t C, const int64_t* off, int64_t taps, const uint8_t* a, int64_t lda,
                            const void* panels, const Requant& p, void* y, int64_t ldy, bool out_signed) {
  run(M, N, a, panels, y, Rows{lda, ldy, off, taps, C / 16, 0, &p, out_signed});
}

}  // namespace lowbit::kernels::avx512vnni
