// Channel gather (channel_shuffle.h): a Concat -> channel shuffle -> Slice chain as one pass.
// The map is read once per call into its cheapest form: a two-way interleave of consecutive
// channels of two inputs (ShuffleNet's chunk halves; the loop GCC vectorizes, as in the
// shuffle's two-group case), else runs of consecutive channels of one input, copied as blocks.
#include <algorithm>
#include <cstring>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/channel_shuffle.h"
#include "shuffle_impl.h"

namespace lowbit::kernels::portable {
namespace {

// y[2m] = a[a0 + m], y[2m + 1] = b[b0 + m] for m < n_src / 2 (n_src even), when src says so.
bool two_way_interleave(const ChannelSource* src, int64_t n_src) {
  if (n_src < 2 || n_src % 2 != 0 || src[0].input == src[1].input) return false;
  for (int64_t j = 2; j < n_src; ++j)
    if (src[j].input != src[j - 2].input || src[j].channel != src[j - 2].channel + 1) return false;
  return true;
}

template <typename T>
void interleave_rows(int64_t o0, int64_t o1, int64_t half, const T* a, int64_t a_row, const T* b, int64_t b_row, T* y) {
  for (int64_t o = o0; o < o1; ++o) {
    const T* __restrict as = a + o * a_row;
    const T* __restrict bs = b + o * b_row;
    T* __restrict ys = y + o * 2 * half;
    for (int64_t m = 0; m < half; ++m) {
      ys[2 * m] = as[m];
      ys[2 * m + 1] = bs[m];
    }
  }
}

template <typename T>
bool try_interleave(int64_t outer, const ChannelSource* src, int64_t n_src, const void* const* x, const int64_t* x_channels,
                    void* y) {
  if (!two_way_interleave(src, n_src)) return false;
  const T* a = static_cast<const T*>(x[src[0].input]) + src[0].channel;
  const T* b = static_cast<const T*>(x[src[1].input]) + src[1].channel;
  const int64_t a_row = x_channels[src[0].input], b_row = x_channels[src[1].input], half = n_src / 2;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n_src * static_cast<int64_t>(sizeof(T))));
  parallel_for(outer, grain, [&](int64_t o0, int64_t o1) { interleave_rows(o0, o1, half, a, a_row, b, b_row, static_cast<T*>(y)); });
  return true;
}

}  // namespace

void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y) {
  if (outer <= 0 || inner <= 0 || n_src <= 0) return;
  if (inner == 1) {
    bool done = false;
    switch (elem_bytes) {
      case 1: done = try_interleave<uint8_t>(outer, src, n_src, x, x_channels, y); break;
      case 2: done = try_interleave<uint16_t>(outer, src, n_src, x, x_channels, y); break;
      case 4: done = try_interleave<uint32_t>(outer, src, n_src, x, x_channels, y); break;
      case 8: done = try_interleave<uint64_t>(outer, src, n_src, x, x_channels, y); break;
      default: break;
    }
    if (done) return;
  }
  // Runs of consecutive channels of one input: each a block of run · inner elements per row.
  auto* dst = static_cast<std::byte*>(y);
  const auto es = static_cast<int64_t>(elem_bytes);
  const int64_t row_bytes = n_src * inner * es;
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, row_bytes)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t j = 0; j < n_src;) {
        int64_t run = 1;
        while (j + run < n_src && src[j + run].input == src[j].input && src[j + run].channel == src[j].channel + run) ++run;
        const auto* in = static_cast<const std::byte*>(x[src[j].input]);
        std::memcpy(dst + (o * n_src + j) * inner * es, in + (o * x_channels[src[j].input] + src[j].channel) * inner * es,
                    static_cast<size_t>(run * inner * es));
        j += run;
      }
  });
}

}  // namespace lowbit::kernels::portable
