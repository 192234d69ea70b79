// The model zoo: MLP, fcnet, small CNN and CIFAR-style ResNets, all as Classifiers.
#include "lowbit/nn/models.h"

#include "lowbit/core/rng.h"

namespace lowbit::nn {
namespace {

std::shared_ptr<Module> make_mlp(int64_t in) {
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Flatten>());
  s->add(std::make_shared<Linear>(in, 512)).add(std::make_shared<ReLU>());
  s->add(std::make_shared<Linear>(512, 256)).add(std::make_shared<ReLU>());
  return s;
}

std::shared_ptr<Module> make_fcnet(int64_t d) {
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Flatten>());
  s->add(std::make_shared<Linear>(d, d, false)).add(std::make_shared<ReLU>());
  s->add(std::make_shared<Linear>(d, d, false)).add(std::make_shared<ReLU>());
  return s;
}

// The reference code's FCNet (QuantizedCIL backbones/fc_net.py, one hidden layer): d -> 100 ->
// 100 with ReLU after each, biases, so the head sees 100 features (issue 14's protocol option).
std::shared_ptr<Module> make_fcnet_narrow(int64_t d, int64_t hidden) {
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Flatten>());
  s->add(std::make_shared<Linear>(d, hidden)).add(std::make_shared<ReLU>());
  s->add(std::make_shared<Linear>(hidden, hidden)).add(std::make_shared<ReLU>());
  return s;
}

std::shared_ptr<Module> make_cnn(int64_t c, int64_t h, int64_t w) {
  auto s = std::make_shared<Sequential>();
  const Conv2dOptions same{.stride = 1, .padding = 1};
  s->add(std::make_shared<Conv2d>(c, 32, 3, same)).add(std::make_shared<BatchNorm>(32));
  s->add(std::make_shared<ReLU>()).add(std::make_shared<MaxPool2d>(2, 2));
  s->add(std::make_shared<Conv2d>(32, 64, 3, same)).add(std::make_shared<BatchNorm>(64));
  s->add(std::make_shared<ReLU>()).add(std::make_shared<MaxPool2d>(2, 2));
  s->add(std::make_shared<Flatten>());
  s->add(std::make_shared<Linear>(64 * (h / 4) * (w / 4), 128)).add(std::make_shared<ReLU>());
  return s;
}

std::shared_ptr<Module> make_resnet(int64_t depth, int64_t c) {
  const int64_t n = (depth - 2) / 6;
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Conv2d>(c, 16, 3, Conv2dOptions{.stride = 1, .padding = 1}));
  s->add(std::make_shared<BatchNorm>(16)).add(std::make_shared<ReLU>());
  int64_t in = 16;
  for (int64_t stage = 0; stage < 3; ++stage) {
    const int64_t out = 16 << stage;
    auto blocks = std::make_shared<Sequential>();
    for (int64_t b = 0; b < n; ++b) {
      blocks->add(std::make_shared<BasicBlock>(in, out, (b == 0 && stage > 0) ? 2 : 1));
      in = out;
    }
    s->add(blocks);
  }
  s->add(std::make_shared<GlobalAvgPool>());
  return s;
}

}  // namespace

Classifier::Classifier(std::string name, std::shared_ptr<Module> backbone, int64_t feature_dim, int64_t num_classes,
                       bool head_bias)
    : name_(std::move(name)), feature_dim_(feature_dim), head_bias_(head_bias) {
  backbone_ = register_module("backbone", std::move(backbone));
  head_ = register_module("fc", std::make_shared<Linear>(feature_dim, num_classes, head_bias));
}

int64_t Classifier::num_classes() const { return head_->named_parameters().front().second.size(0); }

void Classifier::expand_classes(int64_t total, uint64_t seed) {
  const int64_t old = num_classes();
  LOWBIT_REQUIRE(total >= old, "Classifier::expand_classes", "cannot shrink the head from {} to {} classes", old,
                 total);
  if (total == old) return;
  auto fresh = std::make_shared<Linear>(feature_dim_, total, head_bias_);
  fresh->reset_parameters(seed);
  // Read the old rows by parameter name: the head may have been swapped for a quantized layer.
  fresh->weight().mutable_value().narrow(0, 0, old).copy_(head_->parameter("weight").value());
  if (head_bias_) fresh->bias()->mutable_value().narrow(0, 0, old).copy_(head_->parameter("bias").value());
  replace("fc", fresh);
}

