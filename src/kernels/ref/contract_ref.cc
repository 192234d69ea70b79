// Reference contraction of contract.h: for each output index (row-major over the output labels),
// the sum over every summed index of the operands' product, in a wide accumulator.
#include <type_traits>
#include <vector>

#include "lowbit/kernels/contract.h"

namespace lowbit::kernels::ref {

template <typename T>
void contract(const Contraction& c, std::span<const T* const> in, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const size_t L = c.extent.size();
  int64_t n_out = 1, n_sum = 1;
  for (size_t k = 0; k < L; ++k) (k < c.n_out ? n_out : n_sum) *= c.extent[k];
  std::vector<int64_t> idx(L, 0);
  for (int64_t i = 0; i < n_out; ++i) {
    Acc acc = 0;
    for (int64_t s = 0; s < n_sum; ++s) {
      Acc prod = 1;
      for (size_t o = 0; o < in.size(); ++o) {
        int64_t off = 0;
        for (size_t k = 0; k < L; ++k) off += idx[k] * c.stride[o][k];
        prod *= static_cast<Acc>(in[o][off]);
      }
      acc += prod;
      for (size_t k = L; k-- > c.n_out;) {  // next summed index
        if (++idx[k] < c.extent[k]) break;
        idx[k] = 0;
      }
    }
    y[i] = static_cast<T>(acc);
    for (size_t k = c.n_out; k-- > 0;) {  // next output index
      if (++idx[k] < c.extent[k]) break;
      idx[k] = 0;
    }
  }
}

template void contract<float>(const Contraction&, std::span<const float* const>, float*);
template void contract<double>(const Contraction&, std::span<const double* const>, double*);
template void contract<int32_t>(const Contraction&, std::span<const int32_t* const>, int32_t*);
template void contract<int64_t>(const Contraction&, std::span<const int64_t* const>, int64_t*);

}  // namespace lowbit::kernels::ref
