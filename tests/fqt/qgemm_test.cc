// quantize_operand on tensors long enough that its range (max |x|, any x < 0) is taken in
// chunks on the threads: the scale, grid and codes of the whole tensor, at any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/fqt/qgemm.h"

namespace lowbit::fqt {
namespace {

// 3 chunks of 64 Ki floats and a partial one; values in [0, 1) but for `special` at `at`.
std::vector<float> operand(int64_t at, float special) {
  std::vector<float> x(3 * 65536 + 123);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  x[static_cast<size_t>(at)] = special;
  return x;
}

void check(const std::vector<float>& x, float want_max, bool want_signed, int threads) {
  OperandConfig cfg;  // 4 bits, nearest, clip 1
  const int saved = num_threads();
  set_num_threads(threads);
  const QTensor q = quantize_operand(x.data(), 1, static_cast<int64_t>(x.size()), cfg, true);
  set_num_threads(saved);
  const int32_t qmax = want_signed ? 7 : 15, qmin = want_signed ? -7 : 0;
  const float scale = want_max / static_cast<float>(qmax);
  ASSERT_EQ(q.scale(), scale) << "threads " << threads;
  ASSERT_EQ(q.params.qmin, qmin) << "threads " << threads;
  for (size_t i = 0; i < x.size(); ++i) {
    const float y = std::isnan(x[i]) ? static_cast<float>(qmin) : std::clamp(x[i] / scale, float(qmin), float(qmax));
    ASSERT_EQ(q.codes.data<int8_t>()[i], static_cast<int8_t>(std::nearbyint(y))) << "element " << i;
  }
}

TEST(QuantizeOperand, RangeOfTheWholeTensorAtAnyThreadCount) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int threads : {1, 2, 3}) {
    check(operand(3 * 65536 + 100, 5.0f), 5.0f, false, threads);   // max in the partial chunk
    check(operand(65536 + 7, -2.0f), 2.0f, true, threads);         // a negative in the second
    check(operand(2 * 65536, -0.0f), 0.999f, false, threads);      // -0 is not negative
    check(operand(5, nan), 0.999f, false, threads);                // NaN is not a maximum
  }
}

}  // namespace
}  // namespace lowbit::fqt
