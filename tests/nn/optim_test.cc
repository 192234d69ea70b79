// Optimizer updates against hand-computed values; LR schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "lowbit/nn/optim.h"

namespace lowbit::nn {
namespace {

NamedParams one_param(float w, float g) {
  Var p(Tensor::from({1}, {w}), true);
  p.grad() = Tensor::from({1}, {g});
  return {{"p", p}};
}

TEST(Optim, SgdMomentumAndWeightDecay) {
  auto params = one_param(1.0f, 0.5f);
  Sgd opt(params, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f});
  opt.step();  // d = 0.5 + 0.01 = 0.51; v = 0.51; w = 1 - 0.051
  EXPECT_FLOAT_EQ(params[0].second.value().item(), 0.949f);
  opt.step();  // d = 0.5 + 0.00949; v = 0.9*0.51 + d; w -= 0.1 v
  const float d = 0.5f + 0.01f * 0.949f, v = 0.9f * 0.51f + d;
  EXPECT_FLOAT_EQ(params[0].second.value().item(), 0.949f - 0.1f * v);
  EXPECT_EQ(opt.named_state().size(), 1u);
}

TEST(Optim, AdamFirstStepIsLrTimesSign) {
  auto params = one_param(1.0f, -3.0f);
  Adam opt(params, {.lr = 0.01f});
  opt.step();  // bias-corrected m/sqrt(v) = g/|g| (up to eps)
  EXPECT_NEAR(params[0].second.value().item(), 1.01f, 1e-6);
}

TEST(Optim, SkipsParametersWithoutGradient) {
  Var p(Tensor::from({1}, {2.0f}), true);
  Sgd opt({{"p", p}}, {.lr = 1.0f});
  opt.step();
  EXPECT_EQ(p.value().item(), 2.0f);
}

TEST(Optim, Schedules) {
  MultiStepLr ms(1.0f, {2, 4}, 0.1f);
  EXPECT_FLOAT_EQ(ms.lr(0), 1.0f);
  EXPECT_FLOAT_EQ(ms.lr(2), 0.1f);
  EXPECT_FLOAT_EQ(ms.lr(4.5), 0.01f);
  CosineLr cos(1.0f, 10);
  EXPECT_FLOAT_EQ(cos.lr(0), 1.0f);
  EXPECT_NEAR(cos.lr(5), 0.5f, 1e-6);
  EXPECT_NEAR(cos.lr(10), 0.0f, 1e-6);
  EXPECT_THROW(MultiStepLr(1.0f, {4, 2}, 0.1f), ValueError);
  EXPECT_THROW(Sgd({}, {.lr = -1.0f}), ValueError);
}

}  // namespace
}  // namespace lowbit::nn
