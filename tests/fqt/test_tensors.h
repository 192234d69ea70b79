// Input tensors shared by the fqt layer tests: Gaussian values, and a grid of small integers
// times 2^-6 whose Hadamard sums are exact in fp32 in any order.
#pragma once

#include "lowbit/core/rng.h"
#include "lowbit/core/tensor.h"

namespace lowbit::fqt::test {

inline Tensor rand_t(const Shape& s, uint64_t seed, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  normal_fill(seed, 1, 0, t.numel(), t.data<float>());
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= scale;
  return t;
}

inline Tensor int_grid(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Rng r(seed, 2);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = (static_cast<float>(r.below(201)) - 100.0f) / 64.0f;
  return t;
}

}  // namespace lowbit::fqt::test
