// Every op's backward against finite differences (see gradcheck.h for the tolerance model).
#include <gtest/gtest.h>

#include "gradcheck.h"
#include "lowbit/ops/ops.h"

namespace lowbit {
namespace {

using testing::gradcheck;
using testing::random_tensor;

TEST(Grad, Linear) {
  gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
            {random_tensor({5, 7}, 1), random_tensor({3, 7}, 2), random_tensor({3}, 3)}, 7);
}

TEST(Grad, Matmul) {
  gradcheck([](const std::vector<Var>& v) { return matmul(v[0], v[1]); },
            {random_tensor({4, 6}, 1), random_tensor({6, 3}, 2)}, 6);
}

TEST(Grad, Conv2dStridedPaddedGrouped) {
  gradcheck([](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {.stride = 2, .padding = 1, .groups = 2}); },
            {random_tensor({2, 4, 7, 6}, 1), random_tensor({6, 2, 3, 3}, 2), random_tensor({6}, 3)}, 18);
}

TEST(Grad, Conv2dPlain) {
  gradcheck([](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), {}); },
            {random_tensor({1, 3, 5, 5}, 4), random_tensor({2, 3, 3, 3}, 5)}, 27);
}

TEST(Grad, BatchNormTraining) {
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0f);
  gradcheck(
      [&](const std::vector<Var>& v) {
        Tensor m = rm.clone(), s = rv.clone();  // keep running stats fixed across probes
        return batch_norm(v[0], v[1], v[2], m, s, true);
      },
      {random_tensor({4, 3, 3, 2}, 1), random_tensor({3}, 2), random_tensor({3}, 3)}, 24);
}

TEST(Grad, BatchNormEval) {
  Tensor rm = random_tensor({3}, 8, 0.1f), rv = Tensor::full({3}, 2.0f);
  gradcheck([&](const std::vector<Var>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); },
            {random_tensor({2, 3, 2, 2}, 1), random_tensor({3}, 2), random_tensor({3}, 3)});
}

TEST(Grad, ReluMaxPoolAvgPool) {
  gradcheck([](const std::vector<Var>& v) { return relu(v[0]); }, {testing::distinct_tensor({3, 5}, 1)}, 1, 1e-2f);
  gradcheck([](const std::vector<Var>& v) { return max_pool2d(v[0], 3, 2, 1); },
            {testing::distinct_tensor({2, 2, 7, 7}, 2)}, 1, 1e-2f);
  gradcheck([](const std::vector<Var>& v) { return avg_pool2d(v[0], 2, 2, 0); }, {random_tensor({2, 2, 5, 6}, 3)});
  gradcheck([](const std::vector<Var>& v) { return global_avg_pool2d(v[0]); }, {random_tensor({2, 3, 4, 5}, 4)});
}

TEST(Grad, SigmoidTanh) {
  gradcheck([](const std::vector<Var>& v) { return sigmoid(v[0]); }, {random_tensor({3, 5}, 1, 3.0f)});
  gradcheck([](const std::vector<Var>& v) { return tanh(v[0]); }, {random_tensor({3, 5}, 2, 3.0f)});
}

TEST(Grad, ShapeOps) {
  gradcheck([](const std::vector<Var>& v) { return narrow(flatten(v[0]), 1, 2, 5); }, {random_tensor({3, 2, 4}, 1)});
  gradcheck([](const std::vector<Var>& v) { return cat({v[0], v[1]}, 1); }, {random_tensor({2, 3}, 1), random_tensor({2, 2}, 2)});
  gradcheck([](const std::vector<Var>& v) { return shortcut_pad(v[0], 2, 8); }, {random_tensor({2, 4, 5, 5}, 3)});
  gradcheck([](const std::vector<Var>& v) { return add(mul(v[0], v[1]), sub(v[0], scale(v[1], 0.5f))); },
            {random_tensor({4, 3}, 4), random_tensor({4, 3}, 5)});
  gradcheck([](const std::vector<Var>& v) { return add_scalar(mul_scalar(v[0], v[1]), v[2]); },
            {random_tensor({3, 4}, 6), random_tensor({1}, 7), random_tensor({1}, 8)}, 12);
}

TEST(Grad, Losses) {
  const Tensor labels = Tensor::from<int32_t>({4}, std::vector<int32_t>{0, 2, 1, 2});
  gradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], labels); }, {random_tensor({4, 3}, 1)}, 3);
  gradcheck([](const std::vector<Var>& v) { return log_softmax(v[0]); }, {random_tensor({3, 5}, 2)}, 5);
  const Tensor target = softmax(random_tensor({4, 3}, 9), 2.0f);
  gradcheck([&](const std::vector<Var>& v) { return soft_cross_entropy(v[0], target); }, {random_tensor({4, 3}, 3)}, 3);
  gradcheck([](const std::vector<Var>& v) { return mean(v[0]); }, {random_tensor({3, 3}, 4)});
}

}  // namespace
}  // namespace lowbit
