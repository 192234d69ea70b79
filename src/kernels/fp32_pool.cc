// Fast max/average pooling: the reference loops in float, one (n, c) plane per task. Planes
// are independent and each is walked in a fixed order, so results do not depend on the thread
// count. Windows are clipped to the input exactly as in the reference.
#include <algorithm>
#include <cstring>
#include <limits>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {
namespace {

struct Window {
  int64_t h0, h1, w0, w1;
};

inline Window window(const Pool2dShape& s, int64_t oh, int64_t ow) {
  const int64_t hs = oh * s.stride_h - s.pad_h, ws = ow * s.stride_w - s.pad_w;
  return {std::max<int64_t>(hs, 0), std::min<int64_t>(hs + s.kh, s.H), std::max<int64_t>(ws, 0),
          std::min<int64_t>(ws + s.kw, s.W)};
}

// Planes per task: enough work per task to amortise the dispatch (about 4K input elements).
int64_t plane_grain(const Pool2dShape& s) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.H * s.W)); }

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H * s.W;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(s, oh, ow);
          float best = -std::numeric_limits<float>::infinity();
          int32_t best_i = -1;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) {
              const float v = xp[h * s.W + w];
              if (best_i < 0 || v > best) {  // first maximum wins ties, as in the reference
                best = v;
                best_i = static_cast<int32_t>(h * s.W + w);
              }
            }
          y[(p * OH + oh) * OW + ow] = best;
          argmax[(p * OH + oh) * OW + ow] = best_i;
        }
    }
  });
}

void maxpool2d_forward_nhwc(const Pool2dShape& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OW * C));
  parallel_for(s.N * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / OH, oh = r % OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, oh, ow);
        float* yp = y + (r * OW + ow) * C;
        // Same visiting order per channel as the reference (the first element seeds the max),
        // so ties and NaNs resolve identically. Windows are never empty (pad < kernel).
        std::copy_n(x + ((n * s.H + win.h0) * s.W + win.w0) * C, C, yp);
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            if (h == win.h0 && w == win.w0) continue;
            const float* xp = x + ((n * s.H + h) * s.W + w) * C;
            for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
          }
      }
    }
  });
}

void maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t plane = s.OH() * s.OW(), HW = s.H * s.W;
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dxp = dx + p * HW;
      std::memset(dxp, 0, sizeof(float) * HW);
      for (int64_t i = 0; i < plane; ++i)
        if (argmax[p * plane + i] >= 0) dxp[argmax[p * plane + i]] += dy[p * plane + i];
    }
  });
}

void avgpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW();
  parallel_for(s.N * s.C, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * s.H * s.W;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const Window win = window(s, oh, ow);
          const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
          float sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) sum += xp[h * s.W + w];
          y[(p * OH + oh) * OW + ow] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
        }
    }
  });
}

void avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), HW = s.H * s.W;
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
            for (int64_t w = win.w0; w < win.w1; ++w) dxp[h * s.W + w] += g;
        }
    }
  });
}

}  // namespace lowbit::kernels
