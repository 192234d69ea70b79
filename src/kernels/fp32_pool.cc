// Fast max/average pooling (float, and max pooling of int8/uint8 codes): the reference loops,
// one (n, c) plane per task. Planes
// are independent and each is walked in a fixed order, so results do not depend on the thread
// count. Windows are clipped to the input exactly as in the reference.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_nhwc.h"

namespace lowbit::kernels {
namespace {

struct Window {
  int64_t h0, h1, w0, w1;
};

inline Window window(const ConvGeom& s, int64_t oh, int64_t ow) {
  const int64_t hs = oh * s.stride_h() - s.pad_t(), ws = ow * s.stride_w() - s.pad_l();
  return {std::max<int64_t>(hs, 0), std::min<int64_t>(hs + s.R(), s.H()), std::max<int64_t>(ws, 0),
          std::min<int64_t>(ws + s.S(), s.W())};
}

// Planes per task: enough work per task to amortise the dispatch (about 4K input elements).
int64_t plane_grain(const ConvGeom& s) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.H() * s.W())); }

}  // namespace

void maxpool2d_forward(const ConvGeom& s, const float* x, float* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H() * s.W();
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(s, oh, ow);
          float best = -std::numeric_limits<float>::infinity();
          int32_t best_i = -1;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) {
              const float v = xp[h * s.W() + w];
              if (best_i < 0 || v > best) {  // first maximum wins ties, as in the reference
                best = v;
                best_i = static_cast<int32_t>(h * s.W() + w);
              }
            }
          y[(p * OH + oh) * OW + ow] = best;
          argmax[(p * OH + oh) * OW + ow] = best_i;
        }
    }
  });
}

namespace {

// Channels-last, float: each output pixel folds its window's taps for a block of B channels in a
// local array the compiler keeps in registers (B/8 ymm), so a tap costs its loads and max ops and
// y is stored once (folding into y itself stored and reloaded it per tap: 2.5× ONNX Runtime's time
// on the ParaDnn stem pool). Same visiting order per channel as the reference, the first tap
// seeding the max and strict '>' (the seed compared with itself changes nothing, NaN included), so
// ties, NaNs and signed zeros resolve identically. `x` is the image's (H, W, C) plane at the block.
template <int B>
inline void fold_window_block(const ConvGeom& s, const Window& win, const float* x, float* __restrict y) {
  const int64_t W = s.W(), C = s.C;
  float acc[B];
  const float* seed = x + (win.h0 * W + win.w0) * C;
  for (int j = 0; j < B; ++j) acc[j] = seed[j];
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w) {
      const float* __restrict xp = x + (h * W + w) * C;
      for (int j = 0; j < B; ++j) acc[j] = xp[j] > acc[j] ? xp[j] : acc[j];
    }
  for (int j = 0; j < B; ++j) y[j] = acc[j];
}

void maxpool_nhwc(const ConvGeom& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OW * C));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xi = x + (r / OH) * s.H() * s.W() * C;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, r % OH, ow);  // never empty (pad < kernel)
        float* yp = y + (r * OW + ow) * C;
        int64_t c = 0;
        for (; c + 64 <= C; c += 64) fold_window_block<64>(s, win, xi + c, yp + c);
        if (c + 32 <= C) fold_window_block<32>(s, win, xi + c, yp + c), c += 32;
        if (c + 16 <= C) fold_window_block<16>(s, win, xi + c, yp + c), c += 16;
        if (c + 8 <= C) fold_window_block<8>(s, win, xi + c, yp + c), c += 8;
        for (; c < C; ++c) fold_window_block<1>(s, win, xi + c, yp + c);
      }
    }
  });
}

// dst[i] = max(dst[i], src[i]) for n elements; whole 16-element blocks go through a fixed-width
// loop the compiler turns into single vector ops (short channel counts defeat its loop
// vectorizer, and char-typed pointers would alias everything without __restrict).
template <typename T>
inline void max_into(T* __restrict dst, const T* __restrict src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) dst[i + j] = src[i + j] > dst[i + j] ? src[i + j] : dst[i + j];
  for (; i < n; ++i) dst[i] = src[i] > dst[i] ? src[i] : dst[i];
}

