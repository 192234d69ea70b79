// Private to src/kernels: what resize.cc and ref/resize_ref.cc share — the recursive walk over
// every axis's taps that defines one output element, and the double -> T store.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

#include "lowbit/kernels/resize.h"

namespace lowbit::kernels::detail {

template <typename T>
T resize_store(double v) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(std::clamp(std::nearbyint(v), double(std::numeric_limits<T>::lowest()),
                                     double(std::numeric_limits<T>::max())));
  else
    return static_cast<T>(v);
}

// The output element at `pos` (one index per axis): from axis d on, the sum over axis d's taps of
// the element one axis further in (input offset `off` so far), in double, or the extrapolation
// value where axis d's coordinate lies outside the input. Start with d = 0, off = 0.
template <typename T>
double resize_point(std::span<const ResizeTaps> taps, std::span<const int64_t> in_stride, std::span<const int64_t> pos,
                    double extrapolation, const T* x, size_t d = 0, int64_t off = 0) {
  if (d == taps.size()) return static_cast<double>(x[off]);
  const auto o = static_cast<size_t>(pos[d]);
  const ResizeTaps& t = taps[d];
  if (t.outside[o]) return extrapolation;
  double acc = 0;
  for (int32_t k = 0; k < t.count[o]; ++k) {
    const auto j = static_cast<size_t>(t.first[o] + k);
    acc += t.weight[j] * resize_point(taps, in_stride, pos, extrapolation, x, d + 1, off + t.index[j] * in_stride[d]);
  }
  return acc;
}

}  // namespace lowbit::kernels::detail
