// Tensor contraction (the arithmetic of ONNX Einsum): operands and output indexed by loop
// labels; output labels first, summed labels after. The reference is the plain loop over
// (output index × summed index); kernels::contract runs a two-operand float contraction that
// is a batched matrix product (every label a batch, row, column or summed label of both) on
// the fp32 GEMM after packing, and anything else on the loop. Raw pointers, no exceptions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lowbit::kernels {

struct Contraction {
  std::vector<int64_t> extent;               // per label
  size_t n_out = 0;                          // labels [0, n_out) index the output, row-major
  std::vector<std::vector<int64_t>> stride;  // per operand, per label: element stride (0 when the
                                             // operand lacks or broadcasts the label; repeated
                                             // labels add up, which walks a diagonal)
};

// y = the sum over the summed labels of the product of the operands. T: float, double, int32_t,
// int64_t. The reference accumulates in double (float, double) or int64 (integers); the GEMM path
// (float only) in float, so its results match the reference to fp32 summation tolerance.
template <typename T>
void contract(const Contraction& c, std::span<const T* const> in, T* y);

namespace ref {
template <typename T>
void contract(const Contraction& c, std::span<const T* const> in, T* y);
}  // namespace ref

}  // namespace lowbit::kernels