// Integer codes: a separable max — the window's rows folded into one row buffer, then each
// output folds its columns from it. Exact, because integer max is associative and commutative
// (float pooling keeps the reference's visiting order for NaNs and signed zeros, above).
// `pix` is the run of elements per pixel: 1 for NCHW planes, C for channels-last rows.
// `row` holds 2·W·pix elements: the folded rows, then (NCHW) the running max of kw neighbours.
template <typename T>
void fold_rows_then_columns(const ConvGeom& s, const T* plane, int64_t pix, int64_t oh, T* row, T* out) {
  const int64_t W = s.W(), OW = s.OW();
  const Window rows = window(s, oh, 0);
  std::copy_n(plane + rows.h0 * W * pix, W * pix, row);
  for (int64_t h = rows.h0 + 1; h < rows.h1; ++h) max_into(row, plane + h * W * pix, W * pix);
  if (pix == 1 && W >= s.S()) {
    // One element per pixel: nb[w] = max(row[w .. w+kw)) in kw whole-row passes, then each
    // output whose window lies inside the row picks nb at its start; the edges fold directly.
    T* nb = row + W;
    const int64_t span = W - s.S() + 1;
    std::copy_n(row, span, nb);
    for (int64_t j = 1; j < s.S(); ++j) max_into(nb, row + j, span);
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t ws = ow * s.stride_w() - s.pad_l();
      if (ws >= 0 && ws + s.S() <= W) {
        out[ow] = nb[ws];
        continue;
      }
      const int64_t w0 = std::max<int64_t>(ws, 0), w1 = std::min<int64_t>(ws + s.S(), W);
      T best = row[w0];
      for (int64_t w = w0 + 1; w < w1; ++w) best = row[w] > best ? row[w] : best;
      out[ow] = best;
    }
    return;
  }
  for (int64_t ow = 0; ow < OW; ++ow) {
    const int64_t ws = ow * s.stride_w() - s.pad_l();
    const int64_t w0 = std::max<int64_t>(ws, 0), w1 = std::min<int64_t>(ws + s.S(), W);
    T* o = out + ow * pix;
    std::copy_n(row + w0 * pix, pix, o);
    for (int64_t w = w0 + 1; w < w1; ++w) max_into(o, row + w * pix, pix);
  }
}

template <typename T>
void maxpool_codes_nchw(const ConvGeom& s, const T* x, T* y) {
  const int64_t OH = s.OH(), OW = s.OW();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    std::vector<T> row(static_cast<size_t>(2 * s.W()));
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t oh = 0; oh < OH; ++oh)
        fold_rows_then_columns(s, x + p * s.H() * s.W(), 1, oh, row.data(), y + (p * OH + oh) * OW);
  });
}

template <typename T>
void maxpool_codes_nhwc(const ConvGeom& s, const T* x, T* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.W() * C));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    std::vector<T> row(static_cast<size_t>(2 * s.W() * C));
    for (int64_t r = r0; r < r1; ++r)
      fold_rows_then_columns(s, x + (r / OH) * s.H() * s.W() * C, C, r % OH, row.data(), y + r * OW * C);
  });
}

