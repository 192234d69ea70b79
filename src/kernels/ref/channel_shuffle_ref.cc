// Reference channel shuffle and channel gather (channel_shuffle.h): plain loops over y, one element per memcpy.
#include <cstring>

#include "lowbit/kernels/channel_shuffle.h"

namespace lowbit::kernels::ref {

void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y) {
  const auto* src = static_cast<const std::byte*>(x);
  auto* dst = static_cast<std::byte*>(y);
  const auto es = static_cast<int64_t>(elem_bytes);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < per_group; ++j)
      for (int64_t i = 0; i < groups; ++i)
        for (int64_t s = 0; s < inner; ++s) {
          const int64_t from = ((o * groups + i) * per_group + j) * inner + s;
          const int64_t to = ((o * per_group + j) * groups + i) * inner + s;
          std::memcpy(dst + to * es, src + from * es, elem_bytes);
        }
}

void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y) {
  auto* dst = static_cast<std::byte*>(y);
  const auto es = static_cast<int64_t>(elem_bytes);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n_src; ++j)
      for (int64_t s = 0; s < inner; ++s) {
        const ChannelSource& from = src[j];
        const auto* in = static_cast<const std::byte*>(x[from.input]);
        const int64_t at = (o * x_channels[from.input] + from.channel) * inner + s;
        std::memcpy(dst + ((o * n_src + j) * inner + s) * es, in + at * es, elem_bytes);
      }
}

}  // namespace lowbit::kernels::ref
