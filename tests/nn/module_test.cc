// Module tree: names, replacement by path, model zoo shapes and parameter counts.
#include <gtest/gtest.h>

#include "lowbit/nn/models.h"
#include "lowbit/ops/ops.h"

namespace lowbit::nn {
namespace {

TEST(Module, NamedParametersAndBuffers) {
  auto m = build_model("cnn", {1, 28, 28}, 10);
  auto names = m->named_parameters();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front().first, "backbone.0.weight");
  EXPECT_EQ(names.back().first, "fc.bias");
  bool found = false;
  for (auto& [n, b] : m->named_buffers()) found = found || n == "backbone.1.running_mean";
  EXPECT_TRUE(found);
}

TEST(Module, ResNetParameterCountsMatchThePaper) {
  // CIFAR ResNet with option-A shortcuts: 0.27M (ResNet-20) and 0.46M (ResNet-32) parameters
  // for 3-channel input and 10 classes (He et al. 2016, Table 6; exact totals as printed by the
  // widely used PyTorch reimplementation). BN counts weight + bias.
  EXPECT_EQ(build_model("resnet20", {3, 32, 32}, 10)->num_parameters(), 269722);
  EXPECT_EQ(build_model("resnet32", {3, 32, 32}, 10)->num_parameters(), 464154);
}

TEST(Module, ForwardShapes) {
  for (const std::string name : {"mlp", "cnn", "resnet20"}) {
    auto m = build_model(name, {1, 28, 28}, 10);
    init_parameters(*m, 1);
    const Var y = (*m)(Var(Tensor::zeros({3, 1, 28, 28})));
    EXPECT_EQ(y.shape(), (Shape{3, 10})) << name;
  }
  auto f = build_model("fcnet", {405}, 19);
  EXPECT_EQ((*f)(Var(Tensor::zeros({2, 405}))).shape(), (Shape{2, 19}));
  EXPECT_EQ(f->num_parameters(), 405 * 405 * 2 + 405 * 19);
}

TEST(Module, ReplaceByPathIsFollowedByForward) {
  auto m = build_model("mlp", {4}, 3);
  init_parameters(*m, 1);
  const Tensor x = Tensor::full({2, 4}, 1.0f);
  m->replace("backbone.1", std::make_shared<Identity>());  // 4 -> 512 layer replaced: shape error now
  EXPECT_THROW((*m)(Var(x)), ValueError);
  EXPECT_THROW(m->replace("backbone.99", std::make_shared<Identity>()), ValueError);
  EXPECT_THROW(m->find("nope"), ValueError);
}

TEST(Module, InitIsDeterministicAndSeedDependent) {
  auto a = build_model("cnn", {1, 8, 8}, 3), b = build_model("cnn", {1, 8, 8}, 3), c = build_model("cnn", {1, 8, 8}, 3);
  init_parameters(*a, 5);
  init_parameters(*b, 5);
  init_parameters(*c, 6);
  EXPECT_EQ(a->parameters()[0].value().to_vector(), b->parameters()[0].value().to_vector());
  EXPECT_NE(a->parameters()[0].value().to_vector(), c->parameters()[0].value().to_vector());
}

TEST(Module, ExpandClassesKeepsOldRows) {
  auto m = build_model("mlp", {4}, 2);
  init_parameters(*m, 3);
  const auto old_w = m->find("fc")->named_parameters()[0].second.value().to_vector();
  m->expand_classes(5, 11);
  EXPECT_EQ(m->num_classes(), 5);
  const auto new_w = m->find("fc")->named_parameters()[0].second.value().to_vector();
  for (size_t i = 0; i < old_w.size(); ++i) EXPECT_EQ(new_w[i], old_w[i]);
  EXPECT_THROW(m->expand_classes(3, 1), ValueError);
}

TEST(Module, BadModelNames) {
  EXPECT_THROW(build_model("resnet21", {1, 28, 28}, 10), ValueError);
  EXPECT_THROW(build_model("vgg", {1, 28, 28}, 10), ValueError);
  EXPECT_THROW(build_model("resnet20", {784}, 10), ValueError);
}

}  // namespace
}  // namespace lowbit::nn
