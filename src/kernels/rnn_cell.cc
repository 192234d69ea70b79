// Fast recurrent cells (rnn_cell.h): float arithmetic per hidden unit; Sigmoid/Tanh gates through
// the vectorizable sigmoid_inplace/tanh_inplace (fast_exp), the rarer ONNX gates with libm.
// GRU without linear_before_reset runs its (r * h) Rh^T product through gemm_f32.
#include "lowbit/kernels/rnn_cell.h"

#include <algorithm>
#include <cmath>

#include "lowbit/kernels/fp32.h"
#include "lowbit/kernels/fp32_act.h"

namespace lowbit::kernels {
namespace {

float gate_value(const Gate& f, float x) {
  const float a = f.alpha, b = f.beta;
  switch (f.fn) {
    case GateFn::relu: return x > 0 ? x : 0.0f;
    case GateFn::tanh: return std::tanh(x);
    case GateFn::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case GateFn::affine: return a * x + b;
    case GateFn::leaky_relu: return x >= 0 ? x : a * x;
    case GateFn::thresholded_relu: return x > a ? x : 0.0f;
    case GateFn::scaled_tanh: return a * std::tanh(b * x);
    case GateFn::hard_sigmoid: return std::min(std::max(a * x + b, 0.0f), 1.0f);
    case GateFn::elu: return x >= 0 ? x : a * std::expm1(x);
    case GateFn::softsign: return x / (1.0f + std::fabs(x));
    case GateFn::softplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return x;
}

// Pre-activations of all G gates: xg + hg (+ wb + rb), in this order of additions.
void preactivations(const CellArgs& a, int64_t n, const float* xg, const float* hg, float* g) {
  if (a.wb) {
    for (int64_t j = 0; j < n; ++j) g[j] = xg[j] + hg[j] + (a.wb[j] + a.rb[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) g[j] = xg[j] + hg[j];
  }
}

}  // namespace

Gate gate_defaults(GateFn fn) {
  switch (fn) {
    case GateFn::affine: return {fn, 1.0f, 0.0f};
    case GateFn::leaky_relu: return {fn, 0.01f, 0.0f};
    case GateFn::thresholded_relu: return {fn, 1.0f, 0.0f};
    case GateFn::scaled_tanh: return {fn, 1.0f, 1.0f};
    case GateFn::hard_sigmoid: return {fn, 0.2f, 0.5f};
    case GateFn::elu: return {fn, 1.0f, 0.0f};
    default: return {fn, 0.0f, 0.0f};
  }
}

bool gate_uses_alpha(GateFn fn) {
  return fn == GateFn::affine || fn == GateFn::leaky_relu || fn == GateFn::thresholded_relu ||
         fn == GateFn::scaled_tanh || fn == GateFn::hard_sigmoid || fn == GateFn::elu;
}
bool gate_uses_beta(GateFn fn) { return fn == GateFn::affine || fn == GateFn::scaled_tanh || fn == GateFn::hard_sigmoid; }

void gate_inplace(const Gate& f, int64_t n, float* v, float clip) {
  if (f.fn == GateFn::sigmoid) return sigmoid_inplace(n, v, clip);
  if (f.fn == GateFn::tanh) return tanh_inplace(n, v, clip);
  for (int64_t j = 0; j < n; ++j) v[j] = gate_value(f, clip > 0 ? std::clamp(v[j], -clip, clip) : v[j]);
}

void rnn_cell(const CellArgs& a, const Gate& f, const float* xg, const float* hg, float* h, float* scratch) {
  preactivations(a, a.H, xg, hg, scratch);
  gate_inplace(f, a.H, scratch, a.clip);
  std::copy_n(scratch, a.H, h);
}

void lstm_cell(const CellArgs& a, const Gate fgh[3], const float* P, bool input_forget, const float* xg,
               const float* hg, float* h, float* c, float* scratch) {
  const int64_t H = a.H;
  float* g = scratch;  // i o f c
  float* tc = scratch + 4 * H;
  preactivations(a, 4 * H, xg, hg, g);
  if (P)
    for (int64_t j = 0; j < H; ++j) g[j] += P[j] * c[j], g[2 * H + j] += P[2 * H + j] * c[j];
  gate_inplace(fgh[0], H, g, a.clip);
  if (input_forget) {
    for (int64_t j = 0; j < H; ++j) g[2 * H + j] = 1.0f - g[j];
  } else {
    gate_inplace(fgh[0], H, g + 2 * H, a.clip);
  }
  gate_inplace(fgh[1], H, g + 3 * H, a.clip);
  for (int64_t j = 0; j < H; ++j) c[j] = g[2 * H + j] * c[j] + g[j] * g[3 * H + j];
  if (P)
    for (int64_t j = 0; j < H; ++j) g[H + j] += P[H + j] * c[j];
  gate_inplace(fgh[0], H, g + H, a.clip);
  std::copy_n(c, H, tc);
  gate_inplace(fgh[2], H, tc, 0.0f);
  for (int64_t j = 0; j < H; ++j) h[j] = g[H + j] * tc[j];
}

void gru_cell(const CellArgs& a, const Gate fg[2], bool linear_before_reset, const float* Rh, const float* xg,
              const float* hg, float* h, float* scratch) {
  const int64_t H = a.H;
  float* g = scratch;  // z r n
  float* rh = scratch + 3 * H;
  preactivations(a, 2 * H, xg, hg, g);
  gate_inplace(fg[0], 2 * H, g, a.clip);
  float* n = g + 2 * H;
  const float* wbn = a.wb ? a.wb + 2 * H : nullptr;
  const float* rbn = a.rb ? a.rb + 2 * H : nullptr;
  if (linear_before_reset) {
    for (int64_t j = 0; j < H; ++j)
      n[j] = xg[2 * H + j] + (wbn ? wbn[j] : 0.0f) + g[H + j] * (hg[2 * H + j] + (rbn ? rbn[j] : 0.0f));
  } else {
    // (r * h) Rh^T: one row (B is small next to H in recurrent models).
    for (int64_t j = 0; j < H; ++j) rh[j] = g[H + j] * h[j];
    gemm_f32(false, true, 1, H, H, 1.0f, rh, H, Rh, H, 0.0f, n, H);
    for (int64_t j = 0; j < H; ++j) n[j] += xg[2 * H + j] + (wbn ? wbn[j] + rbn[j] : 0.0f);
  }
  gate_inplace(fg[1], H, n, a.clip);
  for (int64_t j = 0; j < H; ++j) h[j] = (1.0f - g[j]) * n[j] + g[j] * h[j];
}

}  // namespace lowbit::kernels
