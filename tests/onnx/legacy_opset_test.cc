// Older opset forms of supported ops (attributes that later opsets turned into inputs): each
// legacy graph must give the hand-computed result, and the legacy form is refused where the
// model's opset says otherwise.
#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/passes.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

Array f32(const Shape& shape, std::vector<float> v) { return Array::from<float>(shape, v); }

// One node on input x (shape of `x`), run at `opset`.
Array run_one(int opset, const std::string& op, const Array& x, Attributes attrs, int n_out = 1, int which = 0) {
  GraphBuilder b(opset);
  const int in = b.input("x", x.type(), x.shape());
  const std::vector<int> outs = b.op_multi(op, {in}, std::move(attrs), n_out, "n");
  b.output(outs[static_cast<size_t>(which)]);
  Session s(b.finish());
  return s.run({x})[0];
}

void expect_values(const Array& got, const Shape& shape, std::vector<float> want) {
  EXPECT_TRUE(test::arrays_close(got, f32(shape, std::move(want)), 0, 0));
}

TEST(LegacyOpset, Clip6BoundsAreAttributes) {
  const Array x = f32({4}, {-3, -0.5f, 1.5f, 9});
  expect_values(run_one(6, "Clip", x, {{"min", Attribute::from_float(-1)}, {"max", Attribute::from_float(2)}}), {4},
                {-1, -0.5f, 1.5f, 2});
  expect_values(run_one(9, "Clip", x, {{"max", Attribute::from_float(0)}}), {4}, {-3, -0.5f, 0, 0});
  EXPECT_THROW(run_one(13, "Clip", x, {{"min", Attribute::from_float(0)}}), ValueError);
}

// Conv + Clip-6 fuses with the attribute bounds, and exports back as Clip-6.
TEST(LegacyOpset, Clip6FusesIntoConvAndExportsAsClip6) {
  auto graph = [] {
    GraphBuilder b(9);
    const int x = b.input("x", ElemType::f32, {1, 1, 1, 3});
    const int w = b.constant("w", f32({1, 1, 1, 1}, {2}));
    b.output(b.op("Clip", {b.op("Conv", {x, w})}, {{"min", Attribute::from_float(-1)}, {"max", Attribute::from_float(3)}}));
    return b.finish();
  };
  Graph g = graph();
  optimize_graph(g);
  const Array x = f32({1, 1, 1, 3}, {-4, 1, 5});
  expect_values(Session(graph(), SessionOptions{1, 1, true}).run({x})[0], {1, 1, 1, 3}, {-1, 2, 3});
  expect_values(Session(load_model_from_bytes(export_model_bytes(g), "exported")).run({x})[0], {1, 1, 1, 3}, {-1, 2, 3});
}

TEST(LegacyOpset, Pad2PadsAndValueAreAttributes) {
  const Array x = f32({1, 2}, {1, 2});
  expect_values(run_one(2, "Pad", x, {{"pads", Attribute::from_ints({0, 1, 1, 0})}, {"value", Attribute::from_float(7)}}),
                {2, 3}, {7, 1, 2, 7, 7, 7});
  expect_values(run_one(9, "Pad", x, {{"pads", Attribute::from_ints({0, 1, 0, 1})}, {"mode", Attribute::from_string("edge")}}),
                {1, 4}, {1, 1, 2, 2});
}

TEST(LegacyOpset, Slice1StartsEndsAxesAreAttributes) {
  const Array x = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  expect_values(run_one(9, "Slice", x, {{"starts", Attribute::from_ints({1})}, {"ends", Attribute::from_ints({1000})},
                                        {"axes", Attribute::from_ints({1})}}),
                {2, 2}, {1, 2, 4, 5});
  expect_values(run_one(1, "Slice", x, {{"starts", Attribute::from_ints({1, -1})}, {"ends", Attribute::from_ints({2, 3})}}),
                {1, 1}, {5});
  EXPECT_THROW(run_one(13, "Slice", x, {{"starts", Attribute::from_ints({1})}, {"ends", Attribute::from_ints({2})}}),
               ValueError);
}

TEST(LegacyOpset, Split2SizesAreAttribute) {
  const Array x = f32({5}, {0, 1, 2, 3, 4});
  expect_values(run_one(2, "Split", x, {{"split", Attribute::from_ints({2, 3})}}, 2, 1), {3}, {2, 3, 4});
}

TEST(LegacyOpset, ReduceAndSqueezeAxesAreAttributes) {
  const Array x = f32({2, 1, 2}, {1, 2, 3, 5});
  expect_values(run_one(11, "ReduceMean", x, {{"axes", Attribute::from_ints({2})}, {"keepdims", Attribute::from_int(0)}}),
                {2, 1}, {1.5f, 4});
  expect_values(run_one(11, "ReduceSum", x, {{"axes", Attribute::from_ints({0})}}), {1, 1, 2}, {4, 7});
  expect_values(run_one(11, "Squeeze", x, {{"axes", Attribute::from_ints({1})}}), {2, 2}, {1, 2, 3, 5});
  expect_values(run_one(11, "Unsqueeze", f32({2}, {1, 2}), {{"axes", Attribute::from_ints({0})}}), {1, 2}, {1, 2});
}

TEST(LegacyOpset, Dropout6NeedsIsTest) {
  const Array x = f32({2}, {1, -1});
  expect_values(run_one(6, "Dropout", x, {{"is_test", Attribute::from_int(1)}}), {2}, {1, -1});
  expect_values(run_one(7, "Dropout", x, {{"ratio", Attribute::from_float(0.3)}}), {2}, {1, -1});
  EXPECT_THROW(run_one(6, "Dropout", x, {}), ValueError);
}

TEST(LegacyOpset, BatchNormalization7) {
  GraphBuilder b(7);
  const int x = b.input("x", ElemType::f32, {1, 2, 1, 1});
  auto c = [&](const char* name, float a, float v) { return b.constant(name, f32({2}, {a, v})); };
  const int scale = c("s", 2, 1), bias = c("b", 1, 0), mean = c("m", 0, 1), var = c("v", 1, 4);
  b.output(b.op("BatchNormalization", {x, scale, bias, mean, var}, {{"epsilon", Attribute::from_float(0)}}));
  Session s(b.finish());
  expect_values(s.run({f32({1, 2, 1, 1}, {3, 5})})[0], {1, 2, 1, 1}, {7, 2});
  GraphBuilder b0(7);
  const int x0 = b0.input("x", ElemType::f32, {1, 2, 1, 1});
  std::vector<int> ins{x0};
  for (const char* n : {"s", "b", "m", "v"}) ins.push_back(b0.constant(n, f32({2}, {1, 1})));
  b0.output(b0.op("BatchNormalization", ins, {{"spatial", Attribute::from_int(0)}}));
  EXPECT_THROW(Session(b0.finish()).run({f32({1, 2, 1, 1}, {3, 5})}), ValueError);
}

}  // namespace
}  // namespace lowbit::onnx
