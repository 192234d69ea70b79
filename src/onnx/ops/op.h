// Op registry: for each supported (domain, op_type) its attribute list, shape/type inference and
// reference kernel. Inference runs at load (static shapes) and again whenever an output shape
// depends on runtime values; run() receives outputs already allocated at the inferred shape.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/onnx/ir.h"

namespace lowbit::onnx {

// "node 'conv1' (Conv, opset 13)": the prefix of every op error.
std::string node_where(const Node& node, int opset);

template <typename... Args>
[[noreturn]] void node_fail(const Node& node, int opset, fmt::format_string<Args...> f, Args&&... args) {
  throw ValueError(fmt::format("[onnx] {}: {}", node_where(node, opset), fmt::format(f, std::forward<Args>(args)...)));
}

#define LOWBIT_NODE_REQUIRE(cond, ctx, ...)                                   \
  do {                                                                        \
    if (!(cond)) [[unlikely]]                                                 \
      ::lowbit::onnx::node_fail((ctx).node, (ctx).opset, __VA_ARGS__);        \
  } while (0)

struct InferCtx {
  const Node& node;
  int opset;
  std::vector<ValueType> in;          // elem undefined for an omitted optional input
  std::vector<const Array*> values;   // input values when known (constants, or at run time)
  std::vector<ValueType> out;         // filled by infer; size == node.outputs.size()

  size_t n_in() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].elem != ElemType::undefined; }
  const Shape& shape(size_t i) const;  // requires a known shape
  bool shape_known(size_t i) const { return has(i) && in[i].has_shape; }
  const Array* value(size_t i) const { return i < values.size() ? values[i] : nullptr; }
  // A node may declare fewer outputs than its op produces (malformed models): that is the
  // model's error, reported with the node, never an out-of-range access.
  void set_out(size_t i, ElemType elem, Shape shape) {
    LOWBIT_NODE_REQUIRE(i < out.size(), *this, "produces output {} but the node declares {} output(s)", i, out.size());
    out[i] = ValueType{elem, std::move(shape), true};
  }
  void set_out_unknown(size_t i, ElemType elem) {
    LOWBIT_NODE_REQUIRE(i < out.size(), *this, "produces output {} but the node declares {} output(s)", i, out.size());
    out[i] = ValueType{elem, {}, false};
  }
};

struct RunCtx {
  const Node& node;
  int opset;
  std::vector<const Array*> in;   // nullptr for an omitted optional input
  std::vector<Array*> out;        // allocated at the inferred shape; nullptr if not wanted
  // Set by the session: a per-node slot that lives as long as the plan for these input shapes
  // (ops keep prepacked weights there), and which inputs are session constants (bit i: input i
  // holds the same data on every run). Null / 0 when run outside a session (constant folding).
  std::shared_ptr<void>* state = nullptr;
  uint64_t const_inputs = 0;
  // Bit i: input i / output i is stored channels-last (NHWC for a logical NCHW shape). Only set
  // for ops whose OpDef::channels_last accepts the node (layout_plan.h).
  uint64_t nhwc_inputs = 0, nhwc_outputs = 0;
  const Array& input(size_t i) const;
  bool has(size_t i) const { return i < in.size() && in[i] != nullptr; }
};

// Shape logic needs an InferCtx (for errors and attribute parsing); run() builds one with this.
InferCtx infer_ctx_for(const RunCtx& run);

// Element conversion with saturation (Cast, and dtype changes in passes).
void cast_into(const Array& x, Array& y);

constexpr uint64_t kTiedLayout = uint64_t{1} << 63;   // see OpDef::channels_last
constexpr uint64_t kEveryOutput = uint64_t{1} << 62;  // with kTiedLayout: see OpDef::channels_last

struct OpDef {
  OpDef(std::string_view domain_, std::string_view name_, int since_, std::vector<std::string_view> attrs_,
        std::function<void(InferCtx&)> infer_, std::function<void(RunCtx&)> run_)
      : domain(domain_), name(name_), since(since_), attrs(std::move(attrs_)), infer(std::move(infer_)),
        run(std::move(run_)) {}
  std::string_view domain;        // "" (ai.onnx) or "com.microsoft"
  std::string_view name;
  int since = 1;                  // oldest default-domain opset whose semantics this implements
  std::vector<std::string_view> attrs;  // accepted attribute names; others are errors
  std::function<void(InferCtx&)> infer;
  std::function<void(RunCtx&)> run;
  // Output values depend only on input shapes (Shape, Size): foldable once shapes are known.
  bool shape_only = false;
  // run() assigns *out[i] itself (If, Loop, Scan: shapes known only once it has run); the
  // session then hands it empty slots instead of buffers at inferred shapes.
  bool own_outputs = false;
  // Multiply-adds x2 for the whole node given inferred shapes; null means "elementwise-ish".
  std::function<double(const InferCtx&)> flops;
  // Which inputs may be handed over channels-last (bit i for input i; output 0 may then be
  // too), given fully inferred input types and constant values; null or 0 = NCHW only. Inputs
  // at positions >= 1 are stored in the output's layout, and with kTiedLayout input 0 too. Nodes
  // with several outputs are planned only with kTiedLayout | kEveryOutput: all in one layout (Split).
  std::function<uint64_t(const InferCtx&)> channels_last;
  // The input whose buffer output 0 may be written over when this node is its last reader
  // (run() must then cope with the two aliasing: a residual summed into the output), or -1.
  std::function<int(const Node&)> overwrites_input;
};

const OpDef* find_op(std::string_view domain, std::string_view op_type);
std::vector<const OpDef*> all_ops();

