// Private to src/kernels: the double -> T store shared by resize.cc and ref/resize_ref.cc.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace lowbit::kernels::detail {

template <typename T>
T resize_store(double v) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(std::clamp(std::nearbyint(v), double(std::numeric_limits<T>::lowest()),
                                     double(std::numeric_limits<T>::max())));
  else
    return static_cast<T>(v);
}

}  // namespace lowbit::kernels::detail
