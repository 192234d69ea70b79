// The less common normalizations of the ONNX engine, float or double, statistics in double:
// LRN (local response normalization across channels), GroupNormalization-18 and
// MeanVarianceNormalization. Plain loops, one rounding to T per output: each is its own
// reference (no fast path); tests/kernels/norm_extra_test.cc holds them to hand-computed values.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

// x, y (N, C, inner): y = x / (bias + alpha / size * sum x^2)^beta, the sum over channels
// [c - (size - 1) / 2, c + size - 1 - (size - 1) / 2] clipped to [0, C). size >= 1.
template <typename T>
void lrn(int64_t N, int64_t C, int64_t inner, int64_t size, double alpha, double beta, double bias, const T* x, T* y);

// x, y: `blocks` consecutive blocks of `per` elements (one (sample, group) each, groups G):
// y = scale[b % G] * (x - mean_b) / sqrt(var_b + eps) + bias[b % G], biased variance, two passes.
template <typename T>
void group_norm(int64_t blocks, int64_t G, int64_t per, const T* x, const T* scale, const T* bias, double eps, T* y);

// Element e of x (n) belongs to group[e] in [0, groups); y = (x - mean_g) / (sqrt(var_g) + 1e-9)
// with var_g = E[x^2] - mean_g^2 (clamped at 0), as the ONNX function body defines it.
// stats: 3 * groups doubles of caller scratch.
template <typename T>
void mean_variance_normalize(int64_t n, const T* x, const int64_t* group, int64_t groups, double* stats, T* y);

}  // namespace lowbit::kernels
