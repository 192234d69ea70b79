// hadamard_transform on Tensors: validates the dimension and block size, then views the tensor
// as (outer, n, inner) and runs the kernel along rows (inner == 1) or along columns of each
// n×inner slice.
#include <string_view>

#include "lowbit/kernels/hadamard.h"
#include "lowbit/quant/hadamard.h"

namespace lowbit::quant {

int64_t hadamard_block_size(int64_t n) {
  LOWBIT_REQUIRE(n >= 1, "hadamard_block_size", "n must be >= 1, got {}", n);
  return kernels::hadamard_block(n);
}

Tensor hadamard_transform(const Tensor& x, int64_t dim, int64_t block) {
  constexpr std::string_view op = "hadamard_transform";
  LOWBIT_REQUIRE(x.defined() && x.dim() >= 1, op, "needs a tensor with at least one dimension");
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  LOWBIT_REQUIRE(d >= 0 && d < x.dim(), op, "dim {} out of range for a {}-d tensor", dim, x.dim());
  const int64_t n = x.size(d);
  LOWBIT_REQUIRE(n >= 1, op, "dimension {} is empty", d);
  const int64_t h = block == 0 ? kernels::hadamard_block(n) : block;
  LOWBIT_REQUIRE(h >= 1 && (h & (h - 1)) == 0 && n % h == 0, op,
                 "block {} must be a power of two dividing size {} of dim {}", block, n, d);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  const Tensor xc = x.contiguous();
  const DType out_type = x.dtype() == DType::f32 ? DType::f32 : DType::i32;
  LOWBIT_REQUIRE(x.dtype() == DType::f32 || x.dtype() == DType::i8 || x.dtype() == DType::i32, op,
                 "expected f32, i8 or i32, got {}", dtype_name(x.dtype()));
  Tensor y = Tensor::empty(x.shape(), out_type);
  if (y.numel() == 0) return y;
  // One call per (outer) slice when transforming along columns; one call in total along rows.
  const int64_t slices = inner == 1 ? 1 : outer;
  const kernels::HadamardShape s = inner == 1 ? kernels::HadamardShape{outer, n, 1, h} : kernels::HadamardShape{n, inner, 0, h};
  const int64_t ld = inner == 1 ? n : inner, step = n * inner;
  for (int64_t o = 0; o < slices; ++o) {
    switch (x.dtype()) {
      case DType::f32: kernels::fwht_f32(s, xc.data<float>() + o * step, ld, y.data<float>() + o * step, ld); break;
      case DType::i8: kernels::fwht_i8_i32(s, xc.data<int8_t>() + o * step, ld, y.data<int32_t>() + o * step, ld); break;
      default: kernels::fwht_i32(s, xc.data<int32_t>() + o * step, ld, y.data<int32_t>() + o * step, ld); break;
    }
  }
  return y;
}

}  // namespace lowbit::quant
