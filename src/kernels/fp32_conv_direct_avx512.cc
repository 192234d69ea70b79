// AVX-512 fp32 direct convolution on channels-last activations (fp32_conv_direct.h), written by
// hand because no Debian-packaged library is fast here: on 16-64 channel and depthwise convs
// oneDNN 2.7's brgconv runs ~20 % behind ONNX Runtime's MLAS NCHWc kernels (docs/BENCHMARKS.md).
// Dense: NB blocks of 16 output channels × T output pixels of one row in zmm accumulators, one
// input value broadcast against NB weight vectors per step (the MLAS/oneDNN scheme); padding is
// resolved by copying the task's input rows into a zero-bordered slab, so a pixel's taps over
// (s, c) are one contiguous run. Depthwise: channels in the vector, T pixels per tile, taps
// looped, border pixels with their taps clipped. Bias, residual sum and ReLU/Clip fused.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "fp32_conv_direct.h"
#include "lowbit/core/threads.h"

// GCC 12 reports _mm512_undefined_ps inside its own max/min intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lowbit::kernels::avx512 {
namespace {

constexpr int64_t kL = detail::kDirectBlock;

__mmask16 tail_mask(int64_t n) { return n >= kL ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Epilogue of one output vector: residual (masked load), then ReLU or Clip, masked store.
struct Epilogue {
  bool sum;
  ConvEpilogue::Act act;
  __m512 lo, hi;
  explicit Epilogue(const ConvEpilogue& ep)
      : sum(ep.sum), act(ep.act), lo(_mm512_set1_ps(ep.lo)), hi(_mm512_set1_ps(ep.hi)) {}
  void store(float* y, __mmask16 m, __m512 v) const {
    if (sum) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
    if (act == ConvEpilogue::Act::relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == ConvEpilogue::Act::clip) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    _mm512_mask_storeu_ps(y, m, v);
  }
};

// ---- dense ----

// One tile: x points at the tile's first pixel, first tap, kernel row r0; xrs the slab's row
// stride, xps the stride between output pixels (stride_w · C), len = S · C (a pixel's taps in
// one kernel row are contiguous); w at block kb, kernel row r0 (wrs per row, wbs per block).
struct DenseTile {
  const float* x;
  int64_t xrs, xps, len, rows;
  const float* w;
  int64_t wrs, wbs;
  const float* bias;
  float* y;
  int64_t K, kb, KB;
  __mmask16 last;
  const Epilogue* ep;
};

template <int NB, int T>
void dense_tile(const DenseTile& a) {
  __m512 acc[NB][T];
  for (int j = 0; j < NB; ++j) {
    const __m512 b = _mm512_loadu_ps(a.bias + j * kL);
    for (int t = 0; t < T; ++t) acc[j][t] = b;
  }
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* xr = a.x + r * a.xrs;
    const float* wr = a.w + r * a.wrs;
    for (int64_t i = 0; i < a.len; ++i) {
      __m512 wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_ps(wr + j * a.wbs + i * kL);
      for (int t = 0; t < T; ++t) {
        const __m512 xv = _mm512_set1_ps(xr[t * a.xps + i]);
        for (int j = 0; j < NB; ++j) acc[j][t] = _mm512_fmadd_ps(wv[j], xv, acc[j][t]);
      }
    }
  }
  for (int j = 0; j < NB; ++j) {
    const __mmask16 m = a.kb + j == a.KB - 1 ? a.last : __mmask16(0xFFFF);
    for (int t = 0; t < T; ++t) a.ep->store(a.y + t * a.K + j * kL, m, acc[j][t]);
  }
}

// Widest tile per block count: NB · T accumulators + NB weight vectors stay within 32 zmm.
constexpr int kMaxT[5] = {0, 24, 12, 8, 6};

using DenseTileFn = void (*)(const DenseTile&);

template <int NB, int... T>
constexpr std::array<DenseTileFn, sizeof...(T) + 1> dense_table(std::integer_sequence<int, T...>) {
  return {nullptr, &dense_tile<NB, T + 1>...};
}
template <int NB>
constexpr auto kDenseTiles = dense_table<NB>(std::make_integer_sequence<int, kMaxT[NB]>{});

DenseTileFn dense_fn(int nb, int64_t t) {
  switch (nb) {
    case 1: return kDenseTiles<1>[static_cast<size_t>(t)];
    case 2: return kDenseTiles<2>[static_cast<size_t>(t)];
    case 3: return kDenseTiles<3>[static_cast<size_t>(t)];
    default: return kDenseTiles<4>[static_cast<size_t>(t)];
  }
}

// Per-thread zero-bordered copy of the input rows a task reads.
float* slab_buffer(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Output rows [row0, row1) of image n (flattened rows never span images here).
void dense_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
                int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), K = s.K, R = s.R(), S = s.S(), OW = s.OW();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t(), pl = s.pad_l();
  const int64_t KB = (K + kL - 1) / kL;
  // Columns the taps reach: [-pl, (OW-1)·sw - pl + S). Copy when any lies outside [0, W).
  const int64_t span = (OW - 1) * sw + S;
  const bool copy = pl > 0 || span - pl > W;
  const int64_t ih_lo = std::max<int64_t>(0, oh0 * sh - pt), ih_hi = std::min(H, (oh1 - 1) * sh - pt + R);
  const float* img = x + n * H * W * C;
  const float* base;  // slab row ih_lo, column of tap 0 of pixel 0
  int64_t xrs;
  if (copy) {
    xrs = span * C;
    float* buf = slab_buffer(static_cast<size_t>(std::max<int64_t>(ih_hi - ih_lo, 1) * xrs));
    for (int64_t ih = ih_lo; ih < ih_hi; ++ih) {
      float* row = buf + (ih - ih_lo) * xrs;
      const int64_t c0 = std::min(pl, span), c1 = std::min(span, pl + W);  // copied columns
      std::fill(row, row + c0 * C, 0.0f);
      if (c1 > c0) std::copy(img + ih * W * C, img + (ih * W + (c1 - c0)) * C, row + c0 * C);
      std::fill(row + std::max(c0, c1) * C, row + span * C, 0.0f);
    }
    base = buf;
  } else {
    xrs = W * C;
    base = img + ih_lo * xrs;
  }
  const __mmask16 last = tail_mask(K - (KB - 1) * kL);
  const int64_t wbs = R * S * C * kL, wrs = S * C * kL;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    const int64_t r0 = std::max<int64_t>(0, -ih0), r1 = std::min(R, H - ih0);
    if (r1 <= r0) {  // every tap row in the padding: only bias and epilogue
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t kb = 0; kb < KB; ++kb)
          ep.store(y + ((n * s.OH() + oh) * OW + ow) * K + kb * kL, kb == KB - 1 ? last : __mmask16(0xFFFF),
                   _mm512_loadu_ps(bias + kb * kL));
      continue;
    }
    const float* xrow = base + (ih0 + r0 - ih_lo) * xrs;
    float* yrow = y + (n * s.OH() + oh) * OW * K;
    for (int64_t kb = 0; kb < KB;) {
      const int nb = static_cast<int>(std::min<int64_t>(4, KB - kb));
      const int64_t tmax = kMaxT[nb], tiles = (OW + tmax - 1) / tmax, T = (OW + tiles - 1) / tiles;
      DenseTile a{nullptr, xrs, sw * C, S * C, r1 - r0, w + kb * wbs + r0 * wrs, wrs, wbs, bias + kb * kL,
                  nullptr, K, kb, KB, last, &ep};
      for (int64_t ow = 0; ow < OW; ow += T) {
        const int64_t t = std::min(T, OW - ow);
        a.x = xrow + ow * sw * C;
        a.y = yrow + ow * K + kb * kL;
        dense_fn(nb, t)(a);
      }
      kb += nb;
    }
  }
}

