// The ONNX form of each zoo layer (see module_onnx.h). Paths follow Module::named_parameters:
// a child's path is "<parent>.<name>", the root's children have no prefix.
#include "lowbit/interop/module_onnx.h"

#include <limits>

#include "lowbit/core/error.h"

namespace lowbit::interop {
namespace {

using onnx::Attribute;

std::string child(const std::string& path, const std::string& name) { return path.empty() ? name : path + "." + name; }

onnx::Array int64s(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return onnx::Array::from<int64_t>({n}, v);
}

}  // namespace

ModuleEmitter::ModuleEmitter(nn::Module& root, int opset) : b_(opset) {
  for (auto& [name, v] : root.named_parameters()) tensors_[name] = v.value();
  for (auto& [name, t] : root.named_buffers()) tensors_[name] = *t;
}

int ModuleEmitter::tensor(const std::string& path) {
  if (auto c = constants_.find(path); c != constants_.end()) return c->second;
  auto it = tensors_.find(path);
  if (it == tensors_.end()) throw InternalError(fmt::format("[export onnx] module has no tensor '{}'", path));
  const Tensor t = it->second.contiguous();
  LOWBIT_REQUIRE(t.dtype() == DType::f32, "export onnx", "tensor '{}' is not float32", path);
  const int v = b_.constant(path, onnx::Array::from<float>(t.shape(), std::span<const float>(t.data<float>(), t.numel())));
  constants_[path] = v;
  return v;
}

int ModuleEmitter::linear(int x, const std::string& path) {
  std::vector<int> in{x, tensor(child(path, "weight"))};
  if (has(child(path, "bias"))) in.push_back(tensor(child(path, "bias")));
  return b_.op("Gemm", in, {{"transB", Attribute::from_int(1)}}, 1, path);
}

int ModuleEmitter::conv(int x, const std::string& path, int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
  const int w = tensor(child(path, "weight"));
  const Shape& ws = tensors_.at(child(path, "weight")).shape();
  LOWBIT_REQUIRE(ws.size() == 4, "export onnx", "'{}' has a weight of shape {}; expected (K, C, R, S)", path, shape_str(ws));
  std::vector<int> in{x, w};
  if (has(child(path, "bias"))) in.push_back(tensor(child(path, "bias")));
  return b_.op("Conv", in,
               {{"kernel_shape", Attribute::from_ints({ws[2], ws[3]})},
                {"strides", Attribute::from_ints({stride, stride})},
                {"pads", Attribute::from_ints({padding, padding, padding, padding})},
                {"dilations", Attribute::from_ints({dilation, dilation})},
                {"group", Attribute::from_int(groups)}},
               1, path);
}

int ModuleEmitter::batch_norm(int x, const std::string& path, double eps) {
  return b_.op("BatchNormalization",
               {x, tensor(child(path, "weight")), tensor(child(path, "bias")), tensor(child(path, "running_mean")),
                tensor(child(path, "running_var"))},
               {{"epsilon", Attribute::from_float(eps)}}, 1, path);
}

// x[:, :, ::stride, ::stride] zero-padded with channels before/after: the CIFAR ResNet
// option-A shortcut (ops shortcut_pad) as the Slice + Pad pair the pretrained models use.
int ModuleEmitter::option_a_shortcut(int x, const std::string& path, int64_t stride, int64_t pad_before,
                                     int64_t pad_after) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  int h = b_.op("Slice", {x, b_.constant(path + ".shortcut.starts", int64s({0, 0})),
                          b_.constant(path + ".shortcut.ends", int64s({big, big})),
                          b_.constant(path + ".shortcut.axes", int64s({2, 3})),
                          b_.constant(path + ".shortcut.steps", int64s({stride, stride}))});
  return b_.op("Pad", {h, b_.constant(path + ".shortcut.pads", int64s({0, pad_before, 0, 0, 0, pad_after, 0, 0}))},
               {{"mode", Attribute::from_string("constant")}});
}

int ModuleEmitter::module(int x, nn::Module& m, const std::string& path) {
  const std::string_view type = m.type();
  if (type == "Sequential") {
    auto& s = static_cast<nn::Sequential&>(m);
    for (size_t i = 0; i < s.size(); ++i) x = module(x, *s.find(std::to_string(i)), child(path, std::to_string(i)));
    return x;
  }
  if (type == "Classifier")
    return module(module(x, *m.find("backbone"), child(path, "backbone")), *m.find("fc"), child(path, "fc"));
  if (type == "Linear") return linear(x, path);
  if (type == "Conv2d") {
    const Conv2dOptions& o = static_cast<nn::Conv2d&>(m).options();
    return conv(x, path, o.stride, o.padding, o.dilation, o.groups);
  }
  if (type == "BatchNorm") return batch_norm(x, path, static_cast<nn::BatchNorm&>(m).eps());
  if (type == "ReLU") return b_.op("Relu", {x});
  if (type == "Identity") return x;
  if (type == "Flatten") return b_.op("Flatten", {x}, {{"axis", Attribute::from_int(1)}});
  if (type == "GlobalAvgPool")
    return b_.op("Flatten", {b_.op("GlobalAveragePool", {x})}, {{"axis", Attribute::from_int(1)}});
  if (type == "MaxPool2d") {
    const auto& p = static_cast<nn::MaxPool2d&>(m);
    const int64_t pad = p.padding();
    return b_.op("MaxPool", {x}, {{"kernel_shape", Attribute::from_ints({p.kernel(), p.kernel()})},
                                  {"strides", Attribute::from_ints({p.stride(), p.stride()})},
                                  {"pads", Attribute::from_ints({pad, pad, pad, pad})}});
  }
  if (type == "BasicBlock") {
    auto& blk = static_cast<nn::BasicBlock&>(m);
    int h = b_.op("Relu", {module(module(x, *m.find("conv1"), child(path, "conv1")), *m.find("bn1"), child(path, "bn1"))});
    h = module(module(h, *m.find("conv2"), child(path, "conv2")), *m.find("bn2"), child(path, "bn2"));
    int shortcut = x;
    if (blk.projects()) {
      const int64_t in_channels = tensors_.at(child(path, "conv1.weight")).size(1);
      const int64_t before = (blk.out_channels() - in_channels) / 2;
      shortcut = option_a_shortcut(x, path, blk.stride(), before, blk.out_channels() - in_channels - before);
    }
    return b_.op("Relu", {b_.op("Add", {h, shortcut})});
  }
  throw ValueError(fmt::format("[export onnx] module '{}' of type {} has no ONNX form (export the fp32 model tree)",
                               path.empty() ? "<root>" : path, type));
}

onnx::Graph classifier_graph(nn::Classifier& model, const Shape& input, int opset) {
  ModuleEmitter e(model, opset);
  Shape in = input;
  in.insert(in.begin(), -1);
  const int x = e.builder().input("x", onnx::ElemType::f32, in);
  e.builder().output(e.module(x, model, ""), "logits");
  onnx::Graph g = e.builder().finish();
  g.name = "lowbit_" + model.name();
  return g;
}

}  // namespace lowbit::interop
