// Layer constructors, forwards and initializers.
#include "lowbit/nn/layers.h"

#include <cmath>

#include "lowbit/core/rng.h"

namespace lowbit::nn {
namespace {

void kaiming_normal(Tensor& w, int64_t fan_in, uint64_t seed) {
  const float std = std::sqrt(2.0f / static_cast<float>(fan_in));
  float* p = w.data<float>();
  normal_fill(seed, 0, 0, w.numel(), p);
  for (int64_t i = 0; i < w.numel(); ++i) p[i] *= std;
}

}  // namespace

Linear::Linear(int64_t in_features, int64_t out_features, bool bias) : in_(in_features), out_(out_features) {
  LOWBIT_REQUIRE(in_features >= 1 && out_features >= 1, "Linear", "features must be positive, got {} -> {}",
                 in_features, out_features);
  weight_ = &register_parameter("weight", Tensor::zeros({out_features, in_features}));
  if (bias) bias_ = &register_parameter("bias", Tensor::zeros({out_features}));
}

Var Linear::forward(const Var& x) { return linear(x, *weight_, bias_ ? *bias_ : Var()); }

void Linear::reset_parameters(uint64_t seed) {
  kaiming_normal(weight_->mutable_value(), in_, seed);
  if (bias_) bias_->mutable_value().fill_(0.0f);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Conv2dOptions opt, bool bias) : opt_(opt) {
  LOWBIT_REQUIRE(in_channels >= 1 && out_channels >= 1 && kernel >= 1 && opt.groups >= 1 &&
                     in_channels % opt.groups == 0 && out_channels % opt.groups == 0,
                 "Conv2d", "bad geometry in={} out={} kernel={} groups={}", in_channels, out_channels, kernel,
                 opt.groups);
  weight_ = &register_parameter("weight", Tensor::zeros({out_channels, in_channels / opt.groups, kernel, kernel}));
  if (bias) bias_ = &register_parameter("bias", Tensor::zeros({out_channels}));
}

Var Conv2d::forward(const Var& x) { return conv2d(x, *weight_, bias_ ? *bias_ : Var(), opt_); }

void Conv2d::reset_parameters(uint64_t seed) {
  const Shape& s = weight_->shape();
  kaiming_normal(weight_->mutable_value(), s[1] * s[2] * s[3], seed);
  if (bias_) bias_->mutable_value().fill_(0.0f);
}

BatchNorm::BatchNorm(int64_t channels, float momentum, float eps) : momentum_(momentum), eps_(eps) {
  LOWBIT_REQUIRE(channels >= 1, "BatchNorm", "channels must be positive, got {}", channels);
  gamma_ = &register_parameter("weight", Tensor::full({channels}, 1.0f));
  beta_ = &register_parameter("bias", Tensor::zeros({channels}));
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = &register_buffer("running_var", Tensor::full({channels}, 1.0f));
}

Var BatchNorm::forward(const Var& x) {
  return batch_norm(x, *gamma_, *beta_, *running_mean_, *running_var_, training(), momentum_, eps_);
}

void BatchNorm::reset_parameters(uint64_t) {
  gamma_->mutable_value().fill_(1.0f);
  beta_->mutable_value().fill_(0.0f);
  running_mean_->fill_(0.0f);
  running_var_->fill_(1.0f);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  slots_.push_back(register_module(std::to_string(slots_.size()), std::move(m)));
  return *this;
}

Var Sequential::forward(const Var& x) {
  Var h = x;
  for (const ModuleSlot& s : slots_) h = s(h);
  return h;
}

}  // namespace lowbit::nn
