// Multi-input batches (input_batch.h): sample counts checked once, rows cut per input.
#include "lowbit/ptq/input_batch.h"

#include <cstring>

#include "lowbit/core/error.h"
#include "lowbit/ptq/calibrate.h"

namespace lowbit::ptq {

InputBatch::InputBatch(onnx::Array single) : InputBatch(std::vector<onnx::Array>{std::move(single)}) {}

InputBatch::InputBatch(std::vector<onnx::Array> per_input) : arrays(std::move(per_input)) {
  for (const onnx::Array& a : arrays) {
    LOWBIT_REQUIRE(a.dim() >= 1, "quantize", "an input batch needs a sample dimension; got a scalar");
    LOWBIT_REQUIRE(a.shape()[0] == arrays[0].shape()[0], "quantize", "the inputs hold different numbers of samples: {} and {}",
                   arrays[0].shape()[0], a.shape()[0]);
  }
}

int64_t InputBatch::samples() const { return arrays.empty() ? 0 : arrays[0].shape()[0]; }

InputBatch InputBatch::rows(int64_t r0, int64_t r1) const {
  LOWBIT_CHECK(r0 >= 0 && r0 <= r1 && r1 <= samples(), "rows [{}, {}) of {}", r0, r1, samples());
  InputBatch out;
  for (const onnx::Array& a : arrays) out.arrays.push_back(batch_rows(a, r0, r1));
  return out;
}

InputBatch InputBatch::cycled(int64_t n) const {
  const int64_t have = samples();
  LOWBIT_CHECK(have > 0 && n > 0);
  if (n <= have) return rows(0, n);
  InputBatch out;
  for (const onnx::Array& a : arrays) {
    Shape s = a.shape();
    s[0] = n;
    onnx::Array c = onnx::Array::empty(a.type(), s);
    const size_t per = a.nbytes() / static_cast<size_t>(have);
    for (int64_t r = 0; r < n; ++r) std::memcpy(c.raw() + static_cast<size_t>(r) * per, a.raw() + static_cast<size_t>(r % have) * per, per);
    out.arrays.push_back(std::move(c));
  }
  return out;
}

}  // namespace lowbit::ptq
