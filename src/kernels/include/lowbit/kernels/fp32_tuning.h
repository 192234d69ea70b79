// Which library path the fp32 GEMM and convolution kernels take. `automatic` is the measured
// choice (docs/BENCHMARKS.md, "fp32 kernels: library choice"); the others force one path so
// tests can check every path against the reference and benchmarks can compare them.
// Process-wide; set it before running kernels, not while they run.
#pragma once

#include "lowbit/kernels/fp32.h"

namespace lowbit::kernels {

enum class GemmLib { automatic, onednn, openblas };
void set_gemm_lib(GemmLib lib);
GemmLib gemm_lib();

// onednn_plain: oneDNN convolution on the caller's nchw/oihw buffers. onednn_blocked: oneDNN
// picks its blocked layouts (nChw16c...), with reorders in and out around the primitive.
// im2col: per-image im2col/col2im plus single-threaded sgemm, parallel over the batch.
enum class ConvAlgo { automatic, onednn_plain, onednn_blocked, im2col };
enum class ConvPass { forward, backward_data, backward_weight };
void set_conv_algo(ConvAlgo algo);
ConvAlgo conv_algo();
// The path `automatic` takes for this shape and pass (never returns automatic).
ConvAlgo conv_algo_for(const ConvGeom& s, ConvPass pass);

}  // namespace lowbit::kernels
