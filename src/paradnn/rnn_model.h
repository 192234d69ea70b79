// Generated recurrent networks (family "rnn"): embedding (vocab x E), `layers` stacked cells of
// width H = E (cell 0 RNN-tanh, 1 LSTM, 2 GRU; PyTorch's gate order and two bias vectors), a
// projection to the vocabulary at every step. Input: int32 tokens (B, T); output: logits
// (T*B, vocab), time-major, trained with cross-entropy against next tokens.
#pragma once

#include <memory>

#include "lowbit/nn/module.h"
#include "lowbit/onnx/ir.h"
#include "lowbit/paradnn/config.h"
#include "lowbit/paradnn/model.h"

namespace lowbit::paradnn {

int64_t rnn_gates(const ModelConfig& c);  // 1, 4 or 3
ModelStats analyze_rnn(const ModelConfig& c);
std::shared_ptr<nn::Module> build_rnn_module(const ModelConfig& c);
// Input "tokens" int64 (N, T), output "logits" (T*N, vocab). fused: one ONNX RNN/LSTM/GRU node
// per layer (gates reordered from PyTorch's i f g o / r z n to ONNX's i o f c / z r h; GRU with
// linear_before_reset = 1, PyTorch's form); else unrolled over time with Gather, Gemm, Slice,
// Sigmoid, Tanh, Mul, Add and Concat (every engine runs it; tests use it as the oracle).
onnx::Graph build_rnn_onnx(const ModelConfig& c, nn::Module& m, bool fused = true);

}  // namespace lowbit::paradnn
