// Reference channel shuffle (channel_shuffle.h): plain loops over y, one element per memcpy.
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

}  // namespace lowbit::kernels::ref
