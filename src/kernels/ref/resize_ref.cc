// Reference Resize of resize.h: each output element sums over the taps of axis 0, and within
// each over the taps of axis 1, ... in double (the ONNX reference's separable interpolation).
#include <vector>

#include "../resize_impl.h"
#include "lowbit/kernels/resize.h"

namespace lowbit::kernels::ref {

template <typename T>
void resize(const Shape& in, const Shape& out, std::span<const ResizeTaps> taps, double extrapolation, const T* x, T* y) {
  const size_t rank = in.size();
  std::vector<int64_t> st(rank, 1), pos(rank, 0);
  for (size_t d = rank; d-- > 1;) st[d - 1] = st[d] * in[d];
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i;
    for (size_t d = rank; d-- > 0;) pos[d] = rem % out[d], rem /= out[d];
    y[i] = detail::resize_store<T>(detail::resize_point<T>(taps, st, pos, extrapolation, x));
  }
}

template void resize<float>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const float*, float*);
template void resize<double>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const double*, double*);
template void resize<int8_t>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const int8_t*, int8_t*);
template void resize<uint8_t>(const Shape&, const Shape&, std::span<const ResizeTaps>, double, const uint8_t*, uint8_t*);

}  // namespace lowbit::kernels::ref
