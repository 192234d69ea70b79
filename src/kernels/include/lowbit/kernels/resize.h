// Resize / Upsample arithmetic (the ONNX reference's rules): per axis, every output coordinate
// gets its source taps (input index clamped to the edge, weight) from the interpolation mode and
// the coordinate transformation; an output element is the sum over the taps of every axis,
// accumulated in double, outer axis first. Raw pointers, threads through parallel_for.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/tensor.h"

namespace lowbit::kernels {

enum class ResizeMode { nearest, linear, cubic };
enum class NearestRounding { round_prefer_floor, round_prefer_ceil, floor, ceil };
enum class ResizeCoords { half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize };

struct ResizeAxisSpec {
  int64_t in = 1, out = 1;
  double scale = 1;  // output / input (the reference measures the output axis as in·scale)
  ResizeMode mode = ResizeMode::nearest;
  NearestRounding nearest = NearestRounding::round_prefer_floor;
  ResizeCoords coords = ResizeCoords::half_pixel;
  double cubic_a = -0.75;
  bool exclude_outside = false;         // drop taps outside the input and renormalize the weights
  double roi_start = 0, roi_end = 1;    // tf_crop_and_resize only, as fractions of in - 1
};

// An axis's taps: output o reads index[first[o] .. first[o] + count[o]) with those weights;
// outside[o] (tf_crop_and_resize) means the extrapolation value. Taps of weight 0 are dropped.
struct ResizeTaps {
  int64_t in = 0;  // the input axis's length
  std::vector<int64_t> first, index;
  std::vector<int32_t> count;
  std::vector<double> weight;
  std::vector<uint8_t> outside;
  // Same length in and out, output o reading input o alone with weight 1 (an untouched axis).
  bool identity() const;
};

// Requires in >= 1, out >= 0, scale > 0.
ResizeTaps resize_taps(const ResizeAxisSpec& s);

// y (shape out) from x (shape in), one ResizeTaps per axis. Integer T rounds half to even and
// saturates. T: float, double, int8_t, uint8_t.
template <typename T>
void resize(const Shape& in, const Shape& out, std::span<const ResizeTaps> taps, double extrapolation, const T* x, T* y);

namespace ref {
// The specification: every output element walks the taps of each axis recursively.
template <typename T>
void resize(const Shape& in, const Shape& out, std::span<const ResizeTaps> taps, double extrapolation, const T* x, T* y);
}  // namespace ref

}  // namespace lowbit::kernels
