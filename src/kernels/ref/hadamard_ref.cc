// Dense Hadamard references: y = blockdiag(H_h)·v for every row (axis 1) or column (axis 0),
// one explicit ±1 entry at a time. Slow on purpose; it is the specification.
#include "lowbit/kernels/hadamard_ref.h"

namespace lowbit::kernels::ref {
namespace {

template <typename In, typename Acc, typename Out>
void dense(const HadamardShape& s, const In* x, int64_t ldx, Out* y, int64_t ldy) {
  const int64_t h = s.h;
  // Element (r, c) of the matrix as the j-th entry of a line (a row for axis 1, a column for 0).
  const int64_t lines = s.axis == 1 ? s.rows : s.cols, len = s.axis == 1 ? s.cols : s.rows;
  auto at = [&](int64_t line, int64_t j, int64_t ld) { return s.axis == 1 ? line * ld + j : j * ld + line; };
  for (int64_t line = 0; line < lines; ++line)
    for (int64_t b0 = 0; b0 < len; b0 += h)
      for (int64_t i = 0; i < h; ++i) {
        Acc acc = 0;
        for (int64_t j = 0; j < h; ++j) {
          const Acc v = static_cast<Acc>(x[at(line, b0 + j, ldx)]);
          acc += hadamard_entry(i, j) > 0 ? v : -v;
        }
        y[at(line, b0 + i, ldy)] = static_cast<Out>(acc);
      }
}

}  // namespace

void fwht_f32(const HadamardShape& s, const float* x, int64_t ldx, float* y, int64_t ldy) {
  dense<float, double>(s, x, ldx, y, ldy);
}
void fwht_i8_i16(const HadamardShape& s, const int8_t* x, int64_t ldx, int16_t* y, int64_t ldy) {
  dense<int8_t, int32_t>(s, x, ldx, y, ldy);
}
void fwht_i8_i32(const HadamardShape& s, const int8_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  dense<int8_t, int64_t>(s, x, ldx, y, ldy);
}
void fwht_i32(const HadamardShape& s, const int32_t* x, int64_t ldx, int32_t* y, int64_t ldy) {
  dense<int32_t, int64_t>(s, x, ldx, y, ldy);
}

}  // namespace lowbit::kernels::ref
