// Shared by the fqt layer tests: Gaussian input tensors, a grid of small integers times 2^-6
// whose Hadamard sums are exact in fp32 in any order, and a layer's quantization context.
#pragma once

#include <memory>

#include "lowbit/core/rng.h"
#include "lowbit/core/tensor.h"
#include "lowbit/fqt/qlayers.h"

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

inline std::shared_ptr<QuantContext> ctx_for(const QuantConfig& cfg, uint64_t seed = 1234, int64_t layer_id = 77) {
  auto c = std::make_shared<QuantContext>();
  c->cfg = cfg;
  c->seed = seed;
  c->layer_id = layer_id;
  return c;
}

}  // namespace lowbit::fqt::test
