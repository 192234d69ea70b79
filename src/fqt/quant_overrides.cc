// apply_overrides(): named settings on top of a preset, for the ablations of issue 14.
// Keys (GEMM g in fwd | dx | dw; its operands fwd.x fwd.w | dx.g dx.w | dw.g dw.x):
//   only=OP | only=G       quantize just that operand / GEMM, everything else fp32
//   G=int|fp32             both operands of a GEMM quantized or fp32
//   OP=q|fp32              one operand quantized or fp32
//   OP.round=nearest|stochastic   OP.clip=F (0,1]
//   fwd.x.scale=tensor|row  fwd.w.scale=tensor|row   fwd.OP.quantile=Q   fwd.OP.period=P
//   G.tile=T (0 = one tile)   hadamard=on|off   hadamard.block=H (0 = h(n))
//   first.x=auto|signed|unsigned|fp32|digits2
//   first.layer=int|fp32   last.layer=int|fp32   the model's first / last layer left fp32
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

#include "lowbit/fqt/quant_config.h"
#include "qlinear_ext.h"

namespace lowbit::fqt {
namespace {

[[noreturn]] void bad(const std::string& item, const std::string& why) {
  throw ValueError(fmt::format("[quant overrides] '{}': {}", item, why));
}

double number(const std::string& item, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d)) bad(item, "expected a number");
  return d;
}

GemmConfig* gemm_of(QuantConfig& c, const std::string& g) {
  if (g == "fwd") return &c.forward;
  if (g == "dx") return &c.grad_input;
  if (g == "dw") return &c.grad_weight;
  return nullptr;
}

// "fwd.x" -> forward.a etc.; null for an unknown name.
OperandConfig* operand_of(QuantConfig& c, const std::string& op) {
  if (op == "fwd.x") return &c.forward.a;
  if (op == "fwd.w") return &c.forward.b;
  if (op == "dx.g") return &c.grad_input.a;
  if (op == "dx.w") return &c.grad_input.b;
  if (op == "dw.g") return &c.grad_weight.a;
  if (op == "dw.x") return &c.grad_weight.b;
  return nullptr;
}

void set_one(QuantConfig& c, const std::string& item) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos) bad(item, "expected key=value");
  const std::string key = item.substr(0, eq), v = item.substr(eq + 1);
  const auto onoff = [&](const char* on, const char* off) {
    if (v != on && v != off) bad(item, fmt::format("expected {} or {}", on, off));
    return v == on;
  };
  if (key == "only") {
    OperandConfig* keep = operand_of(c, v);
    GemmConfig* keep_g = gemm_of(c, v);
    if (!keep && !keep_g) bad(item, "expected an operand (fwd.x, fwd.w, dx.g, dx.w, dw.g, dw.x) or a GEMM (fwd, dx, dw)");
    for (GemmConfig* g : {&c.forward, &c.grad_input, &c.grad_weight})
      for (OperandConfig* o : {&g->a, &g->b}) o->quantize = o == keep || g == keep_g;
    return;
  }
  if (GemmConfig* g = gemm_of(c, key)) {
    g->a.quantize = g->b.quantize = onoff("int", "fp32");
    return;
  }
  if (OperandConfig* o = operand_of(c, key)) {
    o->quantize = onoff("q", "fp32");
    return;
  }
  const size_t dot = key.rfind('.');
  const std::string head = dot == std::string::npos ? "" : key.substr(0, dot), field = key.substr(dot + 1);
  if (OperandConfig* o = operand_of(c, head)) {
    const bool fwd = head.rfind("fwd.", 0) == 0;
    if (field == "round") {
      o->rounding = onoff("stochastic", "nearest") ? Rounding::stochastic : Rounding::nearest;
    } else if (field == "clip") {
      o->clip = static_cast<float>(number(item, v));
    } else if (field == "scale" && fwd) {
      o->per_row = onoff("row", "tensor");
    } else if (field == "quantile" && fwd) {
      o->quantile = static_cast<float>(number(item, v));
    } else if (field == "period" && fwd) {
      const double p = number(item, v);
      if (p != std::floor(p)) bad(item, "expected an integer");
      o->scale_period = static_cast<int>(std::clamp(p, -1.0, 2e6));
    } else {
      bad(item, "unknown operand setting (round, clip; forward operands also scale, quantile, period)");
    }
    return;
  }
  if (GemmConfig* g = gemm_of(c, head); g && field == "tile") {
    const double t = number(item, v);
    if (t < 0 || t > 65536 || t != std::floor(t)) bad(item, "expected a tile width in [0, 65536]");
    g->acc.tile = static_cast<int64_t>(t);
    return;
  }
  if (key == "hadamard") {
    c.grad_input.hadamard = c.grad_weight.hadamard = onoff("on", "off");
    return;
  }
  if (key == "hadamard.block") {
    const double h = number(item, v);
    if (h < 0 || h > 65536 || h != std::floor(h)) bad(item, "expected 0 or a power of two up to 65536");
    c.grad_input.hadamard_block = c.grad_weight.hadamard_block = static_cast<int64_t>(h);
    return;
  }
  if (key == "first.x") {
    c.first_layer_input = v;
    return;
  }
  if (key == "first.layer") {
    c.quantize_first_layer = onoff("int", "fp32");
    return;
  }
  if (key == "last.layer") {
    c.quantize_last_layer = onoff("int", "fp32");
    return;
  }
  bad(item, "unknown key (see `lowbit cil --help`, --quant-set)");
}

}  // namespace

void apply_overrides(QuantConfig& cfg, const std::string& spec) {
  if (spec.empty()) return;
  if (!cfg.enabled) return;  // fp32 has no operands to change
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    set_one(cfg, item);
  }
  validate_linear_options(cfg);
}

}  // namespace lowbit::fqt
