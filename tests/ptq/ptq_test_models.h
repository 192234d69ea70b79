// Shared by the ptq tests: a small float CNN (Conv+Relu -> Conv -> Add(residual)+Relu -> GAP ->
// Flatten -> Gemm; three quantizable layers) and an error expectation that checks the message.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "lowbit/core/error.h"
#include "lowbit/onnx/ir.h"
#include "qdq_test_models.h"

namespace lowbit::ptq::test {

inline onnx::Graph small_cnn() {
  using onnx::ElemType;
  onnx::GraphBuilder b;
  const int x = b.input("x", ElemType::f32, {-1, 3, 8, 8});
  const onnx::Attributes pad1{{"pads", onnx::Attribute::from_ints({1, 1, 1, 1})}};
  int c1 = b.op("Conv", {x, b.constant("w1", onnx::test::random_f32({8, 3, 3, 3}, 31, 0.3f)), b.constant("b1", onnx::test::random_f32({8}, 32, 0.1f))}, pad1, 1, "c1");
  c1 = b.op("Relu", {c1}, {}, 1, "r1");
  const int c2 = b.op("Conv", {c1, b.constant("w2", onnx::test::random_f32({8, 8, 3, 3}, 33, 0.15f))}, pad1, 1, "c2");
  const int add = b.op("Relu", {b.op("Add", {c2, c1}, {}, 1, "add")}, {}, 1, "r2");
  const int flat = b.op("Flatten", {b.op("GlobalAveragePool", {add}, {}, 1, "gap")}, {}, 1, "flat");
  b.output(b.op("Gemm", {flat, b.constant("fc_w", onnx::test::random_f32({10, 8}, 34, 0.5f)), b.constant("fc_b", onnx::test::random_f32({10}, 35, 0.1f))},
                {{"transB", onnx::Attribute::from_int(1)}}, 1, "fc"), "logits");
  return b.finish();
}

template <typename F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error (expected one mentioning '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace lowbit::ptq::test
