// Resize of resize.h: the taps of each axis from the ONNX reference's rules, then two paths —
// images whose leading axes are untouched (N, C) run plane by plane over precomputed H and W
// taps (a plain gather when every tap is a single weight-1 one, as nearest resizing is),
// anything else walks the taps recursively with the last output axis split over threads. Both
// evaluate the reference's sums in its order, so the results are bitwise ref::resize's.
#include "lowbit/kernels/resize.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "lowbit/core/threads.h"
#include "resize_impl.h"

namespace lowbit::kernels {
namespace {

// The reference's weights for a fractional position r in (0, 1] (r = 1 at integer positions).
std::vector<double> coeffs(const ResizeAxisSpec& s, double r) {
  if (s.mode == ResizeMode::linear) return {1 - r, r};
  if (s.mode == ResizeMode::cubic) {
    const double a = s.cubic_a, t = 1 - r;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * t - (a + 3)) * t * t + 1, ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a};
  }
  if (r == 1) return {0, 1};
  switch (s.nearest) {
    case NearestRounding::round_prefer_floor: return {r <= 0.5 ? 1.0 : 0.0, r > 0.5 ? 1.0 : 0.0};
    case NearestRounding::round_prefer_ceil: return {r < 0.5 ? 1.0 : 0.0, r >= 0.5 ? 1.0 : 0.0};
    case NearestRounding::floor: return {1, 0};
    case NearestRounding::ceil: return {0, 1};
  }
  return {0, 1};
}

// Output o's source coordinate; false when tf_crop_and_resize puts it outside the input.
bool source_coord(const ResizeAxisSpec& s, int64_t o, double& src) {
  const auto x = static_cast<double>(o), in = static_cast<double>(s.in);
  const double len = in * s.scale;  // the reference's output length (align_corners depends on it)
  switch (s.coords) {
    case ResizeCoords::half_pixel: src = (x + 0.5) / s.scale - 0.5; break;
    case ResizeCoords::pytorch_half_pixel: src = len > 1 ? (x + 0.5) / s.scale - 0.5 : 0; break;
    case ResizeCoords::align_corners: src = len == 1 ? 0 : x * (in - 1) / (len - 1); break;
    case ResizeCoords::asymmetric: src = x / s.scale; break;
    case ResizeCoords::tf_half_pixel_for_nn: src = (x + 0.5) / s.scale; break;
    case ResizeCoords::tf_crop_and_resize: {
      const double span = in - 1;
      src = len > 1 ? s.roi_start * span + x * (s.roi_end - s.roi_start) * span / (len - 1)
                    : 0.5 * (s.roi_start + s.roi_end) * span;
      return src >= 0 && src <= span;
    }
  }
  return true;
}

template <typename T>
void plane_gather(int64_t planes, int64_t IH, int64_t IW, int64_t OH, int64_t OW, const ResizeTaps& th,
                  const ResizeTaps& tw, const T* x, T* y) {
  parallel_for(planes * OH, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, OW)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t p = r / OH, oh = r % OH;
      const T* src = x + (p * IH + th.index[static_cast<size_t>(th.first[static_cast<size_t>(oh)])]) * IW;
      T* dst = y + r * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const T v = src[tw.index[static_cast<size_t>(tw.first[static_cast<size_t>(ow)])]];
        if constexpr (std::is_floating_point_v<T>) dst[ow] = v + T(0);  // the reference's 0 + 1·x: -0 -> +0
        else dst[ow] = v;
      }
    }
  });
}

template <typename T>
void plane_taps(int64_t planes, int64_t IH, int64_t IW, int64_t OH, int64_t OW, bool outer_axes, const ResizeTaps& th,
                const ResizeTaps& tw, double extrapolation, const T* x, T* y) {
  parallel_for(planes * OH, std::max<int64_t>(1, 1024 / std::max<int64_t>(1, OW)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t p = r / OH;
      const auto oh = static_cast<size_t>(r % OH);
      const T* plane = x + p * IH * IW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const auto o = static_cast<size_t>(ow);
        double vh = extrapolation;
        if (!th.outside[oh]) {
          vh = 0;
          for (int32_t a = 0; a < th.count[oh]; ++a) {
            const auto ja = static_cast<size_t>(th.first[oh] + a);
            double vw = extrapolation;
            if (!tw.outside[o]) {
              vw = 0;
              const T* row = plane + th.index[ja] * IW;
              for (int32_t b = 0; b < tw.count[o]; ++b) {
                const auto jb = static_cast<size_t>(tw.first[o] + b);
                vw += tw.weight[jb] * static_cast<double>(row[tw.index[jb]]);
              }
            }
            vh += th.weight[ja] * vw;
          }
        }
        y[r * OW + ow] = detail::resize_store<T>(outer_axes ? 0.0 + vh : vh);
      }
    }
  });
}

