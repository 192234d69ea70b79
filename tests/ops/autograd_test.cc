// Autograd engine semantics: accumulation, shared inputs, no-grad mode, errors.
#include <gtest/gtest.h>

#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

TEST(Autograd, SharedInputGetsSummedGradient) {
  Var x(Tensor::from({3}, {1, 2, 3}), true);
  const Var y = sum(add(mul(x, x), x));  // d/dx = 2x + 1
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, 5, 7}));
}

TEST(Autograd, LeafGradientsAccumulateUntilZeroed) {
  Var x(Tensor::from({2}, {1, 1}), true);
  sum(scale(x, 2.0f)).backward();
  sum(scale(x, 3.0f)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, 5}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, NoGradRecordsNothing) {
  Var x(Tensor::from({2}, {1, 2}), true);
  NoGradGuard g;
  const Var y = scale(x, 2.0f);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.node(), nullptr);
}

TEST(Autograd, DetachStopsGradient) {
  Var x(Tensor::from({2}, {1, 2}), true);
  const Var y = sum(add(x, scale(x, 3.0f).detach()));
  y.backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 1}));
}

TEST(Autograd, ErrorsNameTheOp) {
  Var a(Tensor::zeros({2, 3}), true), b(Tensor::zeros({4, 3}), true);
  try {
    matmul(a, b);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[matmul]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cross_entropy(Var(Tensor::zeros({2, 3})), Tensor::from<int32_t>({2}, std::vector<int32_t>{0, 3})),
               ValueError);
  EXPECT_THROW(Var(Tensor::zeros({2})).backward(), ValueError);
}

TEST(Autograd, DeepChainDoesNotRecurse) {
  Var x(Tensor::from({1}, {1}), true);
  Var y = x;
  for (int i = 0; i < 5000; ++i) y = scale(y, 1.0f);
  sum(y).backward();
  EXPECT_EQ(x.grad().item(), 1.0f);
}

}  // namespace
}  // namespace lowbit
