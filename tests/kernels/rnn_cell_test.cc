// The recurrent cells (rnn_cell.h): every ONNX gate function and the RNN / LSTM (peepholes,
// input_forget) / GRU (linear_before_reset 0 and 1) cells against ref:: (double, libm), with
// and without biases and clip, plus hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fp32_test_util.h"
#include "lowbit/kernels/rnn_cell.h"

namespace lowbit::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;

const GateFn kAll[] = {GateFn::relu, GateFn::tanh, GateFn::sigmoid, GateFn::affine, GateFn::leaky_relu,
                       GateFn::thresholded_relu, GateFn::scaled_tanh, GateFn::hard_sigmoid, GateFn::elu,
                       GateFn::softsign, GateFn::softplus};

// alpha, beta in (0, 1] keep every gate 1-Lipschitz, so errors of the pre-activations pass
// through unamplified.
Gate test_gate(GateFn fn) {
  Gate g = gate_defaults(fn);
  if (gate_uses_alpha(fn)) g.alpha = 0.7f;
  if (gate_uses_beta(fn)) g.beta = 0.4f;
  return g;
}

// Gates alone on [-12, 12]: libm float vs double is <= 2 ulp of the result; the fast_exp
// sigmoid/tanh are within a few ulp of 1 (fp32_act.h); scaled_tanh adds one multiply.
TEST(RnnCell, GatesMatchReference) {
  for (GateFn fn : kAll)
    for (float clip : {0.0f, 3.0f}) {
      const Gate g = test_gate(fn);
      std::vector<float> fast = random_floats(4096, 1, -12.0f, 12.0f), ref = fast;
      gate_inplace(g, 4096, fast.data(), clip);
      ref::gate_inplace(g, 4096, ref.data(), clip);
      expect_close(fast, ref, 1.0, 8, "gate " + std::to_string(static_cast<int>(fn)) + " clip " + std::to_string(clip));
    }
}

// Pre-activations sum up to 4 + H terms of magnitude <= 4 (inputs in [-2, 2]); gates are
// 1-Lipschitz and add <= 8 u; the LSTM / GRU state updates add 3 roundings of values <= 4.
// Magnitude 4 and L = 2 * (H + 16) bound the sum of those, with a factor-2 margin.
struct CellCase {
  bool bias, peep, input_forget, lbr;
  float clip;
  GateFn f, g, h;
};

void run_cell(int cell, const CellCase& c, int64_t H, uint64_t seed) {
  const int64_t G = cell == 0 ? 1 : cell == 1 ? 4 : 3;
  const std::vector<float> xg = random_floats(G * H, seed, -2, 2), hg = random_floats(G * H, seed + 1, -2, 2);
  const std::vector<float> wb = random_floats(G * H, seed + 2), rb = random_floats(G * H, seed + 3);
  const std::vector<float> P = random_floats(3 * H, seed + 4), Rh = random_floats(H * H, seed + 5);
  const std::vector<float> h0 = random_floats(H, seed + 6), c0 = random_floats(H, seed + 7, -2, 2);
  const CellArgs a{H, c.bias ? wb.data() : nullptr, c.bias ? rb.data() : nullptr, c.clip};
  const Gate gates[3] = {test_gate(c.f), test_gate(c.g), test_gate(c.h)};
  std::vector<float> h_fast = h0, h_ref = h0, c_fast = c0, c_ref = c0, scratch(static_cast<size_t>(5 * H));
  const std::string what = "cell " + std::to_string(cell) + " H " + std::to_string(H) + " bias " + std::to_string(c.bias) +
                           " peep " + std::to_string(c.peep) + " if " + std::to_string(c.input_forget) + " lbr " +
                           std::to_string(c.lbr) + " clip " + std::to_string(c.clip) + " f " + std::to_string(int(c.f));
  if (cell == 0) {
    rnn_cell(a, gates[0], xg.data(), hg.data(), h_fast.data(), scratch.data());
    ref::rnn_cell(a, gates[0], xg.data(), hg.data(), h_ref.data(), scratch.data());
  } else if (cell == 1) {
    const float* p = c.peep ? P.data() : nullptr;
    lstm_cell(a, gates, p, c.input_forget, xg.data(), hg.data(), h_fast.data(), c_fast.data(), scratch.data());
    ref::lstm_cell(a, gates, p, c.input_forget, xg.data(), hg.data(), h_ref.data(), c_ref.data(), scratch.data());
  } else {
    gru_cell(a, gates, c.lbr, Rh.data(), xg.data(), hg.data(), h_fast.data(), scratch.data());
    ref::gru_cell(a, gates, c.lbr, Rh.data(), xg.data(), hg.data(), h_ref.data(), scratch.data());
  }
  expect_close(h_fast, h_ref, 4.0, 2.0 * double(H + 16), what + " h");
  expect_close(c_fast, c_ref, 4.0, 2.0 * double(H + 16), what + " c");
}

TEST(RnnCell, CellsMatchReference) {
  const GateFn S = GateFn::sigmoid, T = GateFn::tanh;
  for (int64_t H : {1, 7, 33}) {
    for (bool bias : {false, true})
      for (float clip : {0.0f, 1.5f}) {
        run_cell(0, {bias, false, false, false, clip, T, T, T}, H, 10);
        run_cell(0, {bias, false, false, false, clip, GateFn::relu, T, T}, H, 20);
        for (bool peep : {false, true})
          for (bool input_forget : {false, true}) run_cell(1, {bias, peep, input_forget, false, clip, S, T, T}, H, 30);
        run_cell(1, {bias, true, false, false, clip, GateFn::hard_sigmoid, GateFn::softsign, GateFn::elu}, H, 40);
        for (bool lbr : {false, true}) {
          run_cell(2, {bias, false, false, lbr, clip, S, T, T}, H, 50);
          run_cell(2, {bias, false, false, lbr, clip, GateFn::affine, GateFn::scaled_tanh, T}, H, 60);
        }
      }
    for (GateFn fn : kAll) run_cell(0, {true, false, false, false, 0.0f, fn, fn, fn}, H, 70);
  }
}

// Hand-computed: an RNN step with Relu, and an LSTM step whose pre-activations are all 0
// (i = o = f = 1/2, g = 0 -> c = c0 / 2; with input_forget f = 1 - i = 1/2 as well).
TEST(RnnCell, KnownValues) {
  const float xg[2] = {1.0f, -2.0f}, hg[2] = {0.5f, 0.5f};
  float h[2] = {9, 9}, scratch[10];
  rnn_cell({2, nullptr, nullptr, 0}, gate_defaults(GateFn::relu), xg, hg, h, scratch);
  EXPECT_EQ(h[0], 1.5f);
  EXPECT_EQ(h[1], 0.0f);
  const Gate gates[3] = {gate_defaults(GateFn::sigmoid), gate_defaults(GateFn::tanh), gate_defaults(GateFn::affine)};
  const float zeros[4] = {0, 0, 0, 0};
  for (bool input_forget : {false, true}) {
    float hh = 5, c = 0.8f;
    lstm_cell({1, nullptr, nullptr, 0}, gates, nullptr, input_forget, zeros, zeros, &hh, &c, scratch);
    EXPECT_FLOAT_EQ(c, 0.4f);
    EXPECT_FLOAT_EQ(hh, 0.2f);  // o * Affine(c) = 0.5 * (1 * 0.4 + 0)
  }
}

}  // namespace
}  // namespace lowbit::kernels
