// Ops new in opset 18: Col2Im, CenterCropPad, BitwiseAnd/Or/Xor/Not. Hand-computed values
// (Col2Im: the ONNX operator documentation's example), per-opset validation errors naming the
// node, and every op in one exported model against ONNX Runtime.
#include <fstream>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/exporter.h"
#include "lowbit/onnx/model_loader.h"
#include "ort_util.h"
#include "require_peer.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

template <typename T>
Array arr(const Shape& shape, std::vector<T> v) { return Array::from<T>(shape, v); }
Array i64(const Shape& shape, std::vector<int64_t> v) { return Array::from<int64_t>(shape, v); }

// Node "n" (op) on input x plus constant inputs; returns its output for x.
Array run_one(int opset, const std::string& op, const Array& x, const std::vector<Array>& consts, Attributes attrs = {}) {
  GraphBuilder b(opset);
  std::vector<int> ins{b.input("x", x.type(), x.shape())};
  for (size_t k = 0; k < consts.size(); ++k) ins.push_back(b.constant(fmt::format("c{}", k), consts[k]));
  b.output(b.op(op, ins, std::move(attrs), 1, "n"));
  return Session(b.finish()).run(std::vector<Array>{x})[0];
}

using test::expect_error;

TEST(Opset18Ops, Col2ImDocumentationExample) {
  std::vector<float> x(25);
  for (int b = 0; b < 5; ++b)
    for (int l = 0; l < 5; ++l) x[static_cast<size_t>(b * 5 + l)] = static_cast<float>(b + 1 + 5 * l);
  std::vector<float> want(25);
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<float>(i + 1);
  const Array y = run_one(18, "Col2Im", arr<float>({1, 5, 5}, x), {i64({2}, {5, 5}), i64({2}, {1, 5})});
  EXPECT_TRUE(test::arrays_close(y, arr<float>({1, 1, 5, 5}, want), 0, 0));
  // Overlapping 2x2 blocks at stride 1 on a 3x3 image: each pixel sums the blocks covering it.
  const Array ones = arr<float>({1, 4, 4}, std::vector<float>(16, 1.0f));
  const Array cover = run_one(18, "Col2Im", ones, {i64({2}, {3, 3}), i64({2}, {2, 2})});
  EXPECT_TRUE(test::arrays_close(cover, arr<float>({1, 1, 3, 3}, {1, 2, 1, 2, 4, 2, 1, 2, 1}), 0, 0));
}

TEST(Opset18Ops, CenterCropPadCropsAndPads) {
  std::vector<float> v(12);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Array x = arr<float>({3, 4}, v);
  // Rows 3 -> 2 (crop from row 0), columns 4 -> 6 (one zero column each side).
  EXPECT_TRUE(test::arrays_close(run_one(18, "CenterCropPad", x, {i64({2}, {2, 6})}),
                                 arr<float>({2, 6}, {0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 7, 0}), 0, 0));
  // axes=[1]: columns 4 -> 2 keep the middle two.
  EXPECT_TRUE(test::arrays_close(run_one(18, "CenterCropPad", x, {i64({1}, {2})}, {{"axes", Attribute::from_ints({-1})}}),
                                 arr<float>({3, 2}, {1, 2, 5, 6, 9, 10}), 0, 0));
}

