// Elementwise arithmetic with broadcasting — the ONNX engine's arithmetic, comparison, logic,
// bitwise, Pow, Mod, BitShift, Where, variadic Max/Min/Sum/Mean and unary math ops, CumSum, and
// Clip on every numeric type.
// The element rules are the inline functions of `elem` (shared by kernels and references); the
// broadcast loops are kernels::binary & co. (elementwise.cc, threads through parallel_for) and
// their plain odometer twins ref::binary & co. (ref/elementwise_ref.cc), bitwise equal.
// Numeric T: float, double, int8..int64, uint8..uint64 (explicitly instantiated).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "lowbit/core/tensor.h"

namespace lowbit::kernels {

enum class Binary {
  add, sub, mul, div, max, min, prelu,      // every numeric type
  mod_fmod, mod_floor,                      // Mod: the dividend's sign (C fmod) or the divisor's (Python %)
  shift_left, shift_right,                  // unsigned integers
  bit_and, bit_or, bit_xor,                 // integers
};
enum class Compare { eq, lt, gt, le, ge, logical_and, logical_or, logical_xor };
enum class Unary {
  sqrt, erf, exp, log, reciprocal, floor, ceil, round, sin, cos, tan, asin, acos, atan,  // float, double
  sinh, cosh, asinh, acosh, atanh,                                                     // float, double
  neg, abs, sign,                                                                      // and signed integers
  bit_not,                                                                             // integers only
};

namespace elem {

// Integer division by zero gives 0 (ONNX leaves it undefined; this avoids a trap); x / -1 is
// the two's-complement negation (INT_MIN / -1 wraps instead of trapping).
template <typename T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(a));
  }
  return static_cast<T>(a / b);
}

// Max/Min: a NaN operand gives NaN (x + y carries it).
template <typename T>
T max(T x, T y) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x) || std::isnan(y)) return x + y;
  return x < y ? y : x;
}
template <typename T>
T min(T x, T y) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(x) || std::isnan(y)) return x + y;
  return y < x ? y : x;
}

// fmod rule: the result takes the dividend's sign; floor rule: the divisor's. A zero integer
// divisor gives 0, and so does -1 (which also avoids the INT_MIN % -1 overflow).
template <typename T>
T mod(T x, T y, bool c_rule) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(x, y);
  } else {
    if (y == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (y == -1) return 0;
      const T r = static_cast<T>(x % y);
      return (!c_rule && r != 0 && ((r < 0) != (y < 0))) ? static_cast<T>(r + y) : r;
    } else {
      return static_cast<T>(x % y);
    }
  }
}

// A shift by the type's width or more gives 0 (C++ would be undefined). Unsigned T only.
template <typename T>
T shift(T x, T y, bool left) {
  if (y >= sizeof(T) * 8) return T(0);
  return static_cast<T>(left ? x << y : x >> y);
}

// Integer power by squaring (wrapping like repeated multiplication); negative exponents give
// 1/base truncated: 1 for base 1, ±1 for base -1, else 0.
template <typename T>
T int_pow(T base, int64_t e) {
  if (e < 0) {
    if constexpr (std::is_signed_v<T>)
      if (base == -1) return static_cast<T>(e % 2 ? -1 : 1);
    return static_cast<T>(base == 1 ? 1 : 0);
  }
  using W = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(int)), int, T>>;  // no signed overflow
  W r = 1, b = static_cast<W>(base);
  for (; e > 0; e >>= 1, b = static_cast<W>(b * b))
    if (e & 1) r = static_cast<W>(r * b);
  return static_cast<T>(r);
}

// Pow(x, y) for any pair of numeric types; the result has x's type. Integer base with a float
// exponent saturates (NaN -> 0) instead of the undefined conversion of an out-of-range value.
template <typename TA, typename TB>
TA pow(TA x, TB y) {
  if constexpr (std::is_integral_v<TA> && std::is_integral_v<TB>) {
    return int_pow<TA>(x, static_cast<int64_t>(y));
  } else if constexpr (std::is_same_v<TA, float> && std::is_integral_v<TB>) {
    return std::pow(x, static_cast<float>(y));
  } else if constexpr (std::is_same_v<TA, float> && std::is_same_v<TB, float>) {
    return y == 2.0f ? x * x : std::pow(x, y);  // squaring (LayerNorm decompositions): what powf gives
  } else if constexpr (std::is_integral_v<TA>) {
    const double r = std::pow(static_cast<double>(x), static_cast<double>(y));
    if (!(r == r)) return TA{0};
    if (r <= static_cast<double>(std::numeric_limits<TA>::lowest())) return std::numeric_limits<TA>::lowest();
    if (r >= static_cast<double>(std::numeric_limits<TA>::max())) return std::numeric_limits<TA>::max();
    return static_cast<TA>(r);
  } else {
    return static_cast<TA>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

template <typename T>
T binary(Binary op, T x, T y) {
  switch (op) {
    case Binary::add: return static_cast<T>(x + y);
    case Binary::sub: return static_cast<T>(x - y);
    case Binary::mul: return static_cast<T>(x * y);
    case Binary::div: return divide(x, y);
    case Binary::max: return max(x, y);
    case Binary::min: return min(x, y);
    case Binary::prelu: return x < 0 ? static_cast<T>(x * y) : x;
    case Binary::mod_fmod: return mod(x, y, true);
    case Binary::mod_floor: return mod(x, y, false);
    default: break;
  }
  if constexpr (std::is_unsigned_v<T>) {
    if (op == Binary::shift_left) return shift(x, y, true);
    if (op == Binary::shift_right) return shift(x, y, false);
  }
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case Binary::bit_and: return static_cast<T>(x & y);
      case Binary::bit_or: return static_cast<T>(x | y);
      case Binary::bit_xor: return static_cast<T>(x ^ y);
      default: break;
    }
  }
  return T{};  // unreachable: binary() refuses the op for T before any element is computed
}

