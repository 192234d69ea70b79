// Tensor-level block-diagonal Walsh–Hadamard transform (spec §1.2): H_n of ±1 Sylvester blocks
// of size h(n), the largest power of two dividing n, applied along one dimension with adds and
// subtracts only. H·H = h·I, so a product through H twice is divided by h.
#pragma once

#include <cstdint>

#include "lowbit/core/tensor.h"

namespace lowbit::quant {

// Largest power of two dividing n (n >= 1).
int64_t hadamard_block_size(int64_t n);

// y = blockdiag(H_h, ...) applied along `dim` of x (negative counts from the end); block 0
// means h(size(dim)), else a power of two dividing size(dim). f32 -> f32, i8 -> i32 (exact),
// i32 -> i32 (exact while h·max|x| < 2^31). Returns a new contiguous tensor.
Tensor hadamard_transform(const Tensor& x, int64_t dim, int64_t block = 0);

}  // namespace lowbit::quant
