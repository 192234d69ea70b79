// Reference recurrent cells (rnn_cell.h): the ONNX formulas in double with libm, plain-loop dot
// products; every gate value stays in double and the new state is rounded to float once.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/kernels/rnn_cell.h"

namespace lowbit::kernels::ref {
namespace {

double gate(const Gate& f, double x, double clip) {
  if (clip > 0) x = std::clamp(x, -clip, clip);
  const double a = f.alpha, b = f.beta;
  switch (f.fn) {
    case GateFn::relu: return x > 0 ? x : 0.0;
    case GateFn::tanh: return std::tanh(x);
    case GateFn::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case GateFn::affine: return a * x + b;
    case GateFn::leaky_relu: return x >= 0 ? x : a * x;
    case GateFn::thresholded_relu: return x > a ? x : 0.0;
    case GateFn::scaled_tanh: return a * std::tanh(b * x);
    case GateFn::hard_sigmoid: return std::min(std::max(a * x + b, 0.0), 1.0);
    case GateFn::elu: return x >= 0 ? x : a * std::expm1(x);
    case GateFn::softsign: return x / (1.0 + std::fabs(x));
    case GateFn::softplus: return std::log1p(std::exp(x));
  }
  return x;
}

// Pre-activation of gate row j: x + h + wb + rb in double.
double pre(const CellArgs& a, const float* xg, const float* hg, int64_t j) {
  double v = double(xg[j]) + hg[j];
  if (a.wb) v += double(a.wb[j]) + a.rb[j];
  return v;
}

}  // namespace

void gate_inplace(const Gate& f, int64_t n, float* v, float clip) {
  for (int64_t j = 0; j < n; ++j) v[j] = static_cast<float>(gate(f, v[j], clip));
}

void rnn_cell(const CellArgs& a, const Gate& f, const float* xg, const float* hg, float* h, float*) {
  for (int64_t j = 0; j < a.H; ++j) h[j] = static_cast<float>(gate(f, pre(a, xg, hg, j), a.clip));
}

void lstm_cell(const CellArgs& a, const Gate fgh[3], const float* P, bool input_forget, const float* xg,
               const float* hg, float* h, float* c, float*) {
  const int64_t H = a.H;
  for (int64_t j = 0; j < H; ++j) {
    const double c0 = c[j];
    const double i = gate(fgh[0], pre(a, xg, hg, j) + (P ? double(P[j]) * c0 : 0.0), a.clip);
    const double f = input_forget ? 1.0 - i : gate(fgh[0], pre(a, xg, hg, 2 * H + j) + (P ? double(P[2 * H + j]) * c0 : 0.0), a.clip);
    const double g = gate(fgh[1], pre(a, xg, hg, 3 * H + j), a.clip);
    const double c1 = f * c0 + i * g;
    const double o = gate(fgh[0], pre(a, xg, hg, H + j) + (P ? double(P[H + j]) * c1 : 0.0), a.clip);
    c[j] = static_cast<float>(c1);
    h[j] = static_cast<float>(o * gate(fgh[2], c1, 0.0));
  }
}

void gru_cell(const CellArgs& a, const Gate fg[2], bool linear_before_reset, const float* Rh, const float* xg,
              const float* hg, float* h, float*) {
  const int64_t H = a.H;
  std::vector<double> z(static_cast<size_t>(H)), r(static_cast<size_t>(H)), n(static_cast<size_t>(H));
  for (int64_t j = 0; j < H; ++j) {
    z[j] = gate(fg[0], pre(a, xg, hg, j), a.clip);
    r[j] = gate(fg[0], pre(a, xg, hg, H + j), a.clip);
  }
  for (int64_t j = 0; j < H; ++j) {
    double v = double(xg[2 * H + j]) + (a.wb ? double(a.wb[2 * H + j]) : 0.0);
    const double rbn = a.rb ? double(a.rb[2 * H + j]) : 0.0;
    if (linear_before_reset) {
      v += r[j] * (double(hg[2 * H + j]) + rbn);
    } else {
      double dot = 0;
      for (int64_t k = 0; k < H; ++k) dot += r[k] * h[k] * double(Rh[j * H + k]);
      v += rbn + dot;
    }
    n[j] = gate(fg[1], v, a.clip);
  }
  for (int64_t j = 0; j < H; ++j) h[j] = static_cast<float>((1.0 - z[j]) * n[j] + z[j] * h[j]);
}

}  // namespace lowbit::kernels::ref
