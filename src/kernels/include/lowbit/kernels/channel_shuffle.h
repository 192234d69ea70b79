// Channel shuffle (ShuffleNet): the data movement of ONNX's Reshape to [N, g, C/g, H, W] ->
// Transpose(0,2,1,3,4) -> Reshape back, on raw bytes of any element type, for NCHW or
// channels-last images. Threads through lowbit::parallel_for; no allocation, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::kernels {

// y[o][j][i][s] = x[o][i][j][s] for x of shape (outer, groups, per_group, inner) and y of shape
// (outer, per_group, groups, inner), elements of elem_bytes bytes; y must not overlap x.
// NCHW images: outer = N, inner = H·W. Channels-last ones: outer = N·H·W, inner = 1 (each
// pixel's channel row is a groups × per_group matrix, transposed).
void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y);

namespace ref {
// The specification: one element at a time in y's order. channel_shuffle moves the same bytes.
void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y);
}  // namespace ref

}  // namespace lowbit::kernels