BasicBlock::BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride)
    : stride_(stride), out_channels_(out_channels), project_(stride != 1 || in_channels != out_channels) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, out_channels, 3,
                                                             Conv2dOptions{.stride = stride, .padding = 1}));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm>(out_channels));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out_channels, out_channels, 3,
                                                             Conv2dOptions{.stride = 1, .padding = 1}));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm>(out_channels));
}

Var BasicBlock::forward(const Var& x) {
  Var h = relu(bn1_(conv1_(x)));
  h = bn2_(conv2_(h));
  const Var shortcut = project_ ? shortcut_pad(x, stride_, out_channels_) : x;
  return relu(add(h, shortcut));
}

std::vector<std::string> model_names() { return {"mlp", "fcnet", "fcnet100", "cnn", "resnet20", "resnet32", "resnet44", "resnet56"}; }

// Limits that keep a corrupt checkpoint's metadata from asking for terabytes of weights; far
// above any data set lowbit trains on (CIFAR: 3x32x32 inputs, 100 classes; 3x224x224 fits).
constexpr int64_t kMaxInputElements = int64_t{1} << 18, kMaxClasses = int64_t{1} << 16,
                  kMaxFcnetInput = int64_t{1} << 14;

std::shared_ptr<Classifier> build_model(const std::string& name, const Shape& input, int64_t num_classes) {
  LOWBIT_REQUIRE(num_classes >= 1, "build_model", "num_classes must be positive, got {}", num_classes);
  LOWBIT_REQUIRE(!input.empty(), "build_model", "input shape is empty");
  LOWBIT_REQUIRE(num_classes <= kMaxClasses, "build_model", "num_classes {} is above the {} limit", num_classes, kMaxClasses);
  LOWBIT_REQUIRE(input.size() <= 4, "build_model", "input shape {} has rank above 4", shape_str(input));
  int64_t flat = 1;
  for (int64_t d : input) {
    LOWBIT_REQUIRE(d >= 1, "build_model", "input shape {} has a non-positive dimension", shape_str(input));
    LOWBIT_REQUIRE(d <= kMaxInputElements / flat, "build_model", "input shape {} has more than {} elements",
                   shape_str(input), kMaxInputElements);
    flat *= d;
  }
  if (name == "mlp") return std::make_shared<Classifier>(name, make_mlp(flat), 256, num_classes);
  if (name == "fcnet") {  // flat x flat weights
    LOWBIT_REQUIRE(flat <= kMaxFcnetInput, "build_model", "fcnet input of {} elements is above the {} limit", flat,
                   kMaxFcnetInput);
    return std::make_shared<Classifier>(name, make_fcnet(flat), flat, num_classes, false);
  }
  if (name == "fcnet100") return std::make_shared<Classifier>(name, make_fcnet_narrow(flat, 100), 100, num_classes);
  const bool image = input.size() == 3;
  if (name == "cnn") {
    LOWBIT_REQUIRE(image && input[1] >= 4 && input[2] >= 4, "build_model", "cnn needs (C,H,W) input of at least 4x4, got {}",
                   shape_str(input));
    return std::make_shared<Classifier>(name, make_cnn(input[0], input[1], input[2]), 128, num_classes);
  }
  if (name.rfind("resnet", 0) == 0) {
    const std::string digits = name.substr(6);
    const int64_t depth = digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos
                              ? -1
                              : std::stoll(digits);
    LOWBIT_REQUIRE(depth >= 8 && (depth - 2) % 6 == 0, "build_model", "'{}': ResNet depth must be 6n+2 (20, 32, 44, 56)",
                   name);
    LOWBIT_REQUIRE(image, "build_model", "{} needs (C,H,W) input, got {}", name, shape_str(input));
    return std::make_shared<Classifier>(name, make_resnet(depth, input[0]), 64, num_classes);
  }
  throw ValueError(fmt::format("[build_model] unknown model '{}' (expected mlp, fcnet, cnn or resnet<6n+2>)", name));
}

}  // namespace lowbit::nn
