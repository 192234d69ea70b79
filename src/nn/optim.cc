// Optimizer updates (fp32 master weights, in place) and LR schedules.
#include "lowbit/nn/optim.h"

#include <algorithm>
#include <cmath>

#include "lowbit/core/threads.h"

namespace lowbit::nn {

Optimizer::Optimizer(NamedParams params, float lr) : params_(std::move(params)), lr_(lr), state_(params_.size()) {
  LOWBIT_REQUIRE(std::isfinite(lr) && lr >= 0, "Optimizer", "learning rate must be finite and >= 0, got {}", lr);
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

Tensor& Optimizer::state(size_t param, const std::string& kind) {
  for (auto& [k, t] : state_[param])
    if (k == kind) return t;
  state_[param].emplace_back(kind, Tensor::zeros(params_[param].second.shape()));
  return state_[param].back().second;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::named_state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& [k, t] : state_[i]) out.emplace_back(params_[i].first + "." + k, &t);
  return out;
}

Sgd::Sgd(NamedParams params, SgdOptions opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
  LOWBIT_REQUIRE(opt.momentum >= 0 && opt.momentum < 1 && opt.weight_decay >= 0, "Sgd",
                 "momentum must be in [0, 1) and weight decay >= 0, got {} and {}", opt.momentum, opt.weight_decay);
  if (opt_.momentum > 0)
    for (size_t i = 0; i < params_.size(); ++i) state(i, "momentum");
}

void Sgd::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Var& p = params_[i].second;
    if (!p.grad().defined()) continue;
    float* w = p.mutable_value().data<float>();
    const float* g = p.grad().data<float>();
    float* v = opt_.momentum > 0 ? state(i, "momentum").data<float>() : nullptr;
    const float lr = lr_, mu = opt_.momentum, wd = opt_.weight_decay;
    const bool nesterov = opt_.nesterov;
    parallel_for(p.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        float d = g[j] + wd * w[j];
        if (v) {
          v[j] = mu * v[j] + d;  // PyTorch convention: dampening 0, first step v = d
          d = nesterov ? d + mu * v[j] : v[j];
        }
        w[j] -= lr * d;
      }
    });
  }
  ++steps_;
}

Adam::Adam(NamedParams params, AdamOptions opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
  LOWBIT_REQUIRE(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1 && opt.eps > 0, "Adam",
                 "betas must be in [0, 1) and eps > 0");
  for (size_t i = 0; i < params_.size(); ++i) {
    state(i, "exp_avg");
    state(i, "exp_avg_sq");
  }
}

void Adam::step() {
  ++steps_;
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps, wd = opt_.weight_decay;
  const float c1 = 1.0f - std::pow(b1, static_cast<float>(steps_));
  const float c2 = 1.0f - std::pow(b2, static_cast<float>(steps_));
  const float step = lr_ / c1, inv_sqrt_c2 = 1.0f / std::sqrt(c2);
  for (size_t i = 0; i < params_.size(); ++i) {
    Var& p = params_[i].second;
    if (!p.grad().defined()) continue;
    float* w = p.mutable_value().data<float>();
    const float* g = p.grad().data<float>();
    float* m = state(i, "exp_avg").data<float>();
    float* v = state(i, "exp_avg_sq").data<float>();
    parallel_for(p.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j) {
        const float d = g[j] + wd * w[j];
        m[j] = b1 * m[j] + (1 - b1) * d;
        v[j] = b2 * v[j] + (1 - b2) * d * d;
        w[j] -= step * m[j] / (std::sqrt(v[j]) * inv_sqrt_c2 + eps);
      }
    });
  }
}

MultiStepLr::MultiStepLr(float base, std::vector<int64_t> milestones, float gamma)
    : base_(base), gamma_(gamma), milestones_(std::move(milestones)) {
  LOWBIT_REQUIRE(std::is_sorted(milestones_.begin(), milestones_.end()), "MultiStepLr", "milestones must be increasing");
}

float MultiStepLr::lr(double epoch) const {
  float lr = base_;
  for (int64_t m : milestones_)
    if (epoch >= static_cast<double>(m)) lr *= gamma_;
  return lr;
}

CosineLr::CosineLr(float base, double total_epochs, float min_lr) : base_(base), min_(min_lr), total_(total_epochs) {
  LOWBIT_REQUIRE(total_epochs > 0, "CosineLr", "total epochs must be positive, got {}", total_epochs);
}

float CosineLr::lr(double epoch) const {
  const double t = std::clamp(epoch / total_, 0.0, 1.0);
  return static_cast<float>(min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(M_PI * t)));
}

}  // namespace lowbit::nn