// Float inference max pooling, NCHW, without the argmax: per output row, the columns whose
// window lies inside the image apply each tap in the reference's order (row-major, the first
// tap seeding the max, strict '>' so ties and NaNs resolve identically) across the whole row at
// once, which vectorizes along W for stride 1; border columns fold their clipped window one by one.
void maxpool_f32_nchw(const ConvGeom& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), W = s.W(), sw = s.stride_w(), pw = s.pad_l(), kw = s.S();
  int64_t lo = (pw + sw - 1) / sw, hi = W - kw + pw;  // interior: ow*sw - pw >= 0 and + kw <= W
  hi = hi < 0 ? 0 : std::min<int64_t>(OW, hi / sw + 1);
  lo = std::min<int64_t>(lo, hi);
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H() * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* __restrict o = y + (p * OH + oh) * OW;
        const Window rows = window(s, oh, 0);
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (ow == lo) ow = hi;  // interior columns below
          if (ow >= OW) break;
          const Window win = window(s, oh, ow);
          float best = xp[win.h0 * W + win.w0];
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) {
              const float v = xp[h * W + w];
              best = v > best ? v : best;  // the seed compares with itself: no change
            }
          o[ow] = best;
        }
        if (lo >= hi) continue;
        const float* seed = xp + rows.h0 * W - pw;
        for (int64_t ow = lo; ow < hi; ++ow) o[ow] = seed[ow * sw];
        for (int64_t h = rows.h0; h < rows.h1; ++h)
          for (int64_t t = 0; t < kw; ++t) {
            if (h == rows.h0 && t == 0) continue;
            const float* __restrict xr = xp + h * W - pw + t;
            if (sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) o[ow] = xr[ow] > o[ow] ? xr[ow] : o[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) o[ow] = xr[ow * sw] > o[ow] ? xr[ow * sw] : o[ow];
            }
          }
      }
    }
  });
}

}  // namespace

void maxpool2d_forward_nhwc(const ConvGeom& s, const float* x, float* y) { maxpool_nhwc(s, x, y); }
void maxpool2d_forward_nhwc(const ConvGeom& s, const uint8_t* x, uint8_t* y) { maxpool_codes_nhwc(s, x, y); }
void maxpool2d_forward_nhwc(const ConvGeom& s, const int8_t* x, int8_t* y) { maxpool_codes_nhwc(s, x, y); }
void maxpool2d_infer(const ConvGeom& s, const float* x, float* y) { maxpool_f32_nchw(s, x, y); }
void maxpool2d_infer(const ConvGeom& s, const uint8_t* x, uint8_t* y) { maxpool_codes_nchw(s, x, y); }
void maxpool2d_infer(const ConvGeom& s, const int8_t* x, int8_t* y) { maxpool_codes_nchw(s, x, y); }

void maxpool2d_backward(const ConvGeom& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t plane = s.OH() * s.OW(), HW = s.H() * s.W();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dxp = dx + p * HW;
      std::memset(dxp, 0, sizeof(float) * HW);
      for (int64_t i = 0; i < plane; ++i)
        if (argmax[p * plane + i] >= 0) dxp[argmax[p * plane + i]] += dy[p * plane + i];
    }
  });
}

void avgpool2d_forward(const ConvGeom& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H() * s.W();
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(s, oh, ow);
          const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
          float sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) sum += xp[h * s.W() + w];
          y[(p * OH + oh) * OW + ow] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
        }
    }
  });
}

void avgpool2d_forward_nhwc(const ConvGeom& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OW * C));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / OH, oh = r % OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, oh, ow);
        const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
        float* __restrict yp = y + (r * OW + ow) * C;
        std::fill_n(yp, C, 0.0f);  // the reference's sum starts at 0 and adds h-major, as here
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const float* __restrict xp = x + ((n * s.H() + h) * s.W() + w) * C;
            for (int64_t c = 0; c < C; ++c) yp[c] += xp[c];
          }
        const float denom = static_cast<float>(count);
        for (int64_t c = 0; c < C; ++c) yp[c] = count > 0 ? yp[c] / denom : 0.0f;
      }
    }
  });
}

void avgpool2d_backward(const ConvGeom& s, const float* dy, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), HW = s.H() * s.W();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dxp = dx + p * HW;
      std::memset(dxp, 0, sizeof(float) * HW);
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(s, oh, ow);
          const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
          if (count == 0) continue;
          const float g = dy[(p * OH + oh) * OW + ow] / static_cast<float>(count);
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) dxp[h * s.W() + w] += g;
        }
    }
  });
}

}  // namespace lowbit::kernels
