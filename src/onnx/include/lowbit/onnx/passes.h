// Graph rewrites run by Session before planning. Each preserves the graph's outputs; folded and
// fused values keep the names of the values they replace.
#pragma once

#include <string>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

// Validates the graph (ONNX schema of every node) unless already done, then sets
// Graph::optimized: called by each fusion below before it writes lowbit-internal node forms.
void begin_internal_forms(Graph& g);

// Evaluates nodes whose inputs are all constants; returns how many were folded.
int fold_constants(Graph& g);
// Conv -> BatchNormalization with constant parameters becomes one Conv with scaled weights.
int fold_batchnorm(Graph& g);
// Conv followed by an Add of another value (a residual) becomes one Conv with that value as a
// 4th input and lowbit_sum=1 (oneDNN adds it as a post-op). Runs before fuse_activations, so a
// following Relu applies after the sum.
int fuse_conv_add(Graph& g);
// Conv/Gemm followed by Relu, Clip (constant bounds), HardSwish, LeakyRelu or Sigmoid becomes
// one node carrying the activation in lowbit_act* attributes; a Conv whose output y is read only by
// Sigmoid(y) and Mul(y, Sigmoid(y)) (SiLU, EfficientNet) carries lowbit_act=Silu.
int fuse_activations(Graph& g);
// x * 0.5 * (1 + erf(x / sqrt(2))) (PyTorch's Gelu export) becomes one Gelu node.
int fuse_gelu(Graph& g);
// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add over the last axis becomes
// LayerNormalization.
int fuse_layernorm(Graph& g);

// The self-attention core of an encoder layer (packed QKV reshaped to [B,T,3,H,dh] ->
// Transpose/Split/Squeeze -> q.k^T -> Mul(scale) -> Softmax -> .v -> Transpose) becomes one
// lowbit.Attention (passes_attention.cc).
int fuse_attention(Graph& g);

// ShuffleNet's channel shuffle (Reshape to [N, g, C/g, H, W] -> Transpose(0,2,1,3,4) -> Reshape,
// shapes computable from constants and tensor shapes) becomes one lowbit.ChannelShuffle that
// can stay channels-last (passes_shuffle.cc).
int fuse_channel_shuffle(Graph& g);
// Then a channel Slice of that shuffle's output, when the shuffle reads a channel Concat (the
// chunk of the ShuffleNet unit after), becomes one lowbit.ConcatShuffleSlice reading the
// Concat's inputs; Concat and shuffle stay for the Shape nodes that size the slices.
int fuse_concat_shuffle_slices(Graph& g);

// Rewrites a graph of opset 13-20 into the same computation at opset 21 (for INT4 and blocked
// DequantizeLinear): Reduce* `axes` attributes become inputs (opset 18); ops whose opset-20/21
// forms differ in meaning (GroupNormalization, GridSample) are a ValueError naming the node and
// `why`. Ops that only gained element types or attributes since keep their nodes.
void upgrade_to_opset21(Graph& g, const std::string& why);

// Quantized patterns (QDQ around Conv/Gemm/MatMul/Add, QLinearConv/QLinearMatMul with int8
// constant weights) become the fused integer ops lowbit.QConv / QGemm / QAdd (passes_qdq.cc).
// Runs first, before constant folding would turn DequantizeLinear(weights) into floats.
int lower_quantized(Graph& g);
// Throws ValueError naming the node for Q/DQ/QLinear* parameters that make no sense (scale not
// positive and finite, zero point of the wrong length, axis out of range).
void validate_qparams(const Graph& g);

// Conv/Gemm/MatMul reading Cast(bfloat16) -> Cast(float) of a float input, with constant weights
// that are all bfloat16 values, run in bf16 (lowbit_bf16=1; passes_bf16.cc). Needs the weights
// folded to constants first. LOWBIT_ONNX_BF16=0 keeps the float simulation (for comparisons).
int lower_bf16(Graph& g);

// ONNX Runtime's quantized contrib ops (com.microsoft QLinearAdd, QLinearMul, QLinearSigmoid,
// QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat, QGemm: its
// QOperator format, the Model Zoo's int8 models) rewritten as DequantizeLinear → op →
// QuantizeLinear; run by the loader before the schema check (contrib_qlinear.cc). Returns how
// many nodes it expanded.
int expand_contrib_qlinear(Graph& g);

// float16 models computed in float32 (lowbit has no float16 arithmetic): internal float16
// values, constants and element-type attributes (Cast to, dtype) become float32, subgraphs
// included; float16 graph inputs and declared float16 outputs keep their type through Casts at
// the boundary (an output whose type the file does not declare comes out as float32). Run by
// every Session (passes_f16.cc), optimized or not; returns the Casts added.
// Differs from a float16 engine by the float16 rounding it skips between ops.
int compute_float16_in_float32(Graph& g);

// Slice (H/W) -> [Slice] -> Pad (channels, constant) — the option-A shortcut — becomes one
// lowbit.SubsamplePad that can stay channels-last (passes_shortcut.cc).
int fuse_subsample_pads(Graph& g);

// All of the above, then dead-node removal.
void optimize_graph(Graph& g);

}  // namespace lowbit::onnx
