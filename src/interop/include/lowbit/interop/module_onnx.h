// nn::Module -> onnx::Graph. ModuleEmitter copies a module's parameters and buffers (by dotted
// path) into graph constants and emits the ONNX form of each zoo layer, so lowbit's ONNX engine
// and ONNX Runtime run exactly the network the training engine ran (eval mode: BatchNorm with
// running statistics). Gemm, Conv and BatchNormalization nodes are named by their module's path
// ("backbone.1"), so reports and `lowbit quantize --exclude` speak the training model's names.
// paradnn's generators and `lowbit export` both build on it.
#pragma once

#include <map>
#include <string>

#include "lowbit/nn/models.h"
#include "lowbit/onnx/ir.h"

namespace lowbit::interop {

class ModuleEmitter {
 public:
  explicit ModuleEmitter(nn::Module& root, int opset = 17);
  onnx::GraphBuilder& builder() { return b_; }

  bool has(const std::string& path) const { return tensors_.count(path) != 0; }
  // The constant holding the tensor at `path` ("backbone.0.weight"); one constant per path.
  // InternalError when the module has no such tensor.
  int tensor(const std::string& path);
  // Gemm(x, W, b, transB = 1) of the Linear at `path` (bias only when it has one); x is (N, in).
  int linear(int x, const std::string& path);
  // Conv of the Conv2d-shaped weight at `path`.weight (and .bias when present).
  int conv(int x, const std::string& path, int64_t stride, int64_t padding, int64_t dilation = 1, int64_t groups = 1);
  // BatchNormalization (inference) with `path`.{weight,bias,running_mean,running_var}.
  int batch_norm(int x, const std::string& path, double eps);
  // Any layer of the model zoo (Sequential, Classifier, BasicBlock, Linear, Conv2d, BatchNorm,
  // ReLU, MaxPool2d, GlobalAvgPool, Flatten, Identity), recursively. ValueError naming the path
  // and type for a module without an ONNX form (e.g. a quantized layer: export the fp32 tree).
  int module(int x, nn::Module& m, const std::string& path);

 private:
  int option_a_shortcut(int x, const std::string& path, int64_t stride, int64_t pad_before, int64_t pad_after);

  onnx::GraphBuilder b_;
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, int> constants_;
};

// The eval-mode graph of a classifier: input "x" [N, ...input] f32, output "logits" [N, classes].
onnx::Graph classifier_graph(nn::Classifier& model, const Shape& input, int opset = 17);

}  // namespace lowbit::interop
