// Recurrent cells of the ONNX RNN/GRU/LSTM ops: one batch row of one time step, given the two
// GEMM results x W^T and h R^T (the caller runs those through gemm_f32). Gate activations are
// the ONNX list (Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh,
// HardSigmoid, Elu, Softsign, Softplus) with alpha/beta and the cell clip. ref:: (double, libm,
// plain loops) is the specification the fast cells are tested against.
//   xg, hg: (G*H) pre-activations in the ONNX gate order (LSTM i o f c, GRU z r h, RNN one gate)
//   wb, rb: (G*H) input and recurrence biases, both null or both set; h, c: (H) state, updated.
#pragma once

#include <cstdint>

namespace lowbit::kernels {

enum class GateFn { relu, tanh, sigmoid, affine, leaky_relu, thresholded_relu, scaled_tanh, hard_sigmoid, elu, softsign, softplus };

struct Gate {
  GateFn fn = GateFn::sigmoid;
  float alpha = 0, beta = 0;  // ONNX defaults are resolved by the caller (gate_defaults)
};

// The ONNX default alpha/beta of a gate function (LeakyRelu 0.01, HardSigmoid 0.2/0.5, ...).
Gate gate_defaults(GateFn fn);
// Whether fn reads alpha / beta (the ONNX activation_alpha/beta lists skip the others).
bool gate_uses_alpha(GateFn fn);
bool gate_uses_beta(GateFn fn);

struct CellArgs {
  int64_t H = 0;
  const float* wb = nullptr;  // (G*H) or null
  const float* rb = nullptr;  // (G*H) or null
  float clip = 0;             // > 0: pre-activations clamped to [-clip, clip] before every gate
};

// v[i] = f(clamp(v[i])) over n values. Sigmoid and Tanh are sigmoid_inplace / tanh_inplace
// (fp32_act.h, fast_exp); the others in float with libm.
void gate_inplace(const Gate& f, int64_t n, float* v, float clip);

// h = f(xg + hg + wb + rb). scratch: H floats.
void rnn_cell(const CellArgs& a, const Gate& f, const float* xg, const float* hg, float* h, float* scratch);
// fgh: the gate, cell and hidden activations. P (3H: i o f peepholes) may be null. input_forget
// couples the gates: f = 1 - i. c = f*c + i*g(.); h = o * h_act(c) (unclipped). scratch: 5H.
void lstm_cell(const CellArgs& a, const Gate fgh[3], const float* P, bool input_forget, const float* xg,
               const float* hg, float* h, float* c, float* scratch);
// fg: the gate and hidden activations. linear_before_reset: n = g(xn + wbn + r * (hn + rbn));
// otherwise n = g(xn + wbn + rbn + (r * h) Rh^T) with Rh (H, H), the h-gate rows of R (hg's
// h-gate part is then unused). h = (1 - z) * n + z * h. scratch: 4H.
void gru_cell(const CellArgs& a, const Gate fg[2], bool linear_before_reset, const float* Rh, const float* xg,
              const float* hg, float* h, float* scratch);

namespace ref {
// The same cells in double with libm (std::exp, std::tanh) and plain-loop dot products, each
// state value rounded to float once per step. Same scratch sizes.
void gate_inplace(const Gate& f, int64_t n, float* v, float clip);
void rnn_cell(const CellArgs& a, const Gate& f, const float* xg, const float* hg, float* h, float* scratch);
void lstm_cell(const CellArgs& a, const Gate fgh[3], const float* P, bool input_forget, const float* xg,
               const float* hg, float* h, float* c, float* scratch);
void gru_cell(const CellArgs& a, const Gate fg[2], bool linear_before_reset, const float* Rh, const float* xg,
              const float* hg, float* h, float* scratch);
}  // namespace ref

}  // namespace lowbit::kernels
