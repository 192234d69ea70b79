// Model builders. Every model is a Classifier: a "backbone" producing a feature vector and a
// linear head "fc" (which class-incremental learning grows task by task).
//   mlp       flatten -> 512 -> ReLU -> 256 -> ReLU -> fc
//   fcnet     the HDQT spec's HAR net: Linear(d,d)+ReLU, Linear(d,d)+ReLU, fc; no biases
//   fcnet100  the reference code's HAR net: Linear(d,100)+ReLU, Linear(100,100)+ReLU, fc; biases
//   cnn       [conv3x3(32)-BN-ReLU-maxpool2] x [conv3x3(64)-BN-ReLU-maxpool2] -> 128 -> ReLU -> fc
//   resnetD   CIFAR ResNet, D = 6n+2 (20, 32, 44, 56): conv3x3(16)-BN-ReLU, three stages of n
//             basic blocks with 16/32/64 channels (stride 1/2/2, option-A shortcuts),
//             global average pool -> fc. Any input channel count and spatial size.
#pragma once

#include <string>
#include <vector>

#include "lowbit/nn/layers.h"

namespace lowbit::nn {

class Classifier : public Module {
 public:
  Classifier(std::string name, std::shared_ptr<Module> backbone, int64_t feature_dim, int64_t num_classes,
             bool head_bias = true);
  Var forward(const Var& x) override { return head_(backbone_(x)); }
  Var features(const Var& x) { return backbone_(x); }
  Var head(const Var& features) { return head_(features); }
  std::string_view type() const override { return "Classifier"; }
  const std::string& name() const { return name_; }
  int64_t feature_dim() const { return feature_dim_; }
  int64_t num_classes() const;
  // Grows the head to `total` classes: old rows are kept, new rows freshly initialized.
  void expand_classes(int64_t total, uint64_t seed);

 private:
  std::string name_;
  int64_t feature_dim_;
  bool head_bias_;
  ModuleSlot backbone_, head_;
};

class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "BasicBlock"; }
  int64_t stride() const { return stride_; }
  int64_t out_channels() const { return out_channels_; }
  bool projects() const { return project_; }  // option-A shortcut (subsample + zero channels)

 private:
  int64_t stride_, out_channels_;
  bool project_;
  ModuleSlot conv1_, bn1_, conv2_, bn2_;
};

// input: (C, H, W) for images or (D) for feature vectors.
std::shared_ptr<Classifier> build_model(const std::string& name, const Shape& input, int64_t num_classes);
std::vector<std::string> model_names();

}  // namespace lowbit::nn
