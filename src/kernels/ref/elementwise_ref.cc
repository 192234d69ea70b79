// Reference broadcast loops of elementwise.h: every output index is decoded into its operands'
// offsets one at a time (no coalescing, no threads) and the element rule of `elem` applied.
#include <vector>

#include "lowbit/kernels/broadcast.h"
#include "lowbit/kernels/elementwise.h"

namespace lowbit::kernels::ref {
namespace {

template <typename TA, typename TB, typename TO, typename F>
void odometer(const TA* a, const Shape& as, const TB* b, const Shape& bs, TO* y, const Shape& ys, F f) {
  const std::vector<int64_t> sa = broadcast_strides(as, ys), sb = broadcast_strides(bs, ys);
  int64_t n = 1;
  for (int64_t d : ys) n *= d;
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, oa = 0, ob = 0;
    for (size_t d = ys.size(); d-- > 0;) {
      const int64_t k = rem % ys[d];
      rem /= ys[d];
      oa += k * sa[d];
      ob += k * sb[d];
    }
    y[i] = f(a[oa], b[ob]);
  }
}

}  // namespace

template <typename T>
void binary(Binary op, const T* a, const Shape& as, const T* b, const Shape& bs, T* y, const Shape& ys) {
  if (!binary_defined<T>(op)) return;
  odometer<T, T, T>(a, as, b, bs, y, ys, [op](T x, T z) { return elem::binary(op, x, z); });
}

template <typename T>
void compare(Compare op, const T* a, const Shape& as, const T* b, const Shape& bs, bool* y, const Shape& ys) {
  odometer<T, T, bool>(a, as, b, bs, y, ys, [op](T x, T z) { return elem::compare(op, x, z); });
}

template <typename TA, typename TB>
void pow(const TA* a, const Shape& as, const TB* b, const Shape& bs, TA* y, const Shape& ys) {
  odometer<TA, TB, TA>(a, as, b, bs, y, ys, [](TA x, TB z) { return elem::pow<TA, TB>(x, z); });
}

#define LOWBIT_EW_REF(T)                                                                                 \
  template void binary<T>(Binary, const T*, const Shape&, const T*, const Shape&, T*, const Shape&);    \
  template void compare<T>(Compare, const T*, const Shape&, const T*, const Shape&, bool*, const Shape&); \
  template void pow<T, T>(const T*, const Shape&, const T*, const Shape&, T*, const Shape&);
LOWBIT_EW_REF(float)
LOWBIT_EW_REF(double)
LOWBIT_EW_REF(int8_t)
LOWBIT_EW_REF(uint8_t)
LOWBIT_EW_REF(int16_t)
LOWBIT_EW_REF(uint16_t)
LOWBIT_EW_REF(int32_t)
LOWBIT_EW_REF(uint32_t)
LOWBIT_EW_REF(int64_t)
LOWBIT_EW_REF(uint64_t)
template void pow<float, int64_t>(const float*, const Shape&, const int64_t*, const Shape&, float*, const Shape&);
template void pow<int32_t, float>(const int32_t*, const Shape&, const float*, const Shape&, int32_t*, const Shape&);
#undef LOWBIT_EW_REF

}  // namespace lowbit::kernels::ref
