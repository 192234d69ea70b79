// Channel shuffle (channel_shuffle.h). Channels-last: each pixel's row of groups × per_group
// channels is transposed in registers-sized element types (the two-group interleave of
// ShuffleNet as its own loop, which GCC vectorizes); NCHW: whole H·W planes are copied.
#include <algorithm>
#include <cstring>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/channel_shuffle.h"
#include "shuffle_impl.h"

namespace lowbit::kernels::portable {
namespace {

// Rows o0..o1 of `groups` × `per_group` elements: y[o][j·groups + i] = x[o][i·per_group + j].
template <typename T>
void transpose_rows(int64_t o0, int64_t o1, int64_t groups, int64_t per_group, const T* x, T* y) {
  const int64_t C = groups * per_group;
  for (int64_t o = o0; o < o1; ++o) {
    const T* __restrict xs = x + o * C;
    T* __restrict ys = y + o * C;
    if (groups == 2) {
      const T* __restrict b = xs + per_group;
      for (int64_t j = 0; j < per_group; ++j) {
        ys[2 * j] = xs[j];
        ys[2 * j + 1] = b[j];
      }
      continue;
    }
    for (int64_t i = 0; i < groups; ++i)
      for (int64_t j = 0; j < per_group; ++j) ys[j * groups + i] = xs[i * per_group + j];
  }
}

template <typename T>
void pixel_rows(int64_t outer, int64_t groups, int64_t per_group, const void* x, void* y) {
  const int64_t row_bytes = groups * per_group * static_cast<int64_t>(sizeof(T));
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(row_bytes, 1)), [&](int64_t o0, int64_t o1) {
    transpose_rows(o0, o1, groups, per_group, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

}  // namespace

void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y) {
  if (outer <= 0 || groups <= 0 || per_group <= 0 || inner <= 0) return;
  if (inner == 1) {
    switch (elem_bytes) {
      case 1: return pixel_rows<uint8_t>(outer, groups, per_group, x, y);
      case 2: return pixel_rows<uint16_t>(outer, groups, per_group, x, y);
      case 4: return pixel_rows<uint32_t>(outer, groups, per_group, x, y);
      case 8: return pixel_rows<uint64_t>(outer, groups, per_group, x, y);
      default: break;
    }
  }
  // One block of `inner` contiguous elements per (o, j, i), in y's order.
  const auto* src = static_cast<const std::byte*>(x);
  auto* dst = static_cast<std::byte*>(y);
  const int64_t block = inner * static_cast<int64_t>(elem_bytes);
  parallel_for(outer * per_group, std::max<int64_t>(1, 16384 / (groups * block)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / per_group, j = r % per_group;
      for (int64_t i = 0; i < groups; ++i)
        std::memcpy(dst + (r * groups + i) * block, src + ((o * groups + i) * per_group + j) * block, static_cast<size_t>(block));
    }
  });
}

}  // namespace lowbit::kernels::portable
