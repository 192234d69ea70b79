// AVX-512 fp32 direct convolution on channels-last activations (fp32_conv_direct.h), written by
// hand because no Debian-packaged library is fast here: on 16-64 channel and depthwise convs
// oneDNN 2.7's brgconv runs ~20 % behind ONNX Runtime's MLAS NCHWc kernels (docs/BENCHMARKS.md).
// Dense: each task first copies the input rows it reads into a zero-bordered slab in blocks of 16
// channels ([row][C/16][column][16], the MLAS NCHWc order), so padding needs no tests and the
// pixels of a tile sit at compile-time offsets from one base register; NB blocks of 16 output
// channels × T output pixels in zmm accumulators, one input value broadcast against NB weight
// vectors per step (the MLAS/oneDNN scheme). Depthwise (conv_dw_nhwc): x read in place, no slab
// (the copy cost as much as the multiply-adds); see that section. Bias, residual sum and the
// activation (ReLU, Clip, HardSwish, SiLU) fused in the store, shared by both.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "exp_avx512.h"
#include "fp32_conv_direct.h"
#include "lowbit/core/threads.h"

// GCC 12 reports _mm512_undefined_ps inside its own max/min intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lowbit::kernels::avx512 {
namespace {

constexpr int64_t kL = detail::kDirectBlock;

__mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Epilogue of one output vector: residual (masked load), then the activation, masked store.
struct Epilogue {
  bool sum;
  ConvEpilogue::Act act;
  __m512 lo, hi;
  explicit Epilogue(const ConvEpilogue& ep)
      : sum(ep.sum), act(ep.act), lo(_mm512_set1_ps(ep.lo)), hi(_mm512_set1_ps(ep.hi)) {}
  void store(float* y, __mmask16 m, __m512 v) const {
    if (sum) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
    switch (act) {
      case ConvEpilogue::Act::none: break;
      case ConvEpilogue::Act::relu: v = _mm512_max_ps(v, _mm512_setzero_ps()); break;
      case ConvEpilogue::Act::clip: v = _mm512_min_ps(_mm512_max_ps(v, lo), hi); break;
      case ConvEpilogue::Act::hardswish: {  // v · min(max(v / 6 + 1/2, 0), 1)
        const __m512 g = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6), _mm512_set1_ps(0.5f));
        v = _mm512_mul_ps(v, _mm512_min_ps(_mm512_max_ps(g, _mm512_setzero_ps()), _mm512_set1_ps(1.0f)));
        break;
      }
      case ConvEpilogue::Act::silu:  // v / (1 + exp(-v))
        v = _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
        break;
    }
    _mm512_mask_storeu_ps(y, m, v);
  }
};

// The slab of one task: input rows [ih_lo, ih_hi) of image n, each [CB][Wp][16] where column j
// holds input column j - pad_l (zeros outside the image) and channels past C are zero.
struct Slab {
  const float* data;
  int64_t ih_lo, Wp, CB;
  int64_t row_stride() const { return CB * Wp * kL; }
};

Slab make_slab(const ConvGeom& s, const float* x, int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), pl = s.pad_l();
  const int64_t CB = (C + kL - 1) / kL, Wp = (s.OW() - 1) * s.stride_w() + s.S();
  const int64_t ih_lo = std::max<int64_t>(0, oh0 * s.stride_h() - s.pad_t());
  const int64_t ih_hi = std::min(H, (oh1 - 1) * s.stride_h() - s.pad_t() + s.R());
  thread_local std::vector<float> buf;
  const size_t need = static_cast<size_t>(std::max<int64_t>(ih_hi - ih_lo, 1) * CB * Wp * kL);
  if (buf.size() < need) buf.resize(need);
  const int64_t c0 = std::min(pl, Wp), c1 = std::min(Wp, pl + W);  // slab columns read from x
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t ih = ih_lo; ih < ih_hi; ++ih) {
    const float* src = x + (n * H + ih) * W * C;
    for (int64_t cb = 0; cb < CB; ++cb) {
      float* dst = buf.data() + ((ih - ih_lo) * CB + cb) * Wp * kL;
      const __mmask16 m = tail_mask(C - cb * kL);
      for (int64_t j = 0; j < c0; ++j) _mm512_storeu_ps(dst + j * kL, zero);
      for (int64_t j = c0; j < c1; ++j)
        _mm512_storeu_ps(dst + j * kL, _mm512_maskz_loadu_ps(m, src + (j - pl) * C + cb * kL));
      for (int64_t j = std::max(c0, c1); j < Wp; ++j) _mm512_storeu_ps(dst + j * kL, zero);
    }
  }
  return {buf.data(), ih_lo, Wp, CB};
}

