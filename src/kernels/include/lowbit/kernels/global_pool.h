// Global max / average pooling (ONNX GlobalMaxPool / GlobalAveragePool): one value per
// (image, channel) plane, from NCHW planes or channels-last images. Raw pointers, threads
// through lowbit::parallel_for, no allocation, no exceptions.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// y[p] = max, or sum / HW, of plane p = x[p·HW, (p+1)·HW), for `planes` planes (HW >= 1).
// The sum runs in the element type, first element to last.
void global_pool(bool is_max, int64_t planes, int64_t HW, const float* x, float* y);
void global_pool(bool is_max, int64_t planes, int64_t HW, const double* x, double* y);
// Channels-last: x is (N, HW, C), y is (N, C). Bit for bit global_pool of the NCHW planes (the
// same order of operations per channel).
void global_pool_nhwc(bool is_max, int64_t N, int64_t HW, int64_t C, const float* x, float* y);

}  // namespace lowbit::kernels