// Checks that the node's op and attributes are supported at this opset; throws naming them.
const OpDef& resolve_op(const Node& node, int opset);
// resolve_op plus the ONNX schema (inputs, outputs, attribute types, required attributes) and
// attribute ranges: after it, infer/run may rely on every required input being present.
// Graph::validate() calls it for every node of a graph not yet optimized (ops/node_check.cc).
const OpDef& check_node(const Node& node, int opset);

// Per-family registration (each ops/*.cc defines one).
using OpList = std::vector<OpDef>;
void add_elementwise_ops(OpList& ops);
void add_activation_ops(OpList& ops);
void add_rnn_ops(OpList& ops);  // rnn.cc: RNN, GRU, LSTM
void add_conv_ops(OpList& ops);
void add_pool_ops(OpList& ops);
void add_matmul_ops(OpList& ops);
void add_norm_ops(OpList& ops);
void add_shape_ops(OpList& ops);
void add_tensor_ops(OpList& ops);
void add_pad_ops(OpList& ops);  // pad.cc, called from add_tensor_ops
void add_reduce_ops(OpList& ops);
void add_quant_ops(OpList& ops);
void add_quantize_linear_ops(OpList& ops);  // quantize_linear.cc, called from add_quant_ops
// Scales (float input i) must be positive and finite, else an error naming the node (`what`:
// the input's name): the quantizer divides by them.
void require_positive_scales(const RunCtx& ctx, size_t i, const char* what);
void add_qlinear_fused_ops(OpList& ops);
void add_math_ops(OpList& ops);    // math_ops.cc: Mod, BitShift, CumSum
void add_einsum_ops(OpList& ops);  // einsum.cc: Einsum
void add_nms_ops(OpList& ops);     // nms.cc: NonMaxSuppression
void add_generator_ops(OpList& ops);      // generator_ops.cc: EyeLike, Hann/Hamming/BlackmanWindow
void add_dynamic_quant_ops(OpList& ops);  // dynamic_quant.cc: DynamicQuantizeLinear
void add_grid_sample_ops(OpList& ops);    // grid_sample.cc: GridSample
void add_unique_ops(OpList& ops);         // unique.cc: Unique
void add_roi_align_ops(OpList& ops);      // roi_align.cc: RoiAlign
void add_loss_ops(OpList& ops);    // loss_ops.cc: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
void add_index_ops(OpList& ops);   // index_ops.cc: GatherElements, OneHot, Trilu
void add_layout_ops(OpList& ops);  // layout_ops.cc: Tile, DepthToSpace, SpaceToDepth, ReverseSequence
void add_resize_ops(OpList& ops);  // resize.cc: Resize, Upsample
void add_scatter_ops(OpList& ops);  // scatter_ops.cc: GatherND, ScatterND, ScatterElements (and Scatter)
void add_norm_extra_ops(OpList& ops);  // norm_extra.cc: LRN, MeanVarianceNormalization, GroupNormalization
void add_select_ops(OpList& ops);  // select_ops.cc: TopK, Hardmax, NonZero, Compress
void add_control_flow_ops(OpList& ops);  // control_flow.cc: If, Loop, Scan
void add_bitwise_ops(OpList& ops);       // bitwise_ops.cc: BitwiseAnd/Or/Xor/Not
void add_col2im_ops(OpList& ops);        // col2im.cc: Col2Im, CenterCropPad
void add_channel_shuffle_ops(OpList& ops);  // channel_shuffle.cc: lowbit.ChannelShuffle, lowbit.ConcatShuffleSlice
void add_activation_extra_ops(OpList& ops);  // activation_extra.cc: Elu, Selu, Celu, ThresholdedRelu, Shrink, Mish, IsInf, IsNaN  // qlinear_fused.cc: lowbit.QConv / QGemm / QAdd

// MatMul shape logic (NumPy rules), shared by MatMul, MatMulInteger and QLinearMatMul.
struct MatMulDims {
  Shape batch;             // broadcast batch shape
  Shape out;               // full output shape
  int64_t M = 1, N = 1, K = 1;
  Shape a_batch, b_batch;  // each operand's own batch dims
  int64_t a_offset(int64_t batch_index) const;  // in matrices, with broadcasting
  int64_t b_offset(int64_t batch_index) const;
  int64_t bcast_offset(int64_t i, const Shape& own) const;
};
MatMulDims matmul_dims(const InferCtx& ctx, Shape a, Shape b);

// Shared helpers.
// out (row-major over out_shape) = in at offsets sum(idx_d * in_strides[d]); es = element bytes.
void strided_copy_bytes(const std::byte* in, std::byte* out, const Shape& out_shape,
                        const std::vector<int64_t>& in_strides, size_t es);
int64_t normalize_axis(int64_t axis, int64_t rank, const InferCtx& ctx);
Shape broadcast_shapes(const std::vector<Shape>& shapes, const InferCtx& ctx);
// Strides (in elements) of `in` broadcast to `out`: 0 on broadcast dimensions.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Reshape's target for an input of shape `in`: a 0 copies the input's dim (unless allowzero),
// one -1 takes what is left; errors name ctx's node. Shared by Reshape and lowbit.ChannelShuffle.
Shape reshape_target(const InferCtx& ctx, const Shape& in, Shape target, bool allowzero);
// Reads a 1-d int tensor input as a vector (Reshape shape, Slice starts...).
std::vector<int64_t> int_list(const Array& a);
// Type check helper: input i must have one of the given element types.
void require_type(const InferCtx& ctx, size_t i, std::initializer_list<ElemType> allowed);
bool is_float(ElemType t);

}  // namespace lowbit::onnx