// ---- dense ----

// One tile: x at the slab row of kernel row 0 (first valid one), block 0, column of the first
// pixel's first tap; w at output block kb, kernel row of that slab row ([R][CB][S][16][16] per
// block, wbs apart). rows kernel rows are accumulated.
struct DenseTile {
  const float* x;
  int64_t xrs, xcs, rows, C, S;
  const float* w;
  int64_t wrs, wbs;
  const float* bias;
  float* y;
  int64_t K, kb, KB;
  __mmask16 last;
  const Epilogue* ep;
};

template <int NB, int T, int SW>
inline void dense_steps(__m512 (&acc)[NB][T], const float* x, const float* w, int64_t wbs, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    __m512 wv[NB];
    for (int j = 0; j < NB; ++j) {
      wv[j] = _mm512_loadu_ps(w + j * wbs + i * kL);
      asm("" : "+v"(wv[j]));  // keep it in a register: GCC would fold it into each FMA, T loads
    }
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_set1_ps(x[i + t * SW * kL]);
      for (int j = 0; j < NB; ++j) acc[j][t] = _mm512_fmadd_ps(wv[j], xv, acc[j][t]);
    }
  }
}

template <int NB, int T, int SW>
void dense_tile(const DenseTile& a) {
  __m512 acc[NB][T];
  for (int j = 0; j < NB; ++j) {
    const __m512 b = _mm512_loadu_ps(a.bias + j * kL);
    for (int t = 0; t < T; ++t) acc[j][t] = b;
  }
  const int64_t CB = (a.C + kL - 1) / kL;
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t cb = 0; cb < CB; ++cb) {
      const float* x = a.x + r * a.xrs + cb * a.xcs;  // index s·16 + c
      const float* w = a.w + r * a.wrs + cb * a.S * kL * kL;
      const int64_t cw = std::min(kL, a.C - cb * kL);
      if (cw == kL) {
        dense_steps<NB, T, SW>(acc, x, w, a.wbs, 0, a.S * kL);
      } else {
        for (int64_t s = 0; s < a.S; ++s) dense_steps<NB, T, SW>(acc, x, w, a.wbs, s * kL, s * kL + cw);
      }
    }
  for (int j = 0; j < NB; ++j) {
    const __mmask16 m = a.kb + j == a.KB - 1 ? a.last : __mmask16(0xFFFF);
    for (int t = 0; t < T; ++t) a.ep->store(a.y + t * a.K + j * kL, m, acc[j][t]);
  }
}

// Widest tile per block count: NB · T accumulators + NB weight vectors within 32 zmm.
constexpr int kMaxT[5] = {0, 16, 12, 8, 6};

using DenseTileFn = void (*)(const DenseTile&);

template <int NB, int SW, int... T>
constexpr std::array<DenseTileFn, sizeof...(T) + 1> dense_table(std::integer_sequence<int, T...>) {
  return {nullptr, &dense_tile<NB, T + 1, SW>...};
}
template <int NB, int SW>
constexpr auto kDenseTiles = dense_table<NB, SW>(std::make_integer_sequence<int, kMaxT[NB]>{});

template <int SW>
DenseTileFn dense_fn_sw(int nb, int64_t t) {
  switch (nb) {
    case 1: return kDenseTiles<1, SW>[static_cast<size_t>(t)];
    case 2: return kDenseTiles<2, SW>[static_cast<size_t>(t)];
    case 3: return kDenseTiles<3, SW>[static_cast<size_t>(t)];
    default: return kDenseTiles<4, SW>[static_cast<size_t>(t)];
  }
}
DenseTileFn dense_fn(int64_t sw, int nb, int64_t t) { return sw == 1 ? dense_fn_sw<1>(nb, t) : dense_fn_sw<2>(nb, t); }

