// Vector-Jacobian products of the ONNX ops, the backward half of onnx/grad.h. A VJP reads the
// node's forward inputs and outputs and the f32 gradients of its outputs, and writes f32
// gradients of the inputs it is asked for. VJPs validate, plan and call src/kernels; they never
// run a second engine: data-movement ops are differentiated by running their own forward on an
// index array (vjp_shape.cc).
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "ops/op.h"

namespace lowbit::onnx {

struct VjpCtx {
  const Node& node;
  int opset;
  std::vector<const Array*> in;    // forward inputs (nullptr: omitted)
  std::vector<const Array*> out;   // forward outputs (nullptr: omitted)
  std::vector<const Array*> dout;  // f32 gradients of the outputs, same shapes (nullptr: zero)
  std::vector<bool> want;          // which input gradients are needed
  std::vector<Array> din;          // written by the VJP: f32 at the input's shape (undefined: none)

  const Array& input(size_t i) const;
  bool has(size_t i) const { return i < in.size() && in[i] != nullptr; }
  bool wants(size_t i) const { return i < want.size() && want[i]; }
  InferCtx infer() const;          // for attribute parsing and node errors
  // dout[0], or zeros at output 0's shape when no gradient reached it.
  Array grad_out(size_t i = 0) const;
};

using VjpFn = std::function<void(VjpCtx&)>;
using VjpTable = std::vector<std::pair<std::string_view, VjpFn>>;

// The VJP of an op type (any domain), or null when the op has no gradient.
const VjpFn* find_vjp(std::string_view op_type);
void add_dense_vjps(VjpTable& t);      // vjp_dense.cc: Conv, Gemm, MatMul, norms, pools, softmax
void add_pointwise_vjps(VjpTable& t);  // vjp_pointwise.cc: activations, arithmetic, reductions
void add_shape_vjps(VjpTable& t);      // vjp_shape.cc: data movement, Q/DQ straight-through

// Runs one node's op outside a session (shapes inferred from the given inputs).
std::vector<Array> run_op(const Node& node, int opset, const std::vector<const Array*>& in);
// Sums g (at a broadcast shape) down to `shape` (NumPy broadcasting in reverse).
Array sum_to_shape(const Array& g, const Shape& shape);
// A f32 array of `shape` filled with v.
Array filled(const Shape& shape, float v);

}  // namespace lowbit::onnx
