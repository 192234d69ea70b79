// Helpers shared by the onnx tests: array comparison with a stated tolerance, random arrays,
// paths, errors.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/onnx/array.h"

namespace lowbit::onnx::test {

// Runs `fn`, expects a ValueError whose message holds every one of `parts`.
template <typename F>
void expect_error(F&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

// float32 values drawn from N(0, scale²): Philox (seed, stream), element i at counter i.
inline Array randn(const Shape& s, uint64_t seed, uint64_t stream, float scale = 1.0f) {
  Array a = Array::empty(ElemType::f32, s);
  normal_fill(seed, stream, 0, a.numel(), a.data<float>());
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] *= scale;
  return a;
}

inline std::string source_dir() { return LOWBIT_SOURCE_DIR; }

inline std::string temp_dir() {
  const char* t = std::getenv("LOWBIT_TEST_TMP");
  std::string dir = t ? t : "/tmp";
  std::string cmd = "mkdir -p '" + dir + "'";
  (void)std::system(cmd.c_str());
  return dir;
}

// Integer and bool outputs must match exactly; floats within atol + rtol * |expected|.
inline ::testing::AssertionResult arrays_close(const Array& got, const Array& want, double rtol, double atol) {
  if (got.type() != want.type())
    return ::testing::AssertionFailure() << "type " << elem_name(got.type()) << " != " << elem_name(want.type());
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(got.shape()) << " != " << shape_str(want.shape());
  const bool exact = !(want.type() == ElemType::f32 || want.type() == ElemType::f64 || want.type() == ElemType::f16 ||
                       want.type() == ElemType::bf16);
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double a = got.get_f64(i), b = want.get_f64(i);
    if ((std::isnan(a) && std::isnan(b)) || a == b) continue;
    if (exact ? a != b : !(std::fabs(a - b) <= atol + rtol * std::fabs(b)))
      return ::testing::AssertionFailure() << "element " << i << ": got " << a << ", expected " << b;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lowbit::onnx::test
