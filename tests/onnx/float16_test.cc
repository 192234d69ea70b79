// float16 models (compute_float16_in_float32, passes_f16.cc): they run in float32 arithmetic with
// float16 kept at the graph's boundary, so a float16 model's output is the float32 model's
// (weights widened) rounded to float16, bit for bit; subgraphs, Constant/ConstantOfShape
// tensors and Cast targets are widened too. Against ONNX Runtime within float16 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "lowbit/onnx/analysis.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/passes.h"
#include "lowbit/onnx/shape_inference.h"
#include "ort_util.h"
#include "require_peer.h"

namespace lowbit::onnx {
namespace {

Array half_of(const Array& f) {
  Array h = Array::empty(ElemType::f16, f.shape());
  for (int64_t i = 0; i < f.numel(); ++i) h.data<uint16_t>()[i] = float_to_half(f.data<float>()[i]);
  return h;
}

Array float_of(const Array& h) {
  Array f = Array::empty(ElemType::f32, h.shape());
  for (int64_t i = 0; i < h.numel(); ++i) f.data<float>()[i] = half_to_float(h.data<uint16_t>()[i]);
  return f;
}

Array ramp(const Shape& shape, float scale) {
  Array a = Array::empty(ElemType::f32, shape);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = scale * std::sin(0.7f * static_cast<float>(i) + 0.3f);
  return a;
}

// x -> Conv(w, b) -> Relu -> Mul(ConstantOfShape-free scale) -> y, in element type `t`; the
// weights are float16 values in both versions (so the float32 model holds them exactly).
Graph conv_model(ElemType t) {
  const auto as = [&](const Array& f) { return t == ElemType::f16 ? half_of(f) : float_of(half_of(f)); };
  GraphBuilder b(17);
  const int x = b.input("x", t, {1, 3, 6, 6});
  const int w = b.constant("w", as(ramp({4, 3, 3, 3}, 0.5f)));
  const int bias = b.constant("b", as(ramp({4}, 0.1f)));
  const int y = b.op("Relu", {b.op("Conv", {x, w, bias}, {{"pads", Attribute::from_ints({1, 1, 1, 1})}})});
  const int k = b.op("Constant", {}, {{"value", Attribute::from_tensor(as(ramp({1, 4, 1, 1}, 2.0f)))}});
  b.output(b.op("Mul", {y, k}), "y");
  Graph g = b.finish();
  g.values[static_cast<size_t>(g.outputs[0])].type = ValueType{t, {1, 4, 6, 6}, true};  // as an ONNX file declares it
  return g;
}

TEST(Float16, ModelRunsAsItsFloat32TwinRoundedToHalf) {
  const Array x32 = float_of(half_of(ramp({1, 3, 6, 6}, 1.5f)));
  const Array want = half_of(Session(conv_model(ElemType::f32), SessionOptions{1, 1, true}).run({x32})[0]);
  for (bool optimize : {false, true}) {
    const std::vector<Array> got = Session(conv_model(ElemType::f16), SessionOptions{1, 1, optimize}).run({half_of(x32)});
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].type(), ElemType::f16);
    ASSERT_EQ(got[0].shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_EQ(got[0].data<uint16_t>()[i], want.data<uint16_t>()[i]) << i << " optimize " << optimize;
  }
}

TEST(Float16, PassWidensInsideAndCastsAtTheBoundary) {
  // x(f16) -> Cast(to=float16) -> Add(ConstantOfShape(value=f16 1.5)) -> If(c) {Constant f16} -> out
  GraphBuilder sb(17);
  sb.output(sb.op("Constant", {}, {{"value", Attribute::from_tensor(half_of(ramp({2}, 1.0f)))}}), "k");
  auto branch = std::make_shared<const Graph>(sb.finish());
  GraphBuilder b(17);
  const int x = b.input("x", ElemType::f16, {2});
  const int c = b.input("c", ElemType::boolean, {});
  const int cast = b.op("Cast", {x}, {{"to", Attribute::from_int(10)}});
  const int shape = b.constant("shape", Array::from<int64_t>({1}, std::vector<int64_t>{2}));
  const int fill = b.op("ConstantOfShape", {shape}, {{"value", Attribute::from_tensor(half_of(ramp({1}, 1.0f)))}});
  const int sum = b.op("Add", {cast, fill});
  const int pick = b.op("If", {c}, {{"then_branch", Attribute::from_graph(branch)}, {"else_branch", Attribute::from_graph(branch)}});
  b.output(b.op("Add", {sum, pick}), "out");
  Graph g = b.finish();
  g.values[static_cast<size_t>(g.outputs[0])].type = ValueType{ElemType::f16, {2}, true};
  EXPECT_EQ(compute_float16_in_float32(g), 2);  // one Cast in, one out
  EXPECT_EQ(g.values[static_cast<size_t>(g.inputs[0])].type.elem, ElemType::f16);
  EXPECT_EQ(g.values[static_cast<size_t>(g.outputs[0])].type.elem, ElemType::f16);
  EXPECT_EQ(g.values[static_cast<size_t>(g.outputs[0])].name, "out");
  for (const Node& n : g.nodes) {
    if (n.op_type == "Cast" && n.name.find("/to_float") == std::string::npos) {
      EXPECT_EQ(n.attr_i("to", 0), 1);
    }
    if (n.op_type == "ConstantOfShape") {
      EXPECT_EQ(n.find("value")->t.type(), ElemType::f32);
    }
    if (n.op_type == "If") {
      EXPECT_EQ(n.find("then_branch")->g->nodes[0].find("value")->t.type(), ElemType::f32);
    }
  }
  EXPECT_EQ(compute_float16_in_float32(g), 0);  // nothing float16 is left inside
  const Array xs = half_of(ramp({2}, 3.0f));
  const Array out = Session(std::move(g), SessionOptions{1, 1, false}).run(std::vector<Array>{xs, Array::scalar<bool>(true)})[0];
  for (int64_t i = 0; i < 2; ++i) {
    const float want = half_to_float(xs.data<uint16_t>()[i]) + half_to_float(float_to_half(ramp({1}, 1.0f).data<float>()[0])) +
                       half_to_float(float_to_half(ramp({2}, 1.0f).data<float>()[i]));
    EXPECT_EQ(out.data<uint16_t>()[i], float_to_half(want)) << i;
  }
}

TEST(Float16, InspectCountsTheModelNotTheBoundaryCasts) {
  const Graph g = conv_model(ElemType::f16);
  const ModelSummary s = summarize(g, declared_input_types(g, 1));
  EXPECT_EQ(s.op_counts.count("Cast"), 0u);
  EXPECT_EQ(s.parameter_bytes, (4 * 3 * 9 + 4 + 4) * 2);  // stored as float16
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0].second.elem, ElemType::f16);
  EXPECT_EQ(s.outputs[0].second.shape, (Shape{1, 4, 6, 6}));
}

TEST(Float16, AgreesWithOnnxRuntimeWithinHalfRounding) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  const std::string path = test::temp_dir() + "/float16_conv.onnx";
  save_model(conv_model(ElemType::f16), path);
  const Array x = half_of(ramp({1, 3, 6, 6}, 1.5f));
  const Array got = Session(conv_model(ElemType::f16), SessionOptions{1, 1, true}).run({x})[0];
  const Array want = test::run_ort(path, {x}, "float16_conv")[0];
  ASSERT_EQ(want.type(), ElemType::f16);
  EXPECT_TRUE(test::arrays_close(float_of(got), float_of(want), 2e-3, 2e-3));  // a few float16 ulps
}

}  // namespace
}  // namespace lowbit::onnx
