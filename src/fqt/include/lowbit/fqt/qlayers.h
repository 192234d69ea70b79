// Quantized layers: drop-in replacements of nn::Linear and nn::Conv2d whose three GEMMs run on
// integer codes with narrow accumulators (qmatmul.h). They share the fp32 master weights (the
// same Vars) with the layers they replace; the optimizer updates those in fp32.
#pragma once

#include <memory>
#include <string>

#include "lowbit/fqt/quant_config.h"
#include "lowbit/nn/layers.h"

namespace lowbit::fqt {

struct ConvTables;  // qconv.cc: a same-size conv's geometry tables

// Random streams: every stochastic rounding draws from (seed, stream(layer, step, tensor)),
// so results depend on neither thread count nor batch order of other layers.
struct QuantContext {
  QuantConfig cfg;
  uint64_t seed = 0;
  uint64_t layer_id = 0;  // hash of the layer's path
  int64_t step = 0;       // backward calls so far
  bool first_layer = false;  // the model's first quantized layer (QuantConfig::first_layer_input)
  // Forward ranges kept between updates (OperandConfig::scale_period): m of X and of W and the
  // update index (step / period) they were computed at; -1 = none yet.
  float range_x = 0, range_w = 0;
  int64_t range_x_at = -1, range_w_at = -1;
  // A QConv2d's tables of its last geometry (not training state: rebuilt when missing).
  std::shared_ptr<const ConvTables> conv_tables;
};

class QLinear : public nn::Module {
 public:
  QLinear(nn::Linear& src, QuantConfig cfg, uint64_t seed, const std::string& path);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "QLinear"; }
  void set_config(const QuantConfig& cfg) { ctx_->cfg = cfg; }
  const QuantConfig& config() const { return ctx_->cfg; }
  void set_first_layer(bool first) { ctx_->first_layer = first; }
  QuantContext& context() { return *ctx_; }  // quant_state.h saves and restores it

 private:
  int64_t in_, out_;
  Var weight_, bias_;
  std::shared_ptr<QuantContext> ctx_;
};

class QConv2d : public nn::Module {
 public:
  QConv2d(nn::Conv2d& src, QuantConfig cfg, uint64_t seed, const std::string& path);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "QConv2d"; }
  void set_config(const QuantConfig& cfg) { ctx_->cfg = cfg; }
  const QuantConfig& config() const { return ctx_->cfg; }
  QuantContext& context() { return *ctx_; }  // quant_state.h saves and restores it

 private:
  Conv2dOptions opt_;
  Var weight_, bias_;
  std::shared_ptr<QuantContext> ctx_;
};

// Functional forms (what the layers call), usable on their own in tests.
Var quantized_linear(const Var& x, const Var& w, const Var& bias, const std::shared_ptr<QuantContext>& ctx);
Var quantized_conv2d(const Var& x, const Var& w, const Var& bias, const Conv2dOptions& opt,
                     const std::shared_ptr<QuantContext>& ctx);

// Stream ids of the three stochastically rounded tensors of one backward.
enum class SrTensor : uint64_t { grad_input_g = 1, grad_weight_g = 2, grad_weight_x = 3 };
uint64_t sr_stream(const QuantContext& ctx, SrTensor t);

}  // namespace lowbit::fqt
