// The autograd op the generated RNNs need beyond src/ops: one time step of an embedding lookup
// (MLX style: an op validates and records a node whose backward is explicit), so the recurrent
// cells are compositions of differentiable ops (sigmoid and tanh are src/ops').
#pragma once

#include "lowbit/ops/var.h"

namespace lowbit::paradnn {

// tokens (B, T) int32, table (V, E) -> rows table[tokens[:, t]] (B, E); backward scatter-adds.
Var embedding_step(const Tensor& tokens, const Var& table, int64_t t);

}  // namespace lowbit::paradnn
