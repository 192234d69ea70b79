// im2col / col2im for QConv2d, one sample at a time. im2col reads a zero-padded copy of the
// sample (no bounds checks), or for same-size convs shifts each channel under a tap mask;
// col2im adds each tap's valid range of output columns [lo, hi) (those whose input column lies
// inside the image) to the unpadded gradient.
#include "conv_lowering.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/kernels/transpose.h"

namespace lowbit::fqt {
namespace {

struct ColRange {
  int64_t lo, hi;  // output columns ow in [lo, hi) read input column ow·stride - pad + s
};

ColRange valid_cols(const ConvGeom& g, int64_t s) {
  const int64_t before = conv_pad(g) - s;  // ow·stride >= pad - s
  const int64_t lo = before > 0 ? (before + conv_stride(g) - 1) / conv_stride(g) : 0;
  const int64_t last = g.W() - 1 + conv_pad(g) - s;  // ow·stride <= W - 1 + pad - s
  const int64_t hi = last < 0 ? 0 : std::min(g.OW(), last / conv_stride(g) + 1);
  return {std::min(lo, hi), hi};
}

// Zero-padded copy of one sample: (C, H + 2·pad, W + 2·pad), so that im2col reads without
// bounds checks.
void pad_sample(const ConvGeom& g, const int8_t* x, int8_t* xp) {
  const int64_t Hp = g.H() + 2 * conv_pad(g), Wp = g.W() + 2 * conv_pad(g);
  std::memset(xp, 0, static_cast<size_t>(g.C * Hp * Wp));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H(); ++h)
      std::memcpy(xp + (c * Hp + h + conv_pad(g)) * Wp + conv_pad(g), x + (c * g.H() + h) * g.W(), static_cast<size_t>(g.W()));
}

// d[0, n) += s[0, n): eight-wide pieces the compiler turns into vector adds, then a tail.
void add_row(float* __restrict d, const float* __restrict s, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int64_t j = 0; j < 8; ++j) d[i + j] += s[i + j];
  for (; i < n; ++i) d[i] += s[i];
}

// Stride 1 with the output as large as the input (R = S = 2·pad + 1): position l = oh·W + ow
// of tap (r, s) reads input cell l + delta of its channel, delta = (r - pad)·W + (s - pad), so
// a tap's valid positions lie in one flat run [first, last). Inside the run, the positions whose
// column falls off the image (the first or last |s - pad| columns of each row) map to cells
// of the neighbouring row: the tap's mask leaves them out.
bool same_size(const ConvGeom& g) { return conv_stride(g) == 1 && g.OH() == g.H() && g.OW() == g.W(); }

struct TapRun {
  int64_t oh_lo, oh_hi;  // output rows whose input row is inside the image
  ColRange cols;
  int64_t first, last, delta;
  bool empty() const { return oh_lo >= oh_hi || cols.lo >= cols.hi; }
};

TapRun tap_run(const ConvGeom& g, int64_t r, int64_t s) {
  TapRun t{std::max<int64_t>(0, conv_pad(g) - r), std::min(g.OH(), g.H() + conv_pad(g) - r), valid_cols(g, s), 0, 0, 0};
  t.first = t.oh_lo * g.W() + t.cols.lo;
  t.last = (t.oh_hi - 1) * g.W() + t.cols.hi;
  t.delta = (r - conv_pad(g)) * g.W() + (s - conv_pad(g));
  return t;
}

// The R·S taps' runs (the same for every channel), index r·S + s.
std::vector<TapRun> tap_runs(const ConvGeom& g) {
  std::vector<TapRun> t(static_cast<size_t>(g.R() * g.S()));
  for (int64_t r = 0; r < g.R(); ++r)
    for (int64_t s = 0; s < g.S(); ++s) t[static_cast<size_t>(r * g.S() + s)] = tap_run(g, r, s);
  return t;
}

}  // namespace

void require_lowerable(const ConvGeom& g) {
  LOWBIT_REQUIRE(g.rank == 2 && g.groups == 1 && g.dil_h() == 1 && g.dil_w() == 1, "quantized_conv2d",
                 "lowers only 2-d convolutions with one group and dilation 1, got rank {} groups {} dilation {}x{}",
                 g.rank, g.groups, g.dil_h(), g.dil_w());
  LOWBIT_REQUIRE(g.stride_h() == g.stride_w() && g.stride_h() >= 1, "quantized_conv2d",
                 "lowers only one positive stride for both axes, got {}x{}", g.stride_h(), g.stride_w());
  LOWBIT_REQUIRE(g.symmetric() && g.pad_t() == g.pad_l() && g.pad_t() >= 0, "quantized_conv2d",
                 "lowers only one non-negative pad for all four sides, got top {} left {} bottom {} right {}", g.pad_t(),
                 g.pad_l(), g.pad_b(), g.pad_r());
}

