// Standard layers: Linear, Conv2d, BatchNorm (1-d and 2-d), ReLU, MaxPool2d, global average
// pooling, Flatten, Identity and Sequential. Weights are Kaiming-normal (fan-in, ReLU gain),
// biases zero, batch-norm scale one — drawn deterministically by init_parameters().
#pragma once

#include "lowbit/nn/module.h"
#include "lowbit/ops/ops.h"

namespace lowbit::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "Linear"; }
  void reset_parameters(uint64_t seed) override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool has_bias() const { return bias_ != nullptr; }
  Var& weight() { return *weight_; }  // (out, in)
  Var* bias() { return bias_; }       // (out) or null

 private:
  int64_t in_, out_;
  Var* weight_;
  Var* bias_ = nullptr;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv2dOptions opt = {}, bool bias = false);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "Conv2d"; }
  void reset_parameters(uint64_t seed) override;
  const Conv2dOptions& options() const { return opt_; }
  Var& weight() { return *weight_; }  // (out, in/groups, k, k)
  Var* bias() { return bias_; }

 private:
  Conv2dOptions opt_;
  Var* weight_;
  Var* bias_ = nullptr;
};

class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "BatchNorm"; }
  void reset_parameters(uint64_t seed) override;
  float eps() const { return eps_; }

 private:
  float momentum_, eps_;
  Var *gamma_, *beta_;
  Tensor *running_mean_, *running_var_;
};

class ReLU : public Module {
 public:
  Var forward(const Var& x) override { return relu(x); }
  std::string_view type() const override { return "ReLU"; }
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t padding = 0) : k_(kernel), s_(stride), p_(padding) {}
  Var forward(const Var& x) override { return max_pool2d(x, k_, s_, p_); }
  std::string_view type() const override { return "MaxPool2d"; }
  int64_t kernel() const { return k_; }
  int64_t stride() const { return s_; }
  int64_t padding() const { return p_; }

 private:
  int64_t k_, s_, p_;
};

class GlobalAvgPool : public Module {
 public:
  Var forward(const Var& x) override { return global_avg_pool2d(x); }
  std::string_view type() const override { return "GlobalAvgPool"; }
};

class Flatten : public Module {
 public:
  Var forward(const Var& x) override { return flatten(x); }
  std::string_view type() const override { return "Flatten"; }
};

class Identity : public Module {
 public:
  Var forward(const Var& x) override { return x; }
  std::string_view type() const override { return "Identity"; }
};

// Children named "0", "1", ... applied in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential& add(std::shared_ptr<Module> m);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "Sequential"; }
  size_t size() const { return slots_.size(); }

 private:
  std::vector<ModuleSlot> slots_;
};

}  // namespace lowbit::nn