void dense_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
                int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), K = s.K, R = s.R(), S = s.S(), OW = s.OW(), OH = s.OH();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t();
  const int64_t KB = (K + kL - 1) / kL;
  const Slab slab = make_slab(s, x, n, oh0, oh1);
  const __mmask16 last = tail_mask(K - (KB - 1) * kL);
  const int64_t wrs = slab.CB * S * kL * kL, wbs = R * wrs;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    const int64_t r0 = std::max<int64_t>(0, -ih0), r1 = std::min(R, H - ih0);
    float* yrow = y + (n * OH + oh) * OW * K;
    if (r1 <= r0) {  // every tap row in the padding: only bias and epilogue
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t kb = 0; kb < KB; ++kb)
          ep.store(yrow + ow * K + kb * kL, kb == KB - 1 ? last : __mmask16(0xFFFF), _mm512_loadu_ps(bias + kb * kL));
      continue;
    }
    const float* xrow = slab.data + (ih0 + r0 - slab.ih_lo) * slab.row_stride();
    for (int64_t kb = 0; kb < KB;) {
      const int nb = static_cast<int>(std::min<int64_t>(4, KB - kb));
      const int64_t tmax = kMaxT[nb], tiles = (OW + tmax - 1) / tmax, T = (OW + tiles - 1) / tiles;
      DenseTile a{nullptr, slab.row_stride(), slab.Wp * kL, r1 - r0, C, S, w + kb * wbs + r0 * wrs, wrs, wbs,
                  bias + kb * kL, nullptr, K, kb, KB, last, &ep};
      for (int64_t ow = 0; ow < OW; ow += T) {
        const int64_t t = std::min(T, OW - ow);
        a.x = xrow + ow * sw * kL;
        a.y = yrow + ow * K + kb * kL;
        dense_fn(sw, nb, t)(a);
      }
      kb += nb;
    }
  }
}

// ---- depthwise: x read in place ----
// 16 channels per vector, the output row split into a left border, an interior of tiles of up to
// kNB channel blocks × kT pixels whose taps all lie inside the row (each tap's weight vectors
// loaded once per tile, one input load per multiply-add), and a right border done pixel by pixel
// (kNB blocks at once, so even those are independent FMA chains) with the taps clipped to the
// image. Memory-bound at these sizes (MobileNet/EfficientNet/ShuffleNet: 1-25 MACs per loaded
// value), so it reads each input once per kernel row instead of copying it into a slab first.

constexpr int kNB = 4;  // channel blocks per tile: independent accumulator chains even for one pixel
constexpr int kT = 6;   // interior pixels per tile (kNB · kT accumulators + kNB weights < 32 zmm)

// What one output row of a group of channel blocks reads: x at its first valid kernel row and
// first block; w at the same kernel row of the first block ([R][S][16] per block, wbs apart).
struct DwRow {
  const float* x;
  int64_t rs, cs;  // between input rows (W·C) and input columns (C)
  int64_t rows, S, sw, pl;
  const float* w;
  int64_t wbs;
  const float* bias;
  __mmask16 last;  // mask of the group's last block (the channel tail, or all 16)
  float* y;        // output row, first block
  int64_t ys;      // between output pixels (C)
  const Epilogue* ep;
};

// NB blocks × T pixels from output column ow, tap columns [s0, s1) (the whole kernel in the
// interior, clipped to the image for a border pixel).
template <int NB, int T>
void dw_tile(const DwRow& a, int64_t ow, int64_t s0, int64_t s1) {
  __m512 acc[NB][T];
  __mmask16 m[NB];
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    m[j] = j == NB - 1 ? a.last : __mmask16(0xFFFF);
    const __m512 b = _mm512_loadu_ps(a.bias + j * kL);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[j][t] = b;
  }
  const int64_t cs = a.cs, rs = a.rs, S = a.S, rows = a.rows, ps = a.sw * cs, wbs = a.wbs;  // ps: between pixels
  const float* x0 = a.x + (ow * a.sw - a.pl) * cs;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t s = s0; s < s1; ++s) {
      const float* xs = x0 + r * rs + s * cs;
      const float* ws = a.w + (r * S + s) * kL;
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) {
        const __m512 wv = _mm512_loadu_ps(ws + j * wbs);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t)
          acc[j][t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[j], xs + t * ps + j * kL), wv, acc[j][t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) a.ep->store(a.y + (ow + t) * a.ys + j * kL, m[j], acc[j][t]);
}