// ---- depthwise ----

// T pixels of one output row, one block of 16 channels; taps s in [s0, s1) of every pixel are
// inside the input (interior tiles: all of them; border pixels: T = 1 and clipped).
struct DwTile {
  const float* x;  // image, channel block cb
  int64_t W, C, ih0, r0, r1, iw0, sw, s0, s1, S;
  const float* w;  // block cb: [R][S][16]
  const float* bias;
  float* y;  // first pixel, channel block cb
  int64_t K;
  __mmask16 m;
  const Epilogue* ep;
};

template <int T>
void dw_tile(const DwTile& a) {
  __m512 acc[T];
  const __m512 b = _mm512_loadu_ps(a.bias);
  for (int t = 0; t < T; ++t) acc[t] = b;
  for (int64_t r = a.r0; r < a.r1; ++r) {
    const float* xr = a.x + ((a.ih0 + r) * a.W + a.iw0 + a.s0) * a.C;  // first tap inside the row
    for (int64_t s = a.s0; s < a.s1; ++s) {
      const __m512 wv = _mm512_loadu_ps(a.w + (r * a.S + s) * kL);
      for (int t = 0; t < T; ++t)
        acc[t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(a.m, xr + (t * a.sw + s - a.s0) * a.C), wv, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) a.ep->store(a.y + t * a.K, a.m, acc[t]);
}

constexpr int kDwT = 8;
using DwTileFn = void (*)(const DwTile&);
template <int... T>
constexpr std::array<DwTileFn, sizeof...(T) + 1> dw_table(std::integer_sequence<int, T...>) {
  return {nullptr, &dw_tile<T + 1>...};
}
constexpr auto kDwTiles = dw_table(std::make_integer_sequence<int, kDwT>{});

void dw_rows(const ConvGeom& s, const float* w, const float* bias, const Epilogue& ep, const float* x, float* y,
             int64_t n, int64_t oh0, int64_t oh1) {
  const int64_t C = s.C, H = s.H(), W = s.W(), R = s.R(), S = s.S(), OW = s.OW();
  const int64_t sh = s.stride_h(), sw = s.stride_w(), pt = s.pad_t(), pl = s.pad_l();
  const int64_t CB = (C + kL - 1) / kL;
  // Interior pixels [ow_lo, ow_hi): every tap column inside [0, W).
  const int64_t ow_lo = std::min(OW, (pl + sw - 1) / sw);
  const int64_t ow_hi = std::max(ow_lo, std::min(OW, W - S + pl >= 0 ? (W - S + pl) / sw + 1 : 0));
  const float* img = x + n * H * W * C;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih0 = oh * sh - pt;
    float* yrow = y + (n * s.OH() + oh) * OW * C;
    DwTile a{img, W, C, ih0, std::max<int64_t>(0, -ih0), std::min(R, H - ih0), 0, sw, 0, S, S, nullptr, nullptr,
             nullptr, C, 0, &ep};
    auto run = [&](int64_t ow, int64_t t, int64_t s0, int64_t s1) {
      a.iw0 = ow * sw - pl;
      a.s0 = s0, a.s1 = s1;
      for (int64_t cb = 0; cb < CB; ++cb) {
        a.x = img + cb * kL;
        a.w = w + cb * R * S * kL;
        a.bias = bias + cb * kL;
        a.y = yrow + ow * C + cb * kL;
        a.m = tail_mask(C - cb * kL);
        kDwTiles[static_cast<size_t>(t)](a);
      }
    };
    auto border = [&](int64_t ow) {
      const int64_t iw = ow * sw - pl;
      run(ow, 1, std::clamp<int64_t>(-iw, 0, S), std::clamp<int64_t>(W - iw, 0, S));
    };
    for (int64_t ow = 0; ow < ow_lo; ++ow) border(ow);
    for (int64_t ow = ow_lo; ow < ow_hi; ow += kDwT) run(ow, std::min<int64_t>(kDwT, ow_hi - ow), 0, S);
    for (int64_t ow = ow_hi; ow < OW; ++ow) border(ow);
  }
}

}  // namespace

void conv_direct_nhwc(const ConvGeom& s, const float* w, const float* bias, const ConvEpilogue& ep_in,
                      const float* x, float* y) {
  const Epilogue ep(ep_in);
  const bool dw = detail::direct_is_depthwise(s);
  const int64_t OH = s.OH();
  // About 64k multiply-adds per task at least, so short rows are grouped.
  const int64_t row_macs = s.OW() * s.K * (dw ? 1 : s.C) * s.R() * s.S();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(row_macs, 1));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    while (r0 < r1) {  // split at image boundaries
      const int64_t n = r0 / OH, oh0 = r0 % OH, oh1 = std::min(OH, oh0 + (r1 - r0));
      if (dw) dw_rows(s, w, bias, ep, x, y, n, oh0, oh1);
      else dense_rows(s, w, bias, ep, x, y, n, oh0, oh1);
      r0 += oh1 - oh0;
    }
  });
}

}  // namespace lowbit::kernels::avx512
