// Autograd ops the generated RNNs need beyond src/ops: sigmoid, tanh and one time step of an
// embedding lookup. Defined here (MLX style: an op validates and records a node whose backward
// is explicit) so the recurrent cells are compositions of differentiable ops.
#pragma once

#include "lowbit/ops/var.h"

namespace lowbit::paradnn {

Var sigmoid(const Var& x);  // 1 / (1 + e^-x); dy = g * y * (1 - y)
Var tanh(const Var& x);     // dy = g * (1 - y^2)
// tokens (B, T) int32, table (V, E) -> rows table[tokens[:, t]] (B, E); backward scatter-adds.
Var embedding_step(const Tensor& tokens, const Var& table, int64_t t);

}  // namespace lowbit::paradnn
