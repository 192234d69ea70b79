// Private declaration of the channel shuffle's fast path, which dispatch.cc chooses (the
// reference under LOWBIT_ISA=ref).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::kernels::portable {
void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y);
}  // namespace lowbit::kernels::portable
