// The configurable quantized Linear used when a QuantConfig asks for more than the spec's
// defaults: operands kept fp32 (ablations), per-row forward scales, quantile ranges, ranges
// reused for several steps, the first layer's input encoding. Private to fqt.
#pragma once

#include <memory>

#include "lowbit/ops/var.h"
#include "lowbit/fqt/qlayers.h"

namespace lowbit::fqt {

// Whether a Linear with this config (and position) needs extended_linear().
bool uses_linear_options(const QuantConfig& cfg, bool first_layer);
// Whether the config sets options that only Linear layers implement (QConv2d rejects them).
bool has_linear_only_options(const QuantConfig& cfg);
// ValueError naming the option for values out of range or options on operands without them.
void validate_linear_options(const QuantConfig& cfg);

// quantized_linear() with the options above. Semantics:
//  * forward operand not quantized: the forward GEMM runs in fp32 on the other operand's
//    dequantized codes (no accumulator model); the same for each backward GEMM and its operands,
//    where a quantized operand is its spec form mapped back: Q(G H)·H/h, Q(H W_q)·H/h, Q(H X_q)·H/h.
//  * per-row forward scales: integer GEMM, then s_x[i]·s_w[j] per output element. The backward
//    GEMMs, whose transforms mix rows, take per-tensor codes of the fp32 operand instead.
Var extended_linear(const Var& x, const Var& w, const Var& bias, const std::shared_ptr<QuantContext>& ctx);

}  // namespace lowbit::fqt
