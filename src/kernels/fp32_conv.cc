// The library paths behind conv2d_* (dispatch.cc): the algorithm for the shape (conv_algo_for,
// the measured rule) or the forced one, falling back to im2col if oneDNN cannot build a
// primitive (it never throws through a kernel).
#include <atomic>

#include <oneapi/dnnl/dnnl.hpp>

#include "fp32_conv_impl.h"

namespace lowbit::kernels {
namespace {

std::atomic<ConvAlgo>& conv_algo_setting() {
  static std::atomic<ConvAlgo> algo{ConvAlgo::automatic};
  return algo;
}

ConvAlgo pick(const ConvGeom& s, ConvPass pass) {
  const ConvAlgo forced = conv_algo();
  return forced == ConvAlgo::automatic ? conv_algo_for(s, pass) : forced;
}

}  // namespace

void set_conv_algo(ConvAlgo algo) { conv_algo_setting().store(algo, std::memory_order_relaxed); }
ConvAlgo conv_algo() { return conv_algo_setting().load(std::memory_order_relaxed); }

// Measured at batch 128 on the training shapes (docs/BENCHMARKS.md): oneDNN's blocked-layout
// kernels beat its plain-layout (gemm-based) ones and im2col by 1.5-4x on every pass even with
// the reorders counted, except backward data of stem convolutions (C <= 4), where the
// blocked diff_src layout pads C to 16 and im2col + sgemm is fastest.
ConvAlgo conv_algo_for(const ConvGeom& s, ConvPass pass) {
  if (pass == ConvPass::backward_data && s.C / s.groups <= 4) return ConvAlgo::im2col;
  return ConvAlgo::onednn_blocked;
}

void detail::conv2d_forward_library(const ConvGeom& s, const float* x, const float* w, const float* bias, float* y) {
  const ConvAlgo algo = pick(s, ConvPass::forward);
  if (algo != ConvAlgo::im2col) {
    try {
      return detail::dnnl_conv_forward(s, algo == ConvAlgo::onednn_blocked, x, w, bias, y);
    } catch (const dnnl::error&) {
    }
  }
  detail::im2col_conv_forward(s, x, w, bias, y);
}

void detail::conv2d_backward_data_library(const ConvGeom& s, const float* dy, const float* w, float* dx) {
  const ConvAlgo algo = pick(s, ConvPass::backward_data);
  if (algo != ConvAlgo::im2col) {
    try {
      return detail::dnnl_conv_backward_data(s, algo == ConvAlgo::onednn_blocked, dy, w, dx);
    } catch (const dnnl::error&) {
    }
  }
  detail::im2col_conv_backward_data(s, dy, w, dx);
}

void detail::conv2d_backward_weight_library(const ConvGeom& s, const float* x, const float* dy, float* dw,
                                            float* dbias) {
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
