// Private declarations of the fast paths of the channel shuffle and the channel gather, which
// dispatch.cc chooses (the references under LOWBIT_ISA=ref).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/kernels/channel_shuffle.h"

namespace lowbit::kernels::portable {
void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y);
void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y);
}  // namespace lowbit::kernels::portable