using DwTileFn = void (*)(const DwRow&, int64_t, int64_t, int64_t);
template <int NB, int... T>
constexpr std::array<DwTileFn, sizeof...(T) + 1> tile_row(std::integer_sequence<int, T...>) {
  return {nullptr, &dw_tile<NB, T + 1>...};
}
template <int NB>
constexpr auto kTiles = tile_row<NB>(std::make_integer_sequence<int, kT>{});

DwTileFn tile_fn(int64_t nb, int64_t t) {
  switch (nb) {
    case 1: return kTiles<1>[static_cast<size_t>(t)];
    case 2: return kTiles<2>[static_cast<size_t>(t)];
    case 3: return kTiles<3>[static_cast<size_t>(t)];
    default: return kTiles<4>[static_cast<size_t>(t)];
  }
}

void dw_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
             int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), R = s.R(), S = s.S(), OW = s.OW(), OH = s.OH();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t(), pl = s.pad_l();
  const int64_t CB = (C + kL - 1) / kL;
  // Interior columns [lo, hi): the first with ow·sw ≥ pl, up to the last whose taps end by W.
  const int64_t lo = std::min(OW, (pl + sw - 1) / sw);
  const int64_t hi = std::max(lo, std::min(OW, W - S + pl >= 0 ? (W - S + pl) / sw + 1 : 0));
  const int64_t tiles = (hi - lo + kT - 1) / kT, T = tiles > 0 ? (hi - lo + tiles - 1) / tiles : 0;  // even tiles
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    const int64_t r0 = std::max<int64_t>(0, -ih0), r1 = std::min(R, H - ih0);
    const int64_t rows = std::max<int64_t>(0, r1 - r0);
    const float* xrow = x + (n * H + (rows > 0 ? ih0 + r0 : 0)) * W * C;
    for (int64_t cb = 0; cb < CB; cb += kNB) {
      const int64_t nb = std::min<int64_t>(kNB, CB - cb);
      const DwRow a{xrow + cb * kL, W * C, C, rows, S, sw, pl, w + (cb * R + r0) * S * kL, R * S * kL,
                    bias + cb * kL, tail_mask(C - (cb + nb - 1) * kL), y + ((n * OH + oh) * OW) * C + cb * kL, C,
                    &ep};
      const DwTileFn border = tile_fn(nb, 1);
      auto pixel = [&](int64_t ow) {  // tap columns clipped to [0, W)
        const int64_t iw0 = ow * sw - pl;
        border(a, ow, std::max<int64_t>(0, -iw0), std::min(S, W - iw0));
      };
      for (int64_t ow = 0; ow < lo; ++ow) pixel(ow);
      for (int64_t ow = lo; ow < hi; ow += T) tile_fn(nb, std::min(T, hi - ow))(a, ow, 0, S);
      for (int64_t ow = hi; ow < OW; ++ow) pixel(ow);
    }
  }
}

}  // namespace

void conv_direct_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep_in,
                      const float* x, float* y) {
  if (detail::direct_is_depthwise(s)) return conv_dw_nhwc(s, w, bias, ep_in, x, y);
  const Epilogue ep(ep_in);
  const int64_t OH = s.OH();
  // About 64k multiply-adds per task at least, so short rows are grouped.
  const int64_t row_macs = s.OW() * s.K * s.C * s.R() * s.S();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(row_macs, 1));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    while (r0 < r1) {  // split at image boundaries
      const int64_t n = r0 / OH, oh0 = r0 % OH, oh1 = std::min(OH, oh0 + (r1 - r0));
      dense_rows(s, w, bias, ep, x, y, n, oh0, oh1);
      r0 += oh1 - oh0;
    }
  });
}

void conv_dw_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep_in, const float* x,
                  float* y) {
  const Epilogue ep(ep_in);
  const int64_t OH = s.OH();
  // About 64k multiply-adds per task at least, so short rows are grouped.
  const int64_t row_macs = s.OW() * s.C * s.R() * s.S();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(row_macs, 1));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    while (r0 < r1) {  // split at image boundaries
      const int64_t n = r0 / OH, oh0 = r0 % OH, oh1 = std::min(OH, oh0 + (r1 - r0));
      dw_rows(s, w, bias, ep, x, y, n, oh0, oh1);
      r0 += oh1 - oh0;
    }
  });
}

}  // namespace lowbit::kernels::avx512
