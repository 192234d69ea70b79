// Reference max and average pooling, forward and backward, by direct loops over each window.
// Windows are clipped to the input (padding is never a candidate for the max and is not
// counted by the average); pad < kernel size guarantees every window keeps one element.
#include <algorithm>
#include <limits>
#include <cstddef>
#include <vector>

#include "lowbit/kernels/fp32_ref.h"

namespace lowbit::kernels::ref {
namespace {

// In-bounds window [h0,h1) x [w0,w1) of output (oh, ow).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};

Window window(const ConvGeom& s, int64_t oh, int64_t ow) {
  const int64_t hs = oh * s.stride_h() - s.pad_t(), ws = ow * s.stride_w() - s.pad_l();
  return {std::max<int64_t>(hs, 0), std::min<int64_t>(hs + s.R(), s.H()), std::max<int64_t>(ws, 0),
          std::min<int64_t>(ws + s.S(), s.W())};
}

}  // namespace

template <typename T>
void maxpool2d_forward(const ConvGeom& s, const T* x, T* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t p = 0; p < s.N * s.C; ++p) {
    const T* xp = x + p * s.H() * s.W();
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, oh, ow);
        T best = std::numeric_limits<T>::lowest();  // seeded by the window's first element
        int32_t best_i = -1;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            // Strict '>' keeps the first maximum in row-major order on ties.
            if (best_i < 0 || xp[h * s.W() + w] > best) {
              best = xp[h * s.W() + w];
              best_i = static_cast<int32_t>(h * s.W() + w);
            }
          }
        y[(p * OH + oh) * OW + ow] = best;
        argmax[(p * OH + oh) * OW + ow] = best_i;
      }
  }
}

template <typename T>
void maxpool2d_backward(const ConvGeom& s, const T* dy, const int32_t* argmax, T* dx) {
  const int64_t plane = s.OH() * s.OW();
  std::vector<double> acc(s.N * s.C * s.H() * s.W(), 0.0);
  for (int64_t p = 0; p < s.N * s.C; ++p)
    for (int64_t i = 0; i < plane; ++i)
      if (argmax[p * plane + i] >= 0) acc[p * s.H() * s.W() + argmax[p * plane + i]] += dy[p * plane + i];
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<T>(acc[i]);
}

template <typename T>
void avgpool2d_forward(const ConvGeom& s, const T* x, T* y) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t p = 0; p < s.N * s.C; ++p) {
    const T* xp = x + p * s.H() * s.W();
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, oh, ow);
        double sum = 0;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) sum += xp[h * s.W() + w];
        y[(p * OH + oh) * OW + ow] = static_cast<T>(win.count() > 0 ? sum / double(win.count()) : 0.0);
      }
  }
}

// Each output spreads dy / count evenly over the in-bounds elements of its window.
template <typename T>
void avgpool2d_backward(const ConvGeom& s, const T* dy, T* dx) {
  const int64_t OH = s.OH(), OW = s.OW();
  std::vector<double> acc(s.N * s.C * s.H() * s.W(), 0.0);
  for (int64_t p = 0; p < s.N * s.C; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Window win = window(s, oh, ow);
        if (win.count() == 0) continue;
        const double g = double(dy[(p * OH + oh) * OW + ow]) / double(win.count());
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) acc[(p * s.H() + h) * s.W() + w] += g;
      }
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<T>(acc[i]);
}

template decltype(maxpool2d_forward<float>) maxpool2d_forward<float>;
template decltype(maxpool2d_forward<double>) maxpool2d_forward<double>;
template decltype(maxpool2d_forward<uint8_t>) maxpool2d_forward<uint8_t>;  // pooling of quantized codes
template decltype(maxpool2d_forward<int8_t>) maxpool2d_forward<int8_t>;
template decltype(maxpool2d_backward<float>) maxpool2d_backward<float>;
template decltype(maxpool2d_backward<double>) maxpool2d_backward<double>;
template decltype(avgpool2d_forward<float>) avgpool2d_forward<float>;
template decltype(avgpool2d_forward<double>) avgpool2d_forward<double>;
template decltype(avgpool2d_backward<float>) avgpool2d_backward<float>;
template decltype(avgpool2d_backward<double>) avgpool2d_backward<double>;

}  // namespace lowbit::kernels::ref
