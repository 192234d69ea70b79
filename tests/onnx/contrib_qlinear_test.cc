// ONNX Runtime's quantized contrib ops (com.microsoft QLinearAdd, QLinearMul, QLinearSigmoid,
// QLinearLeakyRelu, QLinearConcat, QLinearAveragePool, QLinearGlobalAveragePool, QGemm), as its
// QOperator quantization format writes them: loaded as DequantizeLinear → op → QuantizeLinear
// (contrib_qlinear.cc) and run; against ONNX Runtime within one quantization step per layer.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "ort_util.h"
#include "proto_tensor.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

struct ProtoBuilder {
  ::onnx::ModelProto m;
  ::onnx::GraphProto* g = m.mutable_graph();
  ProtoBuilder() {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* ms = m.add_opset_import();
    ms->set_domain("com.microsoft");
    ms->set_version(1);
  }
  void init(const std::string& name, const Array& a) { array_to_proto(a, name, g->add_initializer()); }
  void f(const std::string& name, float v) { init(name, Array::scalar<float>(v)); }
  void u8(const std::string& name, int v) { init(name, Array::scalar<uint8_t>(static_cast<uint8_t>(v))); }
  ::onnx::NodeProto* node(const std::string& op, std::vector<std::string> ins, const std::string& out, bool ms = false) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out + "_node");
    if (ms) n->set_domain("com.microsoft");
    for (const auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  }
  static void attr_i(::onnx::NodeProto* n, const std::string& k, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(::onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_ints(::onnx::NodeProto* n, const std::string& k, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_f(::onnx::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(::onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  void input(const std::string& name, int elem, std::vector<int64_t> dims) {
    auto* in = g->add_input();
    in->set_name(name);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void output(const std::string& name) { g->add_output()->set_name(name); }
};

Array ints8(const Shape& shape, int seed, int lo, int hi) {
  Array a = Array::empty(ElemType::i8, shape);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<int8_t>()[i] = static_cast<int8_t>(lo + (i * 7 + seed * 13) % (hi - lo + 1));
  return a;
}

// x → Q → QLinearConv → [QLinearAdd skip] → QLinearSigmoid / QLinearLeakyRelu → QLinearMul →
// QLinearConcat → QLinearAveragePool → QLinearGlobalAveragePool → Flatten → QGemm (float out) and
// QGemm (uint8 out).
std::string qoperator_model() {
  ProtoBuilder b;
  b.input("x", 1, {1, 4, 6, 6});
  b.f("xs", 0.05f); b.u8("xz", 128);
  b.init("w", ints8({4, 4, 3, 3}, 1, -60, 60));
  b.init("ws", Array::from<float>({4}, std::vector<float>{0.004f, 0.005f, 0.003f, 0.006f}));
  b.init("wz", Array::from<int8_t>({4}, std::vector<int8_t>{0, 0, 0, 0}));
  b.f("cs", 0.1f); b.u8("cz", 120);
  b.init("cb", Array::from<int32_t>({4}, std::vector<int32_t>{100, -200, 50, 0}));
  b.f("as", 0.12f); b.u8("az", 125);
  b.f("ss", 1.0f / 256); b.u8("sz", 0);
  b.f("ls", 0.1f); b.u8("lz", 100);
  b.f("ms", 0.05f); b.u8("mz", 10);
  b.f("ks", 0.1f); b.u8("kz", 110);
  b.f("gs", 0.08f); b.u8("gz", 105);
  b.init("B", ints8({3, 8}, 2, -100, 100));
  b.init("bs", Array::from<float>({3}, std::vector<float>{0.01f, 0.02f, 0.015f}));
  b.init("bz", Array::from<int8_t>({3}, std::vector<int8_t>{0, 0, 0}));
  b.init("C", Array::from<int32_t>({3}, std::vector<int32_t>{300, -100, 0}));
  b.f("ys", 0.2f); b.u8("yz", 128);
  b.node("QuantizeLinear", {"x", "xs", "xz"}, "xq");
  ProtoBuilder::attr_ints(b.node("QLinearConv", {"xq", "xs", "xz", "w", "ws", "wz", "cs", "cz", "cb"}, "c1"), "pads", {1, 1, 1, 1});
  b.node("QLinearAdd", {"c1", "cs", "cz", "xq", "xs", "xz", "as", "az"}, "add", true);
  b.node("QLinearSigmoid", {"add", "as", "az", "ss", "sz"}, "sig", true);
  ProtoBuilder::attr_f(b.node("QLinearLeakyRelu", {"add", "as", "az", "ls", "lz"}, "lrelu", true), "alpha", 0.1f);
  b.node("QLinearMul", {"sig", "ss", "sz", "lrelu", "ls", "lz", "ms", "mz"}, "mul", true);
  ProtoBuilder::attr_i(b.node("QLinearConcat", {"ks", "kz", "mul", "ms", "mz", "add", "as", "az"}, "cat", true), "axis", 1);
  auto* ap = b.node("QLinearAveragePool", {"cat", "ks", "kz", "ks", "kz"}, "pool", true);
  ProtoBuilder::attr_ints(ap, "kernel_shape", {2, 2});
  ProtoBuilder::attr_ints(ap, "strides", {2, 2});
  b.node("QLinearGlobalAveragePool", {"pool", "ks", "kz", "gs", "gz"}, "gap", true);
  b.node("Flatten", {"gap"}, "flat");
  ProtoBuilder::attr_i(b.node("QGemm", {"flat", "gs", "gz", "B", "bs", "bz", "C"}, "yf", true), "transB", 1);
  ProtoBuilder::attr_i(b.node("QGemm", {"flat", "gs", "gz", "B", "bs", "bz", "C", "ys", "yz"}, "yq", true), "transB", 1);
  for (const char* o : {"cat", "yf", "yq"}) b.output(o);
  std::string bytes;
  b.m.SerializeToString(&bytes);
  return bytes;
}

Array input() {
  Array x = Array::empty(ElemType::f32, {1, 4, 6, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 2.5f * std::sin(0.61f * static_cast<float>(i));
  return x;
}

TEST(ContribQLinear, LoadsAsStandardQdqNodes) {
  const Graph g = load_model_from_bytes(qoperator_model(), "qoperator.onnx");
  for (const Node& n : g.nodes)
    if (!n.dead) {
      EXPECT_NE(n.domain, "com.microsoft") << n.name;
    }
  const std::vector<Array> out = Session(load_model_from_bytes(qoperator_model(), "qoperator.onnx")).run({input()});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].type(), ElemType::u8);
  EXPECT_EQ(out[0].shape(), (Shape{1, 8, 6, 6}));
  EXPECT_EQ(out[1].type(), ElemType::f32);
  EXPECT_EQ(out[1].shape(), (Shape{1, 3}));
  EXPECT_EQ(out[2].type(), ElemType::u8);
}

TEST(ContribQLinear, AgreesWithOnnxRuntimeWithinAStepPerLayer) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/qoperator.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << qoperator_model();
  }
  const std::vector<Array> got = Session(load_model(path)).run({input()});
  const std::vector<Array> want = test::run_ort(path, {input()}, "qoperator");
  ASSERT_EQ(want.size(), 3u);
  int max_cat = 0, max_yq = 0, same = 0;
  for (int64_t i = 0; i < want[0].numel(); ++i) {
    const int d = std::abs(got[0].data<uint8_t>()[i] - want[0].data<uint8_t>()[i]);
    max_cat = std::max(max_cat, d);
    same += d == 0;
  }
  for (int64_t i = 0; i < want[2].numel(); ++i)
    max_yq = std::max(max_yq, std::abs(got[2].data<uint8_t>()[i] - want[2].data<uint8_t>()[i]));
  // The concat's codes are four requantizations deep (conv, add, sigmoid/leaky relu, mul): one
  // step each may add up; nearly all agree exactly.
  EXPECT_LE(max_cat, 2);
  EXPECT_GE(same, want[0].numel() * 9 / 10) << same << " of " << want[0].numel();
  EXPECT_LE(max_yq, 1);
  for (int64_t i = 0; i < want[1].numel(); ++i)  // float logits: within a step of the pooled codes (0.08) times |w|
    EXPECT_NEAR(got[1].data<float>()[i], want[1].data<float>()[i], 0.08 * 0.02 * 100 * 8) << i;
}

TEST(ContribQLinear, MissingOutputZeroPointAndChannelsLastAreNamed) {
  ProtoBuilder b;
  b.input("x", 2, {1, 2, 2, 2});
  b.f("s", 0.1f); b.u8("z", 3);
  b.node("QLinearAdd", {"x", "s", "z", "x", "s", "z", "s"}, "y", true);
  b.output("y");
  std::string bytes;
  b.m.SerializeToString(&bytes);
  test::expect_error([&] { (void)load_model_from_bytes(bytes, "m.onnx"); }, {"QLinearAdd", "output zero point"});
  ProtoBuilder c;
  c.input("x", 2, {1, 2, 2, 2});
  c.f("s", 0.1f); c.u8("z", 3);
  ProtoBuilder::attr_i(c.node("QLinearGlobalAveragePool", {"x", "s", "z", "s", "z"}, "y", true), "channels_last", 1);
  c.output("y");
  c.m.SerializeToString(&bytes);
  test::expect_error([&] { (void)load_model_from_bytes(bytes, "m.onnx"); }, {"QLinearGlobalAveragePool", "channels_last"});
}

// What ONNX Runtime's optimizer writes for dynamically quantized MatMuls: DynamicQuantizeMatMul
// (float A quantized per call) and MatMulIntegerToFloat (codes in, float out, per-column scale).
TEST(ContribQLinear, DynamicQuantizeMatMulAndMatMulIntegerToFloatMatchOnnxRuntime) {
  ProtoBuilder b;
  b.input("x", 1, {2, 3, 16});
  b.input("a", 2, {2, 5});
  b.init("B", ints8({16, 8}, 3, -90, 90));
  b.f("bs", 0.02f);
  b.init("bz", Array::from<int8_t>({}, std::vector<int8_t>{0}));
  b.init("bias", Array::from<float>({8}, std::vector<float>{0.5f, -1, 0, 2, 0.25f, -0.5f, 1, 0}));
  b.node("DynamicQuantizeMatMul", {"x", "B", "bs", "bz", "bias"}, "y1", true);
  Array b2 = Array::empty(ElemType::u8, {5, 4});
  for (int64_t i = 0; i < 20; ++i) b2.data<uint8_t>()[i] = static_cast<uint8_t>(i * 37 % 256);
  b.init("B2", b2);
  b.f("as", 0.1f);
  b.init("bs2", Array::from<float>({4}, std::vector<float>{0.01f, 0.02f, 0.03f, 0.04f}));
  b.u8("az", 7);
  b.u8("bz2", 128);
  b.node("MatMulIntegerToFloat", {"a", "B2", "as", "bs2", "az", "bz2"}, "y2", true);
  b.output("y1");
  b.output("y2");
  std::string bytes;
  b.m.SerializeToString(&bytes);
  Array x = Array::empty(ElemType::f32, {2, 3, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 1.7f * std::sin(0.37f * static_cast<float>(i));
  Array a = Array::empty(ElemType::u8, {2, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<uint8_t>()[i] = static_cast<uint8_t>(i * 53 % 256);
  const std::vector<Array> got = Session(load_model_from_bytes(bytes, "dyn.onnx")).run(std::vector<Array>{x, a});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(got[1].shape(), (Shape{2, 4}));
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/dynamic_matmul_ms.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
  }
  const std::vector<Array> want = test::run_ort(path, {x, a}, "dynamic_matmul_ms");
  ASSERT_EQ(want.size(), 2u);
  // y1: the same codes of x in both engines (DynamicQuantizeLinear rounds alike); float sums.
  EXPECT_TRUE(test::arrays_close(got[0], want[0], 1e-5, 1e-4));
  EXPECT_TRUE(test::arrays_close(got[1], want[1], 1e-5, 1e-4));
}

}  // namespace
}  // namespace lowbit::onnx
