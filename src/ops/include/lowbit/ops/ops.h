// Differentiable ops on Vars. Each validates shapes (errors name the op), computes with the
// kernels layer and records its backward when a gradient is needed. Layouts: row-major,
// images NCHW, logits (B, C), labels int32 (B).
#pragma once

#include <vector>

#include "lowbit/ops/var.h"

namespace lowbit {

// --- elementwise and shape -------------------------------------------------------------
Var add(const Var& a, const Var& b);  // same shape
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var scale(const Var& a, float s);
Var mul_scalar(const Var& x, const Var& s);  // s has one element (learnable scalars, e.g. BiC)
Var add_scalar(const Var& x, const Var& s);
Var relu(const Var& x);
Var sigmoid(const Var& x);  // 1 / (1 + e^-x) (kernels' fast_exp form); dx = g * y * (1 - y)
Var tanh(const Var& x);     // kernels' tanh (libm); dx = g * (1 - y^2)
Var reshape(const Var& x, const Shape& shape);
Var flatten(const Var& x);  // (N, ...) -> (N, prod(...))
Var narrow(const Var& x, int64_t dim, int64_t start, int64_t length);
Var cat(const std::vector<Var>& xs, int64_t dim);
Var sum(const Var& x);   // scalar
Var mean(const Var& x);  // scalar

// --- dense -------------------------------------------------------------------------------
Var matmul(const Var& a, const Var& b);                   // (M,K) x (K,N) -> (M,N)
Var linear(const Var& x, const Var& w, const Var& bias);  // x (B,K), w (N,K), bias (N) or undefined

// --- convolution and pooling -----------------------------------------------------------------
struct Conv2dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
};
// x (N,C,H,W), w (K, C/groups, R, S), bias (K) or undefined -> (N,K,OH,OW)
Var conv2d(const Var& x, const Var& w, const Var& bias, const Conv2dOptions& opt = {});
Var max_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Var global_avg_pool2d(const Var& x);  // (N,C,H,W) -> (N,C)
// CIFAR ResNet "option A" shortcut: x[:, :, ::stride, ::stride], zero-padded to out_channels
// (the new channels split evenly before and after the old ones).
Var shortcut_pad(const Var& x, int64_t stride, int64_t out_channels);

// --- normalization -------------------------------------------------------------------------
// Batch norm over (N,C,H,W) or (N,C). In training, uses batch statistics and updates the
// running ones in place; otherwise normalizes with the running statistics.
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
               bool training, float momentum = 0.1f, float eps = 1e-5f);

// --- losses ----------------------------------------------------------------------------------
Var log_softmax(const Var& logits);                        // row-wise over (B, C)
Var cross_entropy(const Var& logits, const Tensor& labels);  // mean over the batch
// Mean over rows of -sum_j target[b,j] * log_softmax(logits)[b,j]; target is a constant.
Var soft_cross_entropy(const Var& logits, const Tensor& target_probs);
// Softmax of a constant tensor at a temperature (distillation targets).
Tensor softmax(const Tensor& logits, float temperature = 1.0f);

}  // namespace lowbit
