// QuantizeLinear / DequantizeLinear on the shared quantizer kernels (kernels/quant.h): hand-computed
// codes per tensor and per axis (ties to even, saturation, NaN/inf, int32 input), int32
// dequantization at the extremes, the error a zero or negative scale gets (naming the node), and
// the reference QLinearMatMul / QLinearConv requantizing on kernels::requantize_* (per-row,
// per-column and per-channel scales, bias, ties to even, saturation).
#include <cmath>
#include <limits>

#include "lowbit/onnx/executor.h"
#include "test_util.h"

namespace lowbit::onnx {
namespace {

// op(x, constants...) at opset 13, run on x.
Array run_op(const std::string& op, const Array& x, const std::vector<Array>& consts, Attributes attrs = {}) {
  GraphBuilder b(13);
  std::vector<int> ins{b.input("x", x.type(), x.shape())};
  for (size_t i = 0; i < consts.size(); ++i) ins.push_back(b.constant(fmt::format("c{}", i), consts[i]));
  b.output(b.op(op, ins, std::move(attrs), 1, "q_node"));
  Session s(b.finish());
  return s.run({x})[0];
}

template <typename T>
std::vector<T> values(const Array& a) {
  return std::vector<T>(a.data<T>(), a.data<T>() + a.numel());
}

TEST(QuantLinear, PerTensorRoundsHalfToEvenAndSaturates) {
  const float inf = std::numeric_limits<float>::infinity();
  const Array x = Array::from<float>({8}, std::vector<float>{0.5f, 1.5f, 2.5f, -2.5f, 1000.0f, -1000.0f, inf, -inf});
  const Array u8 = run_op("QuantizeLinear", x, {Array::scalar<float>(1.0f), Array::scalar<uint8_t>(10)});
  EXPECT_EQ(values<uint8_t>(u8), (std::vector<uint8_t>{10, 12, 12, 8, 255, 0, 255, 0}));
  const Array i8 = run_op("QuantizeLinear", x, {Array::scalar<float>(0.5f), Array::scalar<int8_t>(-1)});
  EXPECT_EQ(values<int8_t>(i8), (std::vector<int8_t>{0, 2, 4, -6, 127, -128, 127, -128}));
  // int32 input: rounded to float first, as ONNX Runtime does.
  const Array xi = Array::from<int32_t>({3}, std::vector<int32_t>{7, -7, 1 << 30});
  const Array qi = run_op("QuantizeLinear", xi, {Array::scalar<float>(2.0f), Array::scalar<int8_t>(0)});
  EXPECT_EQ(values<int8_t>(qi), (std::vector<int8_t>{4, -4, 127}));
}

TEST(QuantLinear, PerAxisUsesEachChannelsScaleAndZeroPoint) {
  const Array x = Array::from<float>({2, 3}, std::vector<float>{1, 2, 3, -1, -2, -3});
  const Array s = Array::from<float>({3}, std::vector<float>{1.0f, 0.5f, 0.25f});
  const Array z = Array::from<uint8_t>({3}, std::vector<uint8_t>{0, 100, 200});
  const Array q = run_op("QuantizeLinear", x, {s, z}, {{"axis", Attribute::from_int(1)}});
  EXPECT_EQ(values<uint8_t>(q), (std::vector<uint8_t>{1, 104, 212, 0, 96, 188}));
  const Array d = run_op("DequantizeLinear", q, {s, z}, {{"axis", Attribute::from_int(1)}});
  EXPECT_EQ(values<float>(d), (std::vector<float>{1, 2, 3, 0, -2, -3}));
}

TEST(QuantLinear, DequantizeInt32AtTheExtremes) {  // ONNX requires an int32 zero point of 0
  const Array x = Array::from<int32_t>({3}, std::vector<int32_t>{std::numeric_limits<int32_t>::min(),
                                                                 std::numeric_limits<int32_t>::max(), -5});
  const Array d = run_op("DequantizeLinear", x, {Array::scalar<float>(0.5f), Array::scalar<int32_t>(0)});
  EXPECT_EQ(values<float>(d), (std::vector<float>{-1073741824.0f, 1073741824.0f, -2.5f}));
}

// A constant scale is checked when the node is; one computed at run time (a graph input here)
// when QuantizeLinear runs. Either way the error names the node.
TEST(QuantLinear, ZeroOrNegativeScaleNamesTheNode) {
  const Array x = Array::from<float>({2}, std::vector<float>{1, 2});
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    for (bool constant : {true, false}) {
      try {
        if (constant) {
          run_op("QuantizeLinear", x, {Array::scalar<float>(bad), Array::scalar<uint8_t>(0)});
        } else {
          GraphBuilder b(13);
          const int xi = b.input("x", ElemType::f32, {2}), si = b.input("s", ElemType::f32, {});
          b.output(b.op("QuantizeLinear", {xi, si, b.constant("z", Array::scalar<uint8_t>(0))}, {}, 1, "q_node"));
          Session sess(b.finish());
          sess.run(std::vector<Array>{x, Array::scalar<float>(bad)});
        }
        ADD_FAILURE() << "scale " << bad << " accepted (constant " << constant << ")";
      } catch (const ValueError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("q_node"), std::string::npos) << msg;
        EXPECT_NE(msg.find("positive"), std::string::npos) << msg;
      }
    }
  }
}

