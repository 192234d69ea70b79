// Private to src/kernels: the per-element steps of reduce.h's reductions, shared by the fast
// paths (reduce.cc) and the reference (ref/reduce_ref.cc) so both compute the same doubles.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "lowbit/kernels/reduce.h"

namespace lowbit::kernels::detail {

inline double reduce_init(Reduction r) {
  if (r == Reduction::max) return -std::numeric_limits<double>::infinity();
  if (r == Reduction::min) return std::numeric_limits<double>::infinity();
  if (r == Reduction::prod) return 1;
  return 0;
}

inline double reduce_step(Reduction r, double acc, double v) {
  switch (r) {
    case Reduction::max: return v > acc || std::isnan(v) ? v : acc;
    case Reduction::min: return v < acc || std::isnan(v) ? v : acc;
    case Reduction::prod: return acc * v;
    case Reduction::sum_square: case Reduction::l2: return acc + v * v;
    case Reduction::l1: return acc + std::fabs(v);
    case Reduction::log_sum_exp: return acc + std::exp(v);
    default: return acc + v;
  }
}

inline double reduce_final(Reduction r, double acc, int64_t n) {
  switch (r) {
    case Reduction::mean: return acc / static_cast<double>(n);
    case Reduction::l2: return std::sqrt(acc);
    case Reduction::log_sum: case Reduction::log_sum_exp: return std::log(acc);
    default: return acc;
  }
}

// double -> T; integer types truncate toward zero and saturate at the type's range (NaN -> 0),
// so an out-of-range result (an overflowing int8 sum, an empty max) is defined.
template <typename T>
T reduce_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T{0};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

}  // namespace lowbit::kernels::detail