template <typename T>
bool compare(Compare op, T x, T y) {
  switch (op) {
    case Compare::eq: return x == y;
    case Compare::lt: return x < y;
    case Compare::gt: return x > y;
    case Compare::le: return x <= y;
    case Compare::ge: return x >= y;
    case Compare::logical_and: return x && y;
    case Compare::logical_or: return x || y;
    case Compare::logical_xor: return bool(x) != bool(y);
  }
  return false;
}

template <typename T>
T unary(Unary op, T x) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case Unary::sqrt: return std::sqrt(x);
      case Unary::erf: return std::erf(x);
      case Unary::exp: return std::exp(x);
      case Unary::log: return std::log(x);
      case Unary::reciprocal: return T(1) / x;
      case Unary::floor: return std::floor(x);
      case Unary::ceil: return std::ceil(x);
      case Unary::round: return std::nearbyint(x);  // half to even in the default rounding mode
      case Unary::sin: return std::sin(x);
      case Unary::cos: return std::cos(x);
      case Unary::tan: return std::tan(x);
      case Unary::asin: return std::asin(x);
      case Unary::acos: return std::acos(x);
      case Unary::atan: return std::atan(x);
      case Unary::sinh: return std::sinh(x);
      case Unary::cosh: return std::cosh(x);
      case Unary::asinh: return std::asinh(x);
      case Unary::acosh: return std::acosh(x);
      case Unary::atanh: return std::atanh(x);
      default: break;
    }
  }
  switch (op) {
    case Unary::neg: return static_cast<T>(-x);
    case Unary::abs: return x < 0 ? static_cast<T>(-x) : x;
    case Unary::sign: return static_cast<T>((x > 0) - (x < 0));
    default: break;
  }
  if constexpr (std::is_integral_v<T>)
    if (op == Unary::bit_not) return static_cast<T>(~x);
  return T{};  // unreachable: unary() refuses the op for T
}

}  // namespace elem

// Whether an op is defined for T (the kernels below do nothing for an op that is not; callers
// validate types first, as the ONNX ops' shape inference does).
template <typename T>
constexpr bool binary_defined(Binary op) {
  if (op == Binary::shift_left || op == Binary::shift_right) return std::is_integral_v<T> && std::is_unsigned_v<T>;
  if (op == Binary::bit_and || op == Binary::bit_or || op == Binary::bit_xor) return std::is_integral_v<T>;
  return true;
}
template <typename T>
constexpr bool unary_defined(Unary op) {
  if (op == Unary::bit_not) return std::is_integral_v<T>;
  if (op == Unary::neg || op == Unary::abs || op == Unary::sign) return std::is_floating_point_v<T> || std::is_signed_v<T>;
  return std::is_floating_point_v<T>;
}

// y (dense, shape ys) = op(a, b) with a (shape as) and b (shape bs) broadcast to ys.
template <typename T>
void binary(Binary op, const T* a, const Shape& as, const T* b, const Shape& bs, T* y, const Shape& ys);
template <typename T>
void compare(Compare op, const T* a, const Shape& as, const T* b, const Shape& bs, bool* y, const Shape& ys);
template <typename TA, typename TB>
void pow(const TA* a, const Shape& as, const TB* b, const Shape& bs, TA* y, const Shape& ys);
// y[i] = op(x[i]) for n elements (y may be x).
template <typename T>
void unary(Unary op, int64_t n, const T* x, T* y);
// Clip: y[i] = min(max(x[i], lo), hi) for n elements (y may be x); a NaN x stays NaN.
template <typename T>
void clip(int64_t n, const T* x, T lo, T hi, T* y);
// Where: y = cond ? x : z, broadcast to ys; elements of elem_bytes bytes (any type).
void select(const bool* cond, const Shape& cs, const void* x, const Shape& xs, const void* z, const Shape& zs,
            size_t elem_bytes, void* y, const Shape& ys);
// x broadcast to ys, copied (Expand); elements of elem_bytes bytes.
void broadcast_copy(const void* x, const Shape& xs, size_t elem_bytes, void* y, const Shape& ys);
// x viewed as (outer, n, inner): y[o, i, k] = the sum of x[o, j, k] over j before (exclusive) or
// up to (inclusive) i, counting from the end when reversed; summed in T, in that order.
template <typename T>
void cumsum(int64_t outer, int64_t n, int64_t inner, bool exclusive, bool reverse, const T* x, T* y);

namespace ref {
// Plain odometer loops over the output (no coalescing, no threads): the specification.
template <typename T>
void binary(Binary op, const T* a, const Shape& as, const T* b, const Shape& bs, T* y, const Shape& ys);
template <typename T>
void compare(Compare op, const T* a, const Shape& as, const T* b, const Shape& bs, bool* y, const Shape& ys);
template <typename TA, typename TB>
void pow(const TA* a, const Shape& as, const TB* b, const Shape& bs, TA* y, const Shape& ys);
}  // namespace ref

}  // namespace lowbit::kernels
