// RNN / LSTM / GRU networks as nn modules (cells composed of autograd ops) and their sizes.
#include "rnn_model.h"

#include <cmath>

#include "lowbit/core/error.h"
#include "lowbit/core/rng.h"
#include "lowbit/nn/layers.h"
#include "lowbit/ops/ops.h"
#include "rnn_ops.h"

namespace lowbit::paradnn {
namespace {

class RnnNet : public nn::Module {
 public:
  explicit RnnNet(const ModelConfig& c)
      : cell_(c.get("cell")), H_(c.get("embedding")), G_(rnn_gates(c)) {
    table_ = &register_parameter("embedding", Tensor::zeros({c.get("vocab"), H_}));
    for (int64_t l = 0; l < c.get("layers"); ++l) {
      Layer L;
      L.w_ih = &register_parameter(fmt::format("l{}_w_ih", l), Tensor::zeros({G_ * H_, H_}));
      L.w_hh = &register_parameter(fmt::format("l{}_w_hh", l), Tensor::zeros({G_ * H_, H_}));
      L.b_ih = &register_parameter(fmt::format("l{}_b_ih", l), Tensor::zeros({G_ * H_}));
      L.b_hh = &register_parameter(fmt::format("l{}_b_hh", l), Tensor::zeros({G_ * H_}));
      layers_.push_back(L);
    }
    out_ = register_module("out", std::make_shared<nn::Linear>(H_, c.get("vocab")));
  }

  // PyTorch's init: cell weights and biases U(-1/sqrt(H), 1/sqrt(H)); embedding N(0, 1).
  void reset_parameters(uint64_t seed) override {
    uint64_t stream = 0;
    normal_fill(seed, stream++, 0, table_->numel(), table_->mutable_value().data<float>());
    const float bound = 1.0f / std::sqrt(static_cast<float>(H_));
    Rng rng(seed ^ 0x9e3779b97f4a7c15ULL);
    for (auto& L : layers_)
      for (Var* p : {L.w_ih, L.w_hh, L.b_ih, L.b_hh}) {
        float* d = p->mutable_value().data<float>();
        for (int64_t i = 0; i < p->numel(); ++i) d[i] = bound * (2.0f * static_cast<float>(rng.below(1u << 24)) / (1 << 24) - 1.0f);
      }
  }

  Var forward(const Var& tokens) override {
    const Tensor& tok = tokens.value();
    LOWBIT_REQUIRE(tok.dtype() == DType::i32 && tok.dim() == 2, "paradnn rnn", "expects int32 tokens (B, T), got {}",
                   shape_str(tok.shape()));
    const int64_t B = tok.size(0), T = tok.size(1);
    std::vector<Var> h(layers_.size(), Var(Tensor::zeros({B, H_}))), c = h;
    std::vector<Var> tops;
    for (int64_t t = 0; t < T; ++t) {
      Var x = embedding_step(tok, *table_, t);
      for (size_t l = 0; l < layers_.size(); ++l) {
        step(layers_[l], x, h[l], c[l]);
        x = h[l];
      }
      tops.push_back(x);
    }
    return out_(cat(tops, 0));
  }
  std::string_view type() const override { return "ParaDnnRnn"; }

 private:
  struct Layer {
    Var *w_ih, *w_hh, *b_ih, *b_hh;
  };
  Var gate(const Var& g, int64_t k) const { return narrow(g, 1, k * H_, H_); }

  void step(const Layer& L, const Var& x, Var& h, Var& c) const {
    const Var gi = linear(x, *L.w_ih, *L.b_ih), gh = linear(h, *L.w_hh, *L.b_hh);
    if (cell_ == 0) {
      h = lowbit::tanh(add(gi, gh));
    } else if (cell_ == 1) {  // i, f, g, o
      const Var g = add(gi, gh);
      c = add(mul(sigmoid(gate(g, 1)), c), mul(sigmoid(gate(g, 0)), lowbit::tanh(gate(g, 2))));
      h = mul(sigmoid(gate(g, 3)), lowbit::tanh(c));
    } else {  // r, z, n: n = tanh(gi_n + r * gh_n), h' = n + z * (h - n)
      const Var r = sigmoid(add(gate(gi, 0), gate(gh, 0))), z = sigmoid(add(gate(gi, 1), gate(gh, 1)));
      const Var n = lowbit::tanh(add(gate(gi, 2), mul(r, gate(gh, 2))));
      h = add(n, mul(z, sub(h, n)));
    }
  }

  int64_t cell_, H_, G_;
  Var* table_;
  std::vector<Layer> layers_;
  nn::ModuleSlot out_;
};

}  // namespace

int64_t rnn_gates(const ModelConfig& c) {
  const int64_t cell = c.get("cell");
  return cell == 0 ? 1 : cell == 1 ? 4 : 3;
}

ModelStats analyze_rnn(const ModelConfig& c) {
  const int64_t H = c.get("embedding"), V = c.get("vocab"), G = rnn_gates(c), L = c.get("layers"), T = c.get("length");
  ModelStats s;
  s.params = V * H + L * G * (2 * H * H + 2 * H) + H * V + V;
  // Per example: T steps x (L cells x 2 GEMMs of G*H x H) + the projection at every step.
  s.forward_flops_per_example =
      static_cast<double>(T) * (static_cast<double>(L) * 2.0 * 2.0 * G * H * H + 2.0 * static_cast<double>(H) * V);
  return s;
}

std::shared_ptr<nn::Module> build_rnn_module(const ModelConfig& c) { return std::make_shared<RnnNet>(c); }

}  // namespace lowbit::paradnn
