// Broadcast loops of elementwise.h: kernels::binary_broadcast (broadcast.h) over the element rules
// of `elem`, threads through parallel_for. Bitwise equal to the odometer loops of ref/.
#include "lowbit/kernels/elementwise.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>

#include "lowbit/kernels/broadcast.h"

namespace lowbit::kernels {

template <typename T>
void binary(Binary op, const T* a, const Shape& as, const T* b, const Shape& bs, T* y, const Shape& ys) {
  if (!binary_defined<T>(op)) return;
  // One instantiation of the loop per op, so each inner loop is a fixed expression.
  auto run = [&](auto f) { binary_broadcast<T, T, T>(a, as, b, bs, y, ys, f); };
  switch (op) {
    case Binary::add: return run([](T x, T z) { return static_cast<T>(x + z); });
    case Binary::sub: return run([](T x, T z) { return static_cast<T>(x - z); });
    case Binary::mul: return run([](T x, T z) { return static_cast<T>(x * z); });
    case Binary::div: return run([](T x, T z) { return elem::divide(x, z); });
    case Binary::max: return run([](T x, T z) { return elem::max(x, z); });
    case Binary::min: return run([](T x, T z) { return elem::min(x, z); });
    default: return run([op](T x, T z) { return elem::binary(op, x, z); });
  }
}

template <typename T>
void compare(Compare op, const T* a, const Shape& as, const T* b, const Shape& bs, bool* y, const Shape& ys) {
  binary_broadcast<T, T, bool>(a, as, b, bs, y, ys, [op](T x, T z) { return elem::compare(op, x, z); });
}

template <typename TA, typename TB>
void pow(const TA* a, const Shape& as, const TB* b, const Shape& bs, TA* y, const Shape& ys) {
  binary_broadcast<TA, TB, TA>(a, as, b, bs, y, ys, [](TA x, TB z) { return elem::pow<TA, TB>(x, z); });
}

template <typename T>
void unary(Unary op, int64_t n, const T* x, T* y) {
  if (!unary_defined<T>(op)) return;
  parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = elem::unary(op, x[i]);
  });
}

void select(const bool* cond, const Shape& cs, const void* x, const Shape& xs, const void* z, const Shape& zs,
            size_t elem_bytes, void* y, const Shape& ys) {
  const auto plan = make_plan<3>({&cs, &xs, &zs}, ys);
  const auto* px = static_cast<const std::byte*>(x);
  const auto* pz = static_cast<const std::byte*>(z);
  auto* py = static_cast<std::byte*>(y);
  for_each_row(plan, [&](const std::array<int64_t, 3>& off, int64_t o, const std::array<int64_t, 3>& st, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const bool take_x = cond[off[0] + i * st[0]];
      const std::byte* src = take_x ? px + (off[1] + i * st[1]) * elem_bytes : pz + (off[2] + i * st[2]) * elem_bytes;
      std::memcpy(py + (o + i) * elem_bytes, src, elem_bytes);
    }
  });
}

void broadcast_copy(const void* x, const Shape& xs, size_t elem_bytes, void* y, const Shape& ys) {
  const auto plan = make_plan<1>({&xs}, ys);
  const auto* src = static_cast<const std::byte*>(x);
  auto* dst = static_cast<std::byte*>(y);
  for_each_row(plan, [&](const std::array<int64_t, 1>& off, int64_t o, const std::array<int64_t, 1>& st, int64_t n) {
    if (st[0] == 1) {
      std::memcpy(dst + o * elem_bytes, src + off[0] * elem_bytes, static_cast<size_t>(n) * elem_bytes);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + (o + i) * elem_bytes, src + off[0] * elem_bytes, elem_bytes);
    }
  });
}

template <typename T>
void cumsum(int64_t outer, int64_t n, int64_t inner, bool exclusive, bool reverse, const T* x, T* y) {
  parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t o = l / inner, k = l % inner;
      T acc = 0;
      for (int64_t s = 0; s < n; ++s) {
        const int64_t at = (o * n + (reverse ? n - 1 - s : s)) * inner + k;
        if (exclusive) y[at] = acc;
        acc = static_cast<T>(acc + x[at]);
        if (!exclusive) y[at] = acc;
      }
    }
  });
}

template <typename T>
void clip(int64_t n, const T* x, T lo, T hi, T* y) {
  parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = std::min(std::max(x[i], lo), hi);
  });
}

#define LOWBIT_EW_T(T)                                                                                        \
  template void binary<T>(Binary, const T*, const Shape&, const T*, const Shape&, T*, const Shape&);         \
  template void compare<T>(Compare, const T*, const Shape&, const T*, const Shape&, bool*, const Shape&);     \
  template void unary<T>(Unary, int64_t, const T*, T*);                                                      \
  template void clip<T>(int64_t, const T*, T, T, T*);                                                        \
  template void cumsum<T>(int64_t, int64_t, int64_t, bool, bool, const T*, T*);
#define LOWBIT_EW_POW(TA, TB) \
  template void pow<TA, TB>(const TA*, const Shape&, const TB*, const Shape&, TA*, const Shape&);
#define LOWBIT_EW_POW_ROW(TA)                                                                            \
  LOWBIT_EW_POW(TA, float) LOWBIT_EW_POW(TA, double) LOWBIT_EW_POW(TA, int8_t) LOWBIT_EW_POW(TA, uint8_t)   \
  LOWBIT_EW_POW(TA, int16_t) LOWBIT_EW_POW(TA, uint16_t) LOWBIT_EW_POW(TA, int32_t) LOWBIT_EW_POW(TA, uint32_t) \
  LOWBIT_EW_POW(TA, int64_t) LOWBIT_EW_POW(TA, uint64_t)
#define LOWBIT_EW(T) LOWBIT_EW_T(T) LOWBIT_EW_POW_ROW(T)
LOWBIT_EW(float)
LOWBIT_EW(double)
LOWBIT_EW(int8_t)
LOWBIT_EW(uint8_t)
LOWBIT_EW(int16_t)
LOWBIT_EW(uint16_t)
LOWBIT_EW(int32_t)
LOWBIT_EW(uint32_t)
LOWBIT_EW(int64_t)
LOWBIT_EW(uint64_t)
template void compare<bool>(Compare, const bool*, const Shape&, const bool*, const Shape&, bool*, const Shape&);
#undef LOWBIT_EW
#undef LOWBIT_EW_POW_ROW
#undef LOWBIT_EW_POW
#undef LOWBIT_EW_T

}  // namespace lowbit::kernels