// op(x, constants...) at opset 13 without graph optimization: the op itself runs (the QDQ
// lowering would otherwise replace QLinearConv by the fused integer op).
Array run_op_unoptimized(const std::string& op, const Array& x, const std::vector<Array>& consts) {
  GraphBuilder b(13);
  std::vector<int> ins{b.input("x", x.type(), x.shape())};
  for (size_t i = 0; i < consts.size(); ++i) ins.push_back(b.constant(fmt::format("c{}", i), consts[i]));
  b.output(b.op(op, ins, {}, 1, "q_node"));
  SessionOptions opt;
  opt.optimize = false;
  Session s(b.finish(), opt);
  return s.run({x})[0];
}

// acc = a·b = [[4, 6], [7, 10]]; scale a_s[m]·b_s[n] / y_s = [[0.5, 0.125], [1, 0.25]]:
// 2, 0.75, 7, 2.5 -> 2, 1, 7, 2 (the tie to even), + 10; int8 with y_s = 0.01 saturates.
TEST(QuantLinear, QLinearMatMulPerRowAndPerColumnScales) {
  const Array a = Array::from<uint8_t>({2, 2}, std::vector<uint8_t>{1, 3, 2, 5});
  const Array a_s = Array::from<float>({2}, std::vector<float>{0.5f, 1.0f}), a_z = Array::from<uint8_t>({2}, std::vector<uint8_t>{0, 0});
  const Array b = Array::from<int8_t>({2, 2}, std::vector<int8_t>{1, 0, 1, 2});
  const Array b_s = Array::from<float>({2}, std::vector<float>{1.0f, 0.25f}), b_z = Array::from<int8_t>({2}, std::vector<int8_t>{0, 0});
  const Array y = run_op_unoptimized("QLinearMatMul", a, {a_s, a_z, b, b_s, b_z, Array::scalar<float>(1.0f), Array::scalar<uint8_t>(10)});
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{12, 11, 17, 12}));
  const Array s = run_op_unoptimized("QLinearMatMul", a, {a_s, a_z, b, b_s, b_z, Array::scalar<float>(0.01f), Array::scalar<int8_t>(0)});
  EXPECT_EQ(values<int8_t>(s), (std::vector<int8_t>{127, 75, 127, 127}));
}

// 1x1 convolution of x = 1..9 with per-channel weights [1, 2], scales [0.5, 0.25] and int32 bias
// [1, -2]: channel 0 is (x + 1)·0.5, channel 1 (2x − 2)·0.25, halves rounded to even.
TEST(QuantLinear, QLinearConvPerChannelScaleAndBias) {
  std::vector<uint8_t> xv(9);
  for (int i = 0; i < 9; ++i) xv[static_cast<size_t>(i)] = static_cast<uint8_t>(i + 1);
  const Array x = Array::from<uint8_t>({1, 1, 3, 3}, xv);
  const Array w = Array::from<int8_t>({2, 1, 1, 1}, std::vector<int8_t>{1, 2});
  const Array w_s = Array::from<float>({2}, std::vector<float>{0.5f, 0.25f});
  const Array bias = Array::from<int32_t>({2}, std::vector<int32_t>{1, -2});
  const Array y = run_op_unoptimized("QLinearConv", x, {Array::scalar<float>(1.0f), Array::scalar<uint8_t>(0), w, w_s,
                                                        Array::scalar<int8_t>(0), Array::scalar<float>(1.0f),
                                                        Array::scalar<uint8_t>(0), bias});
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{1, 2, 2, 2, 3, 4, 4, 4, 5, 0, 0, 1, 2, 2, 2, 3, 4, 4}));
}

// A zero, negative or NaN y_scale has no requantization: an error naming the node.
TEST(QuantLinear, QLinearScalesMustBePositive) {
  const Array a = Array::from<uint8_t>({1, 1}, std::vector<uint8_t>{3});
  const Array b = Array::from<int8_t>({1, 1}, std::vector<int8_t>{2});
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    try {
      run_op_unoptimized("QLinearMatMul", a, {Array::scalar<float>(1.0f), Array::scalar<uint8_t>(0), b, Array::scalar<float>(1.0f),
                                              Array::scalar<int8_t>(0), Array::scalar<float>(bad), Array::scalar<uint8_t>(0)});
      ADD_FAILURE() << "y_scale " << bad << " accepted";
    } catch (const ValueError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("q_node"), std::string::npos) << msg;
      EXPECT_NE(msg.find("y_scale"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace lowbit::onnx
