// ONNX form of a generated network: walks the same layout as the nn builder and copies the
// module's weights through interop::ModuleEmitter, so lowbit's engine and ONNX Runtime run
// exactly the trained-graph network.
#include <map>

#include "lowbit/core/error.h"
#include "lowbit/interop/module_onnx.h"
#include "lowbit/paradnn/model.h"
#include "model_layout.h"
#include "rnn_model.h"

namespace lowbit::paradnn {
namespace {

using onnx::Attribute;

// The generated nets' layer paths ("<name>.conv", "<name>.bn") on interop's module emitter.
class Emitter : public interop::ModuleEmitter {
 public:
  explicit Emitter(nn::Module& m) : interop::ModuleEmitter(m, 17), b(builder()) {}
  int dense(int x, const std::string& path) { return linear(x, path); }
  int conv_bn(int x, const ConvSpec& s, const std::string& path) {
    const int h = batch_norm(conv(x, path + ".conv", s.stride, s.kernel / 2), path + ".bn", 1e-5);
    return s.relu ? b.op("Relu", {h}) : h;
  }
  onnx::GraphBuilder& b;
};

}  // namespace

onnx::Graph build_onnx(const ModelConfig& c, nn::Module& m, bool fused_rnn) {
  validate(c);
  if (c.family == "rnn") return build_rnn_onnx(c, m, fused_rnn);
  Emitter e(m);
  Shape in = example_shape(c);
  in.insert(in.begin(), -1);
  int h = e.b.input("x", onnx::ElemType::f32, in);
  if (c.family == "fc") {
    for (int64_t i = 0; i < c.get("layers"); ++i) h = e.b.op("Relu", {e.dense(h, fmt::format("fc{}", i))});
    h = e.dense(h, "out");
  } else {
    const ResNetLayout l = resnet_layout(c);
    h = e.conv_bn(h, l.stem, "stem");
    h = e.b.op("MaxPool", {h}, {{"kernel_shape", Attribute::from_ints({3, 3})}, {"strides", Attribute::from_ints({2, 2})},
                               {"pads", Attribute::from_ints({1, 1, 1, 1})}});
    for (const auto& blk : l.blocks) {
      int r = h;
      for (const auto& k : blk.convs) r = e.conv_bn(r, k, blk.name + "." + k.name);
      const int shortcut = blk.proj ? e.conv_bn(h, *blk.proj, blk.name + "." + blk.proj->name) : h;
      h = e.b.op("Relu", {e.b.op("Add", {r, shortcut})});
    }
    h = e.b.op("Flatten", {e.b.op("GlobalAveragePool", {h})}, {{"axis", Attribute::from_int(1)}});
    h = e.dense(h, "fc");
  }
  e.b.output(h, "logits");
  onnx::Graph g = e.b.finish();
  g.name = "paradnn_" + c.family;
  return g;
}

}  // namespace lowbit::paradnn
