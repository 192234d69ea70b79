// Channel shuffle (ShuffleNet): the data movement of ONNX's Reshape to [N, g, C/g, H, W] ->
// Transpose(0,2,1,3,4) -> Reshape back, on raw bytes of any element type, for NCHW or
// channels-last images; and the channel gather that runs a Concat -> shuffle -> Slice chain as
// one index map. Threads through lowbit::parallel_for; no allocation, no exceptions.
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

// Where one output channel of gather_channels comes from: channel `channel` of input `input`.
struct ChannelSource {
  int32_t input;
  int64_t channel;
};

// y viewed as (outer, C_out, inner) with C_out = n_src, input t as (outer, x_channels[t], inner):
// y[o][j][s] = x[src[j].input][o][src[j].channel][s], elements of elem_bytes bytes; y must not
// overlap any input. Channels-last images: outer = N·H·W, inner = 1; NCHW: outer = N, inner = H·W.
// ShuffleNet's concat -> shuffle -> chunk halves alternate between two inputs' consecutive
// channels (a two-way interleave, vectorized); runs of consecutive channels of one input (a
// concat or a slice) move as blocks; anything else one element at a time.
void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y);

namespace ref {
// The specification: one element at a time in y's order. channel_shuffle moves the same bytes.
void channel_shuffle(int64_t outer, int64_t groups, int64_t per_group, int64_t inner, size_t elem_bytes, const void* x,
                     void* y);
// The specification of gather_channels: one element at a time in y's order.
void gather_channels(int64_t outer, int64_t inner, const ChannelSource* src, int64_t n_src, const void* const* x,
                     const int64_t* x_channels, size_t elem_bytes, void* y);
}  // namespace ref

}  // namespace lowbit::kernels