void im2col_rows_i8(const ConvGeom& g, const int8_t* x, int8_t* padded, int8_t* out) {
  pad_sample(g, x, padded);
  const int64_t Hp = g.H() + 2 * conv_pad(g), Wp = g.W() + 2 * conv_pad(g), OW = g.OW(), L = positions(g);
  const int64_t pieces = (OW + kIm2colSlack - 1) / kIm2colSlack * kIm2colSlack;
  int8_t* const piece_end = out + patch_rows(g) * L - pieces;  // rows starting after it are copied exactly
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R(); ++r)
      for (int64_t s = 0; s < g.S(); ++s) {
        int8_t* row = out + ((c * g.R() + r) * g.S() + s) * L;
        const int8_t* plane = padded + (c * Hp + r) * Wp + s;
        for (int64_t oh = 0; oh < g.OH(); ++oh) {
          const int8_t* src = plane + oh * conv_stride(g) * Wp;
          int8_t* d = row + oh * OW;
          if (conv_stride(g) != 1) {
            for (int64_t ow = 0; ow < OW; ++ow) d[ow] = src[ow * conv_stride(g)];
          } else if (d > piece_end) {
            std::memcpy(d, src, static_cast<size_t>(OW));
          } else {
            // Whole 32-byte pieces (one vector load and store each): the last piece may run
            // past this row into ones written later (rows go in increasing address order),
            // and may read up to kIm2colSlack - 1 bytes past the padded sample.
            for (int64_t i = 0; i < OW; i += kIm2colSlack) std::memcpy(d + i, src + i, kIm2colSlack);
          }
        }
      }
}

void col2im_rows_add(const ConvGeom& g, float* dcol, float* dx) {
  const int64_t L = positions(g);
  std::vector<ColRange> cols(static_cast<size_t>(g.S()));
  for (int64_t s = 0; s < g.S(); ++s) cols[static_cast<size_t>(s)] = valid_cols(g, s);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = g.R() - 1; r >= 0; --r)
      for (int64_t s = g.S() - 1; s >= 0; --s) {
        const float* row = dcol + ((c * g.R() + r) * g.S() + s) * L;
        const ColRange cr = cols[static_cast<size_t>(s)];
        for (int64_t oh = 0; oh < g.OH(); ++oh) {
          const int64_t ih = oh * conv_stride(g) - conv_pad(g) + r;
          if (ih < 0 || ih >= g.H()) continue;
          float* d = dx + (c * g.H() + ih) * g.W() + (cr.lo * conv_stride(g) - conv_pad(g) + s);
          const float* src = row + oh * g.OW();
          if (conv_stride(g) == 1) {
            add_row(d, src + cr.lo, cr.hi - cr.lo);
          } else {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) d[(ow - cr.lo) * conv_stride(g)] += src[ow];
          }
        }
      }
}

bool col2im_fusable(const ConvGeom& g) { return same_size(g); }

TapMasks tap_masks(const ConvGeom& g) {
  const int64_t RS = g.R() * g.S(), L = positions(g), words = (L + 63) / 64;
  const std::vector<TapRun> runs = tap_runs(g);
  TapMasks tm;
  tm.mask.assign(static_cast<size_t>(RS), std::vector<uint64_t>(static_cast<size_t>(words), 0));
  for (int64_t t = 0; t < RS; ++t) {
    const TapRun& run = runs[static_cast<size_t>(t)];
    tm.delta.push_back(run.delta);
    if (run.empty()) continue;
    std::vector<uint64_t>& m = tm.mask[static_cast<size_t>(t)];
    for (int64_t l = run.first; l < run.last; ++l)
      if (l % g.W() >= run.cols.lo && l % g.W() < run.cols.hi) m[static_cast<size_t>(l / 64)] |= uint64_t{1} << (l % 64);
  }
  return tm;
}

void im2col_rows_i8(const ConvGeom& g, const TapMasks& taps, const int8_t* x, int8_t* out) {
  const int64_t RS = g.R() * g.S(), L = positions(g), HW = g.H() * g.W();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t t = 0; t < RS; ++t)
      kernels::shifted_copy_i8(L, x + c * HW, taps.delta[static_cast<size_t>(t)], taps.mask[static_cast<size_t>(t)].data(),
                               out + (c * RS + t) * L);
}

Col2imScatter col2im_scatter(const ConvGeom& g) {
  const int64_t RS = g.R() * g.S();
  Col2imScatter sc;
  sc.taps = tap_masks(g);
  // Tap-major: consecutive GEMM rows add to different channels, so that a row's loads of dx
  // do not wait on the previous row's stores to the same, one element shifted, cells.
  for (int64_t t = RS - 1; t >= 0; --t)
    for (int64_t c = 0; c < g.C; ++c) {
      sc.row.push_back(c * RS + t);
      sc.offset.push_back(c * g.H() * g.W() + sc.taps.delta[static_cast<size_t>(t)]);
      sc.mask.push_back(sc.taps.mask[static_cast<size_t>(t)].data());
    }
  return sc;
}

}  // namespace lowbit::fqt
