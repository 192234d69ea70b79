// Reference reduction of reduce.h: one pass over the input in order, an odometer over the
// output, double accumulators. The fast paths of reduce.cc give bitwise the same results.
#include "lowbit/kernels/reduce.h"

#include <vector>

#include "../reduce_impl.h"

namespace lowbit::kernels::ref {

template <typename T>
void reduce(Reduction r, std::span<const int64_t> shape, std::span<const bool> reduced, const T* x, T* y) {
  const size_t rank = shape.size();
  int64_t n_in = 1, n_out = 1, n_red = 1;
  std::vector<int64_t> out_stride(rank, 0);
  for (size_t d = rank; d-- > 0;) {
    n_in *= shape[d];
    if (reduced[d]) {
      n_red *= shape[d];
    } else {
      out_stride[d] = n_out;
      n_out *= shape[d];
    }
  }
  std::vector<double> acc(static_cast<size_t>(n_out), detail::reduce_init(r));
  if (n_in > 0) {
    std::vector<int64_t> idx(rank, 0);
    int64_t o = 0;
    for (int64_t i = 0; i < n_in; ++i) {
      acc[static_cast<size_t>(o)] = detail::reduce_step(r, acc[static_cast<size_t>(o)], static_cast<double>(x[i]));
      for (size_t d = rank; d-- > 0;) {
        o += out_stride[d];
        if (++idx[d] < shape[d]) break;
        o -= out_stride[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
  for (int64_t k = 0; k < n_out; ++k) y[k] = detail::reduce_cast<T>(detail::reduce_final(r, acc[static_cast<size_t>(k)], n_red));
}

#define LOWBIT_REDUCE_REF(T) \
  template void reduce<T>(Reduction, std::span<const int64_t>, std::span<const bool>, const T*, T*);
LOWBIT_REDUCE_REF(float)
LOWBIT_REDUCE_REF(double)
LOWBIT_REDUCE_REF(int64_t)
LOWBIT_REDUCE_REF(int32_t)
LOWBIT_REDUCE_REF(int8_t)
LOWBIT_REDUCE_REF(uint8_t)
#undef LOWBIT_REDUCE_REF

}  // namespace lowbit::kernels::ref
