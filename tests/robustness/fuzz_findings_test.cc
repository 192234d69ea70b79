// Regression tests for what the fuzzers found (docs/RELIABILITY.md): each reproducer either
// fails with its exact error (tests/onnx/bad_inputs, in bad_onnx_test.cc) or, where the input
// was valid and lowbit misbehaved on it, runs and gives the value ONNX specifies.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>

#include "lowbit/onnx/executor.h"
#include "lowbit/onnx/model_loader.h"
#include "lowbit/onnx/shape_inference.h"

namespace lowbit::onnx {
namespace {

// Pow with an integer base and a float exponent was an undefined float->int conversion when
// the power overflowed the integer type (UBSan, onnx_fuzz): it saturates, and NaN gives 0.
TEST(FuzzFindings, PowIntegerBaseFloatExponentSaturates) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::u16, {4});
  const float e[] = {1e10f, -1.0f, 0.5f, std::numeric_limits<float>::quiet_NaN()};
  b.output(b.op("Pow", {x, b.constant("e", Array::from<float>({4}, e))}));
  const uint16_t xs[] = {2, 0, 9, 3};
  const Array y = Session(b.finish(), SessionOptions{1, 1, false}).run({Array::from<uint16_t>({4}, xs)})[0];
  EXPECT_EQ(y.data<uint16_t>()[0], 65535);  // 2^1e10
  EXPECT_EQ(y.data<uint16_t>()[1], 65535);  // 0^-1 = inf
  EXPECT_EQ(y.data<uint16_t>()[2], 3);      // 9^0.5
  EXPECT_EQ(y.data<uint16_t>()[3], 0);      // NaN
}

// MaxPool on integers with a window wholly inside the padding converted -inf to int8 (UBSan,
// onnx_fuzz): such a window gives the type's lowest value.
TEST(FuzzFindings, IntegerMaxPoolWindowInPaddingIsLowest) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::i8, {1, 1, 1, 1});
  b.output(b.op("MaxPool", {x}, {{"kernel_shape", Attribute::from_ints({1, 1})}, {"pads", Attribute::from_ints({1, 1, 1, 1})}}));
  const int8_t xs[] = {5};
  const Array y = Session(b.finish(), SessionOptions{1, 1, false}).run({Array::from<int8_t>({1, 1, 1, 1}, xs)})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(y.data<int8_t>()[i], i == 4 ? 5 : -128) << i;
}

// Softmax over an empty tensor offset its null data pointer (UBSan, onnx_fuzz): it yields the
// empty result (run under the asan preset and scripts/fuzz-replay for the pointer check).
TEST(FuzzFindings, SoftmaxOfEmptyTensorIsEmpty) {
  GraphBuilder b(13);
  const int x = b.input("x", ElemType::f32, {3, 0, 17});
  b.output(b.op("Softmax", {x}, {{"axis", Attribute::from_int(1)}}));
  const Array y = Session(b.finish(), SessionOptions{1, 1, false}).run({Array::zeros(ElemType::f32, {3, 0, 17})})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 0, 17}));
}

// Every checked-in regression model of the ONNX fuzzer loads, infers and runs once on its
// declared inputs, or fails with an input error; never an internal error or a crash.
TEST(FuzzFindings, OnnxRegressionInputsRunOrFailCleanly) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(LOWBIT_SOURCE_DIR) + "/fuzz/regressions/onnx")) {
    ++seen;
    try {
      Graph g = load_model(entry.path().string());
      const auto types = declared_input_types(g, 1);
      std::vector<Array> inputs;
      for (const auto& t : types) inputs.push_back(Array::zeros(t.elem, t.shape));
      Session(std::move(g), SessionOptions{1, 1, true}).run(inputs);
    } catch (const InternalError& e) {
      ADD_FAILURE() << entry.path() << ": " << e.what();
    } catch (const Error&) {
    }
  }
  EXPECT_GE(seen, 1);
}

}  // namespace
}  // namespace lowbit::onnx
