// Optimizers (SGD with momentum / Nesterov / weight decay, Adam) and learning-rate schedules
// (constant, multi-step, cosine). Optimizer state is exposed by name for checkpoints.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lowbit/ops/var.h"

namespace lowbit::nn {

using NamedParams = std::vector<std::pair<std::string, Var>>;

class Optimizer {
 public:
  explicit Optimizer(NamedParams params, float lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // parameters without a gradient are skipped
  virtual std::string_view type() const = 0;
  void zero_grad();
  float lr() const { return lr_; }
  void set_lr(float lr) { lr_ = lr; }
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }
  // State tensors ("<param>.momentum", ...), created lazily; checkpoints save and restore them.
  std::vector<std::pair<std::string, Tensor*>> named_state();
  const NamedParams& params() const { return params_; }

 protected:
  Tensor& state(size_t param, const std::string& kind);
  NamedParams params_;
  float lr_;
  int64_t steps_ = 0;

 private:
  std::vector<std::vector<std::pair<std::string, Tensor>>> state_;
};

struct SgdOptions {
  float lr = 0.1f, momentum = 0.9f, weight_decay = 0.0f;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(NamedParams params, SgdOptions opt);
  void step() override;
  std::string_view type() const override { return "sgd"; }

 private:
  SgdOptions opt_;
};

struct AdamOptions {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
};

class Adam : public Optimizer {
 public:
  Adam(NamedParams params, AdamOptions opt);
  void step() override;
  std::string_view type() const override { return "adam"; }

 private:
  AdamOptions opt_;
};

// Learning rate as a function of training progress (fractional epochs).
class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual float lr(double epoch) const = 0;
};

class ConstantLr : public LrSchedule {
 public:
  explicit ConstantLr(float base) : base_(base) {}
  float lr(double) const override { return base_; }

 private:
  float base_;
};

// base * gamma^(number of milestones <= epoch)
class MultiStepLr : public LrSchedule {
 public:
  MultiStepLr(float base, std::vector<int64_t> milestones, float gamma);
  float lr(double epoch) const override;

 private:
  float base_, gamma_;
  std::vector<int64_t> milestones_;
};

// min + (base - min) * (1 + cos(pi * epoch / total)) / 2
class CosineLr : public LrSchedule {
 public:
  CosineLr(float base, double total_epochs, float min_lr = 0.0f);
  float lr(double epoch) const override;

 private:
  float base_, min_;
  double total_;
};

}  // namespace lowbit::nn
