// Plain (non-differentiable) f32 tensor arithmetic used by ops, optimizers and metrics.
// Inputs may be strided; outputs are fresh contiguous tensors unless the name ends in '_'.
#pragma once

#include "lowbit/core/tensor.h"

namespace lowbit {

Tensor add(const Tensor& a, const Tensor& b);           // same shape
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, float s);
void add_(Tensor& dst, const Tensor& src);              // dst += src (dst contiguous)
void axpy_(Tensor& dst, float alpha, const Tensor& src);  // dst += alpha * src
void scale_(Tensor& dst, float s);
double sum_all(const Tensor& a);                        // double accumulation
float max_abs(const Tensor& a);
// Row-wise argmax of a (B, C) matrix into int32 (B).
Tensor argmax_rows(const Tensor& a);
// Sum over the leading dimension: (B, ...) -> (...).
Tensor sum_rows(const Tensor& a);

}  // namespace lowbit