TEST(Opset18Ops, BitwiseOpsOnIntegers) {
  const Array a = arr<int32_t>({3}, {12, -1, 5});
  const Array ten = arr<int32_t>({}, {10});
  EXPECT_TRUE(test::arrays_close(run_one(18, "BitwiseAnd", a, {ten}), arr<int32_t>({3}, {8, 10, 0}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_one(18, "BitwiseOr", a, {ten}), arr<int32_t>({3}, {14, -1, 15}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_one(18, "BitwiseXor", a, {ten}), arr<int32_t>({3}, {6, -11, 15}), 0, 0));
  EXPECT_TRUE(test::arrays_close(run_one(18, "BitwiseNot", arr<uint8_t>({3}, {0, 255, 170}), {}),
                                 arr<uint8_t>({3}, {255, 0, 85}), 0, 0));
}

TEST(Opset18Ops, BadInputsNameTheNode) {
  const Array f = arr<float>({2}, {1, 2});
  expect_error([&] { run_one(18, "BitwiseAnd", f, {f}); }, {"node 'n' (BitwiseAnd, opset 18)", "element type float32 is not supported"});
  expect_error([&] { run_one(18, "BitwiseOr", arr<int32_t>({2}, {1, 2}), {arr<int64_t>({2}, {1, 2})}); },
               {"node 'n' (BitwiseOr, opset 18)", "must have one type"});
  expect_error([&] { run_one(17, "BitwiseNot", arr<int32_t>({1}, {1}), {}); },
               {"node 'n' (BitwiseNot, opset 17)", "from opset 18"});
  const Array cols = arr<float>({1, 4, 5}, std::vector<float>(20, 1.0f));
  expect_error([&] { run_one(18, "Col2Im", cols, {i64({2}, {3, 3}), i64({2}, {2, 2})}); },
               {"node 'n' (Col2Im, opset 18)", "does not match block_shape"});
  expect_error([&] { run_one(18, "Col2Im", cols, {i64({2}, {3, 3}), i64({1}, {2})}); },
               {"node 'n' (Col2Im, opset 18)", "one entry per spatial dimension"});
  expect_error([&] { run_one(18, "Col2Im", cols, {i64({2}, {3, 3}), i64({2}, {2, 2})}, {{"strides", Attribute::from_ints({1})}}); },
               {"node 'n' (Col2Im, opset 18)", "strides, dilations and pads need 2, 2 and 4"});
  expect_error([&] { run_one(18, "CenterCropPad", f, {i64({2}, {1, 1})}); }, {"node 'n' (CenterCropPad, opset 18)", "2 entries for 1 axes"});
  expect_error([&] { run_one(18, "CenterCropPad", f, {i64({1}, {-3})}); }, {"node 'n' (CenterCropPad, opset 18)", "out of range"});
  expect_error([&] { run_one(18, "CenterCropPad", f, {i64({1}, {1})}, {{"axes", Attribute::from_int(0)}}); },
               {"node 'n' (CenterCropPad, opset 18)", "attribute 'axes' has type INT, expected INTS"});
}

TEST(Opset18Ops, MatchOnnxRuntime) {
  if (const std::string why = test::ort_missing(); !why.empty()) LOWBIT_SKIP_ABSENT_PEER(why);
  GraphBuilder b(18);
  const int cols = b.input("cols", ElemType::f32, {2, 12, 6});
  const int img = b.input("img", ElemType::f32, {2, 3, 5, 4});
  const int p = b.input("p", ElemType::i32, {3, 4});
  const int q = b.input("q", ElemType::i32, {4});
  // 3 channels of 2x2 blocks, stride 2, dilation (2, 1), pads (1, 0, 1, 1): 3x2 block positions on a 5x4 image.
  b.output(b.op("Col2Im", {cols, b.constant("is", i64({2}, {5, 4})), b.constant("bs", i64({2}, {2, 2}))},
                {{"strides", Attribute::from_ints({2, 2})}, {"dilations", Attribute::from_ints({2, 1})},
                 {"pads", Attribute::from_ints({1, 0, 1, 1})}}));
  b.output(b.op("CenterCropPad", {img, b.constant("s1", i64({3}, {4, 7, 3}))}, {{"axes", Attribute::from_ints({1, 2, 3})}}));
  b.output(b.op("CenterCropPad", {img, b.constant("s2", i64({2}, {2, 6}))}, {{"axes", Attribute::from_ints({-1, 0})}}));
  b.output(b.op("BitwiseAnd", {p, q}));
  b.output(b.op("BitwiseOr", {p, q}));
  b.output(b.op("BitwiseXor", {p, q}));
  b.output(b.op("BitwiseNot", {p}));
  Graph g = b.finish();
  const std::string path = test::temp_dir() + "/opset18_ops.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << export_model_bytes(g);
  }
  std::vector<float> cv(2 * 12 * 6), iv(2 * 3 * 5 * 4);
  for (size_t i = 0; i < cv.size(); ++i) cv[i] = static_cast<float>((static_cast<int>(i) * 5) % 13) - 6;
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<float>(i) * 0.5f;
  std::vector<int32_t> pv(12), qv{0x0f, -1, 0x5555, 1 << 30};
  for (size_t i = 0; i < pv.size(); ++i) pv[i] = static_cast<int32_t>(i * 2654435761u);
  const std::vector<Array> inputs{arr<float>({2, 12, 6}, cv), arr<float>({2, 3, 5, 4}, iv),
                                  arr<int32_t>({3, 4}, pv), arr<int32_t>({4}, qv)};
  const std::vector<Array> ours = Session(load_model(path)).run(inputs);
  const std::vector<Array> ref = test::run_ort(path, inputs, "opset18_ops");
  ASSERT_EQ(ours.size(), ref.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_TRUE(test::arrays_close(ours[i], ref[i], 0, 0)) << "output " << i;
}

}  // namespace
}  // namespace lowbit::onnx
