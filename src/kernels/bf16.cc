// bfloat16 rounding (bf16.h), bit-exact round-to-nearest-even on the float's bit pattern; it is
// its own reference (a plain loop). bf16_native() lives in dispatch.cc with the other ISA choices.
#include "lowbit/kernels/bf16.h"

#include <cmath>
#include <cstring>

#include "lowbit/core/threads.h"

namespace lowbit::kernels {

float round_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x)) {
    u = (u | 0x00400000u) & 0xFFFF0000u;  // quiet, payload's top bits kept
  } else {
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
  }
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

void round_to_bf16(int64_t n, const float* x, float* y) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = round_to_bf16(x[i]);
  });
}

bool is_bf16_exact(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return std::isnan(x) || (u & 0xFFFFu) == 0;
}


}  // namespace lowbit::kernels