template <typename T>
void general(const Shape& in, const Shape& out, std::span<const ResizeTaps> taps, double extrapolation, const T* x, T* y) {
  const size_t rank = in.size();
  std::vector<int64_t> st(rank, 1);
  for (size_t d = rank; d-- > 1;) st[d - 1] = st[d] * in[d];
  const int64_t row = out[rank - 1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d) rows *= out[d];
  parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, row)), [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> pos(rank, 0);
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r;
      for (size_t d = rank - 1; d-- > 0;) pos[d] = rem % out[d], rem /= out[d];
      for (int64_t c = 0; c < row; ++c) {
        pos[rank - 1] = c;
        y[r * row + c] = detail::resize_store<T>(detail::resize_point<T>(taps, st, pos, extrapolation, x));
      }
    }
  });
}

bool single_unit_taps(const ResizeTaps& t) {
  for (size_t o = 0; o < t.count.size(); ++o)
    if (t.outside[o] || t.count[o] != 1 || t.weight[static_cast<size_t>(t.first[o])] != 1.0) return false;
  return true;
}

}  // namespace

bool ResizeTaps::identity() const {
  if (in != static_cast<int64_t>(count.size())) return false;
  for (size_t o = 0; o < count.size(); ++o)
    if (outside[o] || count[o] != 1 || index[static_cast<size_t>(first[o])] != static_cast<int64_t>(o) ||
        weight[static_cast<size_t>(first[o])] != 1.0)
      return false;
  return true;
}

ResizeTaps resize_taps(const ResizeAxisSpec& s) {
  ResizeTaps t;
  t.in = s.in;
  const auto n = static_cast<size_t>(s.out);
  t.first.assign(n, 0);
  t.count.assign(n, 0);
  t.outside.assign(n, 0);
  for (int64_t o = 0; o < s.out; ++o) {
    const auto u = static_cast<size_t>(o);
    t.first[u] = static_cast<int64_t>(t.index.size());
    double src = 0;
    if (!source_coord(s, o, src)) {
      t.outside[u] = 1;
      continue;
    }
    double base = std::floor(src), r = src - base;
    if (r == 0) base -= 1, r = 1;  // the reference's tie rule: an exact hit is the right tap
    const std::vector<double> w = coeffs(s, r);
    const int64_t first = static_cast<int64_t>(base) - (static_cast<int64_t>(w.size()) / 2 - 1);
    double sum = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      const int64_t i = first + static_cast<int64_t>(k);
      if (s.exclude_outside && (i < 0 || i >= s.in)) continue;
      sum += w[k];
      if (w[k] != 0) {
        t.index.push_back(std::clamp<int64_t>(i, 0, s.in - 1));
        t.weight.push_back(w[k]);
      }
    }
    t.count[u] = static_cast<int32_t>(t.index.size() - static_cast<size_t>(t.first[u]));
    if (s.exclude_outside && sum != 0)
      for (size_t j = static_cast<size_t>(t.first[u]); j < t.weight.size(); ++j) t.weight[j] /= sum;
  }
  return t;
}

template <typename T>
void resize(const Shape& in, const Shape& out, std::span<const ResizeTaps> taps, double extrapolation, const T* x, T* y) {
  const size_t rank = in.size();
  bool planar = rank >= 2;
  int64_t planes = 1;
  for (size_t d = 0; d + 2 < rank && planar; ++d) {
    planar = taps[d].identity();
    planes *= out[d];
  }
  if (!planar) return general(in, out, taps, extrapolation, x, y);
  const ResizeTaps &th = taps[rank - 2], &tw = taps[rank - 1];
  const int64_t IH = in[rank - 2], IW = in[rank - 1], OH = out[rank - 2], OW = out[rank - 1];
  if (single_unit_taps(th) && single_unit_taps(tw)) return plane_gather(planes, IH, IW, OH, OW, th, tw, x, y);
  plane_taps(planes, IH, IW, OH, OW, rank > 2, th, tw, extrapolation, x, y);
}

template void resize<float>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const float*, float*);
template void resize<double>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const double*, double*);
template void resize<int8_t>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const int8_t*, int8_t*);
template void resize<uint8_t>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const uint8_t*, uint8_t*);

}  // namespace lowbit::kernels
