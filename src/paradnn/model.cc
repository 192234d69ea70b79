// Generated FC and ResNet-v1 networks as nn modules, and their analytic sizes.
#include "lowbit/paradnn/model.h"

#include "lowbit/core/error.h"
#include "lowbit/nn/layers.h"
#include "lowbit/ops/ops.h"
#include "model_layout.h"
#include "rnn_model.h"

namespace lowbit::paradnn {
namespace {

class FcNet : public nn::Module {
 public:
  explicit FcNet(const ModelConfig& c) {
    int64_t in = c.get("input");
    for (int64_t i = 0; i < c.get("layers"); ++i) {
      hidden_.push_back(register_module(fmt::format("fc{}", i), std::make_shared<nn::Linear>(in, c.get("nodes"))));
      in = c.get("nodes");
    }
    out_ = register_module("out", std::make_shared<nn::Linear>(in, c.get("output")));
  }
  Var forward(const Var& x) override {
    Var h = x;
    for (const auto& slot : hidden_) h = relu(slot(h));
    return out_(h);
  }
  std::string_view type() const override { return "ParaDnnFc"; }

 private:
  std::vector<nn::ModuleSlot> hidden_;
  nn::ModuleSlot out_;
};

class ConvBn : public nn::Module {
 public:
  explicit ConvBn(const ConvSpec& s) : relu_(s.relu) {
    conv_ = register_module("conv", std::make_shared<nn::Conv2d>(s.in, s.out, s.kernel,
                                                                 Conv2dOptions{.stride = s.stride, .padding = s.kernel / 2}));
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(s.out));
  }
  Var forward(const Var& x) override {
    Var h = bn_(conv_(x));
    return relu_ ? relu(h) : h;
  }
  std::string_view type() const override { return "ConvBn"; }

 private:
  bool relu_;
  nn::ModuleSlot conv_, bn_;
};

class ResBlock : public nn::Module {
 public:
  explicit ResBlock(const BlockSpec& b) {
    for (size_t i = 0; i < b.convs.size(); ++i)
      convs_.push_back(register_module(b.convs[i].name, std::make_shared<ConvBn>(b.convs[i])));
    if (b.proj) proj_ = register_module(b.proj->name, std::make_shared<ConvBn>(*b.proj));
    has_proj_ = b.proj.has_value();
  }
  Var forward(const Var& x) override {
    Var h = x;
    for (const auto& slot : convs_) h = slot(h);
    return relu(add(h, has_proj_ ? proj_(x) : x));
  }
  std::string_view type() const override { return "ResBlock"; }

 private:
  std::vector<nn::ModuleSlot> convs_;
  nn::ModuleSlot proj_;
  bool has_proj_ = false;
};

class ResNetV1 : public nn::Module {
 public:
  explicit ResNetV1(const ResNetLayout& l) {
    stem_ = register_module("stem", std::make_shared<ConvBn>(l.stem));
    for (const auto& b : l.blocks) blocks_.push_back(register_module(b.name, std::make_shared<ResBlock>(b)));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(l.feature_dim, l.classes));
  }
  Var forward(const Var& x) override {
    Var h = max_pool2d(stem_(x), 3, 2, 1);
    for (const auto& slot : blocks_) h = slot(h);
    return fc_(global_avg_pool2d(h));
  }
  std::string_view type() const override { return "ParaDnnResNetV1"; }

 private:
  nn::ModuleSlot stem_, fc_;
  std::vector<nn::ModuleSlot> blocks_;
};

}  // namespace

Shape example_shape(const ModelConfig& c) {
  if (c.family == "fc") return {c.get("input")};
  if (c.family == "rnn") return {c.get("length")};
  return {3, c.get("image"), c.get("image")};
}

int64_t num_classes(const ModelConfig& c) {
  if (c.family == "rnn") return c.get("vocab");
  return c.family == "fc" ? c.get("output") : c.get("classes");
}

ModelStats analyze(const ModelConfig& c) {
  validate(c);
  if (c.family == "rnn") return analyze_rnn(c);
  ModelStats s;
  if (c.family == "fc") {
    int64_t in = c.get("input");
    auto dense = [&](int64_t out) {
      s.params += in * out + out;
      s.forward_flops_per_example += 2.0 * static_cast<double>(in) * static_cast<double>(out);
      in = out;
    };
    for (int64_t i = 0; i < c.get("layers"); ++i) dense(c.get("nodes"));
    dense(c.get("output"));
    return s;
  }
  const ResNetLayout l = resnet_layout(c);
  auto conv = [&](const ConvSpec& k) {
    s.params += k.out * k.in * k.kernel * k.kernel + 2 * k.out;  // weights + BN scale and shift
    s.forward_flops_per_example += 2.0 * static_cast<double>(k.out * k.out_hw * k.out_hw) *
                                   static_cast<double>(k.in * k.kernel * k.kernel);
  };
  conv(l.stem);
  for (const auto& b : l.blocks) {
    for (const auto& k : b.convs) conv(k);
    if (b.proj) conv(*b.proj);
  }
  s.params += l.feature_dim * l.classes + l.classes;
  s.forward_flops_per_example += 2.0 * static_cast<double>(l.feature_dim) * static_cast<double>(l.classes);
  return s;
}

double flops_per_example(const ModelConfig& c, bool training) {
  return analyze(c).forward_flops_per_example * (training ? 3.0 : 1.0);
}

std::shared_ptr<nn::Module> build_module(const ModelConfig& c, uint64_t seed) {
  validate(c);
  std::shared_ptr<nn::Module> m;
  if (c.family == "fc") m = std::make_shared<FcNet>(c);
  else if (c.family == "rnn") m = build_rnn_module(c);
  else m = std::make_shared<ResNetV1>(resnet_layout(c));
  nn::init_parameters(*m, seed);
  return m;
}

}  // namespace lowbit::paradnn
