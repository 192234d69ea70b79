// conv2d_* entry points: choose the path for the shape (conv_algo_for, the measured rule) or
// the forced one, and fall back to im2col if oneDNN cannot build a primitive (it never throws
// through a kernel). LOWBIT_ISA=ref routes to the reference.
#include <algorithm>
#include <atomic>

#include <oneapi/dnnl/dnnl.hpp>

#include "fp32_conv_impl.h"
#include "lowbit/kernels/fp32_ref.h"
#include "lowbit/kernels/isa.h"

namespace lowbit::kernels {
namespace {

std::atomic<ConvAlgo>& conv_algo_setting() {
  static std::atomic<ConvAlgo> algo{ConvAlgo::automatic};
  return algo;
}

ConvAlgo pick(const Conv2dShape& s, ConvPass pass) {
  const ConvAlgo forced = conv_algo();
  return forced == ConvAlgo::automatic ? conv_algo_for(s, pass) : forced;
}

bool empty_output(const Conv2dShape& s) { return s.N <= 0 || s.K <= 0 || s.OH() <= 0 || s.OW() <= 0; }

}  // namespace

void set_conv_algo(ConvAlgo algo) { conv_algo_setting().store(algo, std::memory_order_relaxed); }
ConvAlgo conv_algo() { return conv_algo_setting().load(std::memory_order_relaxed); }

// Measured at batch 128 on the training shapes (docs/BENCHMARKS.md): oneDNN's blocked-layout
// kernels beat its plain-layout (gemm-based) ones and im2col by 1.5-4x on every pass even with
// the reorders counted, except backward data of stem convolutions (C <= 4), where the
// blocked diff_src layout pads C to 16 and im2col + sgemm is fastest.
ConvAlgo conv_algo_for(const Conv2dShape& s, ConvPass pass) {
  if (pass == ConvPass::backward_data && s.C / s.groups <= 4) return ConvAlgo::im2col;
  return ConvAlgo::onednn_blocked;
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y) {
  if (empty_output(s)) return;
  if (active_isa() == Isa::ref) return ref::conv2d_forward(s, x, w, bias, y);
  const ConvAlgo algo = pick(s, ConvPass::forward);
  if (algo != ConvAlgo::im2col) {
    try {
      return detail::dnnl_conv_forward(s, algo == ConvAlgo::onednn_blocked, x, w, bias, y);
    } catch (const dnnl::error&) {
    }
  }
  detail::im2col_conv_forward(s, x, w, bias, y);
}

void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  if (s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0) return;
  if (empty_output(s)) {
    std::fill(dx, dx + s.N * s.C * s.H * s.W, 0.0f);
    return;
  }
  if (active_isa() == Isa::ref) return ref::conv2d_backward_data(s, dy, w, dx);
  const ConvAlgo algo = pick(s, ConvPass::backward_data);
  if (algo != ConvAlgo::im2col) {
    try {
      return detail::dnnl_conv_backward_data(s, algo == ConvAlgo::onednn_blocked, dy, w, dx);
    } catch (const dnnl::error&) {
    }
  }
  detail::im2col_conv_backward_data(s, dy, w, dx);
}

void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* dbias) {
  if (empty_output(s)) {
    std::fill(dw, dw + s.K * (s.C / s.groups) * s.R * s.S, 0.0f);
    if (dbias) std::fill(dbias, dbias + s.K, 0.0f);
    return;
  }
  if (active_isa() == Isa::ref) return ref::conv2d_backward_weight(s, x, dy, dw, dbias);
  const ConvAlgo algo = pick(s, ConvPass::backward_weight);
  if (algo != ConvAlgo::im2col) {
    try {
      return detail::dnnl_conv_backward_weight(s, algo == ConvAlgo::onednn_blocked, x, dy, dw, dbias);
    } catch (const dnnl::error&) {
    }
  }
  detail::im2col_conv_backward_weight(s, x, dy, dw, dbias);
}

}  // namespace lowbit::kernels
