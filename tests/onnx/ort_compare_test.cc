// Whole models against ONNX Runtime: the pretrained CIFAR ResNets from shared/, and the small
// exported models (scripts/export_onnx_models.py) when present. Tolerance is derived from the
// op chain: each heavy op (a dot product of length K) contributes at most ~K * eps_f32 relative
// error; summed over the heavy ops on the path and scaled by the output magnitude.
#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"
#include "lowbit/core/rng.h"
#include "ort_util.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

namespace fs = std::filesystem;

// Sum of reduction lengths over heavy ops: MACs per output element, added along the graph.
double chain_k(const Graph& g, const std::vector<ValueType>& types) {
  const InferenceResult inf = infer_shapes(g, types, true);
  double k = 0;
  for (int n : inf.runtime_nodes) {
    const Node& node = g.nodes[static_cast<size_t>(n)];
    if (!is_heavy_op(node.op_type)) continue;
    const ValueType& w = inf.types[static_cast<size_t>(node.inputs[1])];
    const ValueType& x = inf.types[static_cast<size_t>(node.inputs[0])];
    if (node.op_type == "Conv") k += static_cast<double>(checked_numel(Shape(w.shape.begin() + 1, w.shape.end()), "k"));
    else k += static_cast<double>(node.op_type == "Gemm" && node.attr_i("transA", 0) ? x.shape[0] : x.shape.back());
  }
  return k;
}

std::vector<Array> random_inputs(const Graph& g, int64_t batch) {
  std::vector<Array> out;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const ValueType& t = g.values[static_cast<size_t>(g.inputs[i])].type;
    Shape s = t.shape;
    for (int64_t& d : s) d = d < 0 ? batch : d;
    Array a = Array::empty(t.elem, s);
    if (t.elem == ElemType::f32) {
      normal_fill(7, i, 0, a.numel(), a.data<float>());
    } else {
      Rng rng(7, i);
      for (int64_t k = 0; k < a.numel(); ++k) a.data<int64_t>()[k] = static_cast<int64_t>(rng.below(2));
    }
    out.push_back(std::move(a));
  }
  return out;
}

void compare_with_ort(const std::string& path, int64_t batch, int inter_op) {
  if (!fs::exists(path)) LOWBIT_SKIP_ABSENT_PEER(path + " is absent (run scripts/setup-onnx)");
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  Graph g = load_model(path);
  const std::vector<Array> inputs = random_inputs(g, batch);
  std::vector<ValueType> types;
  for (const Array& a : inputs) types.push_back(ValueType{a.type(), a.shape(), true});
  const double k = chain_k(g, types);
  Session session(std::move(g), SessionOptions{inter_op, 1, true});
  const std::vector<Array> ours = session.run(inputs);
  const std::vector<Array> ref = test::run_ort(path, inputs, fs::path(path).stem().string());
  ASSERT_EQ(ours.size(), ref.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    double mag = 0;
    for (int64_t j = 0; j < ref[i].numel(); ++j) mag = std::max(mag, std::fabs(ref[i].get_f64(j)));
    const double atol = k * 0x1p-24 * std::max(mag, 1.0);  // K * eps/2 per heavy op, on the output scale
    EXPECT_TRUE(test::arrays_close(ours[i], ref[i], 0, atol)) << path << " output " << i << " (atol " << atol << ")";
  }
}

// The pretrained models live in shared/ beside the repository (../shared/data/models).
const std::string kShared = test::source_dir() + "/../shared/data/models/";
std::string exported(const std::string& name) { return test::source_dir() + "/data/models/" + name + ".onnx"; }

TEST(OrtCompare, Resnet20Cifar) { compare_with_ort(kShared + "resnet20_cifar10.onnx", 2, 1); }
TEST(OrtCompare, Resnet32CifarInterOp2) { compare_with_ort(kShared + "resnet32_cifar10.onnx", 1, 2); }
TEST(OrtCompare, BertTiny) { compare_with_ort(exported("bert_tiny"), 2, 1); }
TEST(OrtCompare, BertTinyOpset17InterOp2) { compare_with_ort(exported("bert_tiny_opset17"), 1, 2); }
TEST(OrtCompare, MobilenetV2) { compare_with_ort(exported("mobilenet_v2"), 1, 1); }
// The torchvision zoo (scripts/export_onnx_models.py --zoo) where the conv epilogues are fused:
// SiLU (EfficientNet), HardSwish (MobileNetV3); batch 1 also runs the direct kernel's layers.
TEST(OrtCompare, EfficientNetB0) { compare_with_ort(exported("efficientnet_b0"), 1, 1); }
TEST(OrtCompare, MobilenetV3LargeBatch2) { compare_with_ort(exported("mobilenet_v3_large"), 2, 1); }
TEST(OrtCompare, MobilenetV3Small) { compare_with_ort(exported("mobilenet_v3_small"), 1, 1); }
// Concat-heavy models whose Concat, BatchNormalization, zero Pad and pools run channels-last.
TEST(OrtCompare, GoogLeNetBatch2) { compare_with_ort(exported("googlenet"), 2, 1); }
TEST(OrtCompare, DenseNet121) { compare_with_ort(exported("densenet121"), 1, 1); }
// ShuffleNetV2: its channel shuffles (lowbit.ChannelShuffle) and chunk Slices run channels-last.
TEST(OrtCompare, ShuffleNetV2Batch2) { compare_with_ort(exported("shufflenet_v2"), 2, 1); }
TEST(OrtCompare, RegNetY400mf) { compare_with_ort(exported("regnet_y_400mf"), 1, 1); }

}  // namespace
}  // namespace lowbit::onnx
