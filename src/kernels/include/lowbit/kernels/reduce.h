// Reductions over any set of axes of a dense row-major array, and the index of the largest or
// smallest element along one axis: the arithmetic of the ONNX Reduce* and ArgMax/ArgMin ops.
// Raw pointers, threads through lowbit::parallel_for, no exceptions. Element types: float,
// double, int64_t, int32_t, int8_t, uint8_t (explicitly instantiated in reduce.cc).
#pragma once

#include <cstdint>
#include <span>

namespace lowbit::kernels {

enum class Reduction { mean, sum, max, min, prod, sum_square, l1, l2, log_sum, log_sum_exp };

// y = the reduction of x (dims `shape`) over the axes d with reduced[d], y holding the kept
// axes in order (keepdims only changes the caller's shape, not the data). Every output
// accumulates its inputs in double, in increasing input index; max/min return NaN when any
// input is NaN; the result is cast back to T (integer types: truncation of the double result,
// as C++ does; mean = sum / count). An empty reduction gives the reduction's identity (0 for
// sums, 1 for prod, -inf/+inf for max/min; for integer types these saturate to the type's
// range), then the final step (log(0) = -inf for log_sum).
template <typename T>
void reduce(Reduction r, std::span<const int64_t> shape, std::span<const bool> reduced, const T* x, T* y);

// For each of outer × inner lines of D >= 1 elements (x viewed as (outer, D, inner)), y = the
// index along D of the largest (is_max) or smallest element; ties keep the first index, or the
// last with last_on_ties. Comparisons are `>` / `<` in T from the first element on (no
// conversion, so int64 keys compare exactly): a NaN in first place is kept, later NaNs never win.
template <typename T>
void arg_extreme(bool is_max, bool last_on_ties, int64_t outer, int64_t D, int64_t inner, const T* x, int64_t* y);

namespace ref {
// The specification of kernels::reduce: one pass over x with an odometer over the output.
template <typename T>
void reduce(Reduction r, std::span<const int64_t> shape, std::span<const bool> reduced, const T* x, T* y);
}  // namespace ref

}  // namespace lowbit::kernels
