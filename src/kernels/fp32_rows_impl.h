// Private per-ISA row kernels of the fp32 layer (softmax over contiguous rows): the entry points
// dispatch.cc chooses between. Each ISA's code lives in its own file, compiled with its flags.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// y = softmax(x) (or log-softmax) of one row of D > 0 floats; y may not alias x.
using SoftmaxRowFn = void (*)(int64_t D, const float* x, float* y, bool log);

namespace portable {
void softmax_row(int64_t D, const float* x, float* y, bool log);  // x86-64-v3, auto-vectorized
}  // namespace portable
namespace avx512 {
void softmax_row(int64_t D, const float* x, float* y, bool log);  // 16 lanes, masked tail
}  // namespace avx512
namespace detail {
SoftmaxRowFn softmax_row_kernel();  // dispatch.cc: the fastest path the CPU runs
}  // namespace detail

}  // namespace lowbit::kernels
