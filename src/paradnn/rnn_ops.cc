// Forward and backward of one step of an embedding lookup (row copies; the backward scatter-adds).
#include "rnn_ops.h"

#include <algorithm>

#include "lowbit/core/error.h"

namespace lowbit::paradnn {
namespace {

void require_f32(const Var& x, const char* op) {
  LOWBIT_REQUIRE(x.defined() && x.value().dtype() == DType::f32, op, "expects a float32 input");
}

struct EmbeddingStepNode : Node {
  Tensor ids;  // (B) int32
  EmbeddingStepNode(const Var& table, Tensor i) : Node({table}), ids(std::move(i)) {}
  std::string_view name() const override { return "embedding_step"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    const Shape& ts = inputs()[0].shape();
    Tensor dt = Tensor::zeros(ts);
    const int64_t E = ts[1];
    for (int64_t b = 0; b < ids.numel(); ++b) {  // serial: repeated ids accumulate into one row
      float* row = dt.data<float>() + ids.data<int32_t>()[b] * E;
      const float* gr = gc.data<float>() + b * E;
      for (int64_t e = 0; e < E; ++e) row[e] += gr[e];
    }
    return {dt};
  }
};

}  // namespace

Var embedding_step(const Tensor& tokens, const Var& table, int64_t t) {
  LOWBIT_REQUIRE(tokens.dtype() == DType::i32 && tokens.dim() == 2, "embedding_step", "tokens must be int32 (B, T), got {} {}",
                 dtype_name(tokens.dtype()), shape_str(tokens.shape()));
  LOWBIT_REQUIRE(t >= 0 && t < tokens.size(1), "embedding_step", "step {} outside [0, {})", t, tokens.size(1));
  require_f32(table, "embedding_step");
  LOWBIT_REQUIRE(table.value().dim() == 2, "embedding_step", "table must be (V, E), got {}", shape_str(table.shape()));
  const int64_t B = tokens.size(0), V = table.size(0), E = table.size(1);
  const Tensor tc = tokens.contiguous(), table_c = table.value().contiguous();
  Tensor ids = Tensor::empty({B}, DType::i32);
  Tensor y = Tensor::empty({B, E});
  for (int64_t b = 0; b < B; ++b) {
    const int32_t id = tc.data<int32_t>()[b * tokens.size(1) + t];
    LOWBIT_REQUIRE(id >= 0 && id < V, "embedding_step", "token {} at ({}, {}) is outside the vocabulary [0, {})", id, b, t, V);
    ids.data<int32_t>()[b] = id;
    std::copy_n(table_c.data<float>() + id * E, E, y.data<float>() + b * E);
  }
  return make_output<EmbeddingStepNode>(y, {&table}, table, ids);
}

}  // namespace lowbit::paradnn
