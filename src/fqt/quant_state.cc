// Saving and restoring the per-layer QuantContext state of a quantized model (quant_state.h).
#include "lowbit/fqt/quant_state.h"

#include <cmath>

#include "lowbit/core/error.h"
#include "lowbit/fqt/qlayers.h"

namespace lowbit::fqt {
namespace {

std::vector<std::pair<std::string, QuantContext*>> contexts(nn::Module& model) {
  std::vector<std::pair<std::string, QuantContext*>> out;
  for (auto& [path, m] : model.named_modules()) {
    if (auto* q = dynamic_cast<QLinear*>(m.get())) out.emplace_back(path, &q->context());
    else if (auto* c = dynamic_cast<QConv2d*>(m.get())) out.emplace_back(path, &c->context());
  }
  return out;
}

}  // namespace

std::vector<LayerQuantState> quant_state(nn::Module& model) {
  std::vector<LayerQuantState> out;
  for (auto& [path, ctx] : contexts(model))
    out.push_back({path, ctx->step, ctx->range_x, ctx->range_w, ctx->range_x_at, ctx->range_w_at});
  return out;
}

void restore_quant_state(nn::Module& model, const std::vector<LayerQuantState>& state, const std::string& origin) {
  const auto ctxs = contexts(model);
  if (ctxs.size() != state.size())
    throw IoError(fmt::format("[checkpoint] {}: quantizer state of {} layers, the model has {} quantized layers", origin,
                              state.size(), ctxs.size()));
  for (size_t i = 0; i < state.size(); ++i) {
    const LayerQuantState& s = state[i];
    if (s.layer != ctxs[i].first)
      throw IoError(fmt::format("[checkpoint] {}: quantizer state #{} is for layer '{}', the model's is '{}'", origin, i,
                                s.layer, ctxs[i].first));
    const bool ranges_ok = std::isfinite(s.range_x) && std::isfinite(s.range_w) && s.range_x >= 0 && s.range_w >= 0;
    if (s.step < 0 || s.range_x_at < -1 || s.range_w_at < -1 || !ranges_ok)
      throw IoError(fmt::format("[checkpoint] {}: quantizer state of layer '{}' is invalid (step {}, ranges {} at {}, {} at {})",
                                origin, s.layer, s.step, s.range_x, s.range_x_at, s.range_w, s.range_w_at));
    QuantContext& c = *ctxs[i].second;
    c.step = s.step;
    c.range_x = s.range_x, c.range_w = s.range_w;
    c.range_x_at = s.range_x_at, c.range_w_at = s.range_w_at;
  }
}

}  // namespace lowbit::fqt
