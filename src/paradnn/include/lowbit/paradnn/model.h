// ParaDnn model generators. One configuration gives (a) a lowbit training graph (nn modules,
// random init), (b) the same network as an ONNX graph carrying that module's weights (eval
// mode: batch norm with running statistics), and (c) analytic parameter and FLOP counts.
//   fc   x (B, input) -> [Linear(nodes) -> ReLU] x layers -> Linear(output)
//   cnn  x (B, 3, image, image) -> conv7x7/2(F)-BN-ReLU -> maxpool3x3/2 -> 4 groups of `blocks`
//        ResNet-v1 blocks of widths F, 2F, 4F, 8F (x4 out for bottleneck) with strides
//        1/2/2/2 (stride on a block's first conv, projection shortcut conv1x1-BN where the shape
//        changes) -> global average pool -> Linear(classes)
//   rnn  tokens (B, length) -> embedding -> `layers` RNN/LSTM/GRU cells -> Linear(vocab) per step
//        (rnn_model.h); example_shape is (length) and the input is int32 token ids
// FLOPs count multiply-adds as 2 in Linear/Conv layers only (BN, ReLU, pooling and the loss
// are < 1 % for these shapes); training = 3 x forward (forward, input and weight gradients).
#pragma once

#include <memory>

#include "lowbit/core/tensor.h"
#include "lowbit/nn/module.h"
#include "lowbit/onnx/ir.h"
#include "lowbit/paradnn/config.h"

namespace lowbit::paradnn {

struct ModelStats {
  int64_t params = 0;                    // trainable parameters
  double forward_flops_per_example = 0;  // 2 x multiply-adds of Linear/Conv layers
};

ModelStats analyze(const ModelConfig& c);
Shape example_shape(const ModelConfig& c);  // one example: (input) or (3, image, image)
int64_t num_classes(const ModelConfig& c);
double flops_per_example(const ModelConfig& c, bool training);

// Training graph; parameters initialized deterministically from `seed`.
std::shared_ptr<nn::Module> build_module(const ModelConfig& c, uint64_t seed);
// The same network as ONNX (opset 17, input "x" of shape (N, ...) with symbolic batch, output
// "logits"), weights copied from `m` (which build_module made from the same config). rnn:
// fused_rnn picks one ONNX RNN/LSTM/GRU node per layer, else the graph unrolled over time.
onnx::Graph build_onnx(const ModelConfig& c, nn::Module& m, bool fused_rnn = true);

}  // namespace lowbit::paradnn
