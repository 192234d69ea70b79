// Internal glue between lowbit's thread setting and the libraries the fp32 kernels call
// (oneDNN with its OpenMP runtime, pthread OpenBLAS), plus the shared oneDNN engine/stream and
// the post-ops of the plans' epilogue.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "lowbit/kernels/fp32_epilogue.h"

namespace lowbit::kernels::detail {

// Makes the calling thread's OpenMP setting (which oneDNN's OpenMP runtime reads) equal to
// lowbit::num_threads() and returns that count. Cheap when nothing changed.
int sync_omp_threads();
// Same for OpenBLAS's own pthread pool (a process-wide setting).
void sync_openblas_threads();

dnnl::engine& cpu_engine();
// One stream per calling thread: streams are cheap on CPU and not meant to be shared.
dnnl::stream& thread_stream();

// The plans' epilogue as oneDNN post-ops (sum, then the activation), for convolution and matmul.
dnnl::post_ops epilogue_post_ops(const ConvEpilogue& ep);

}  // namespace lowbit::kernels::detail
