// Ops that generate tensors from shapes and attributes: EyeLike (ones on the k-th diagonal, in
// the input's type or `dtype`) and the window functions of opset 17 used before STFT/DFT
// (HannWindow, HammingWindow, BlackmanWindow; periodic or symmetric, in `output_datatype`).
#include <cmath>
#include <numbers>

#include "ops/op.h"

namespace lowbit::onnx {
namespace {

ElemType attr_type(const InferCtx& ctx, const char* key, ElemType dflt) {
  const int64_t t = ctx.node.attr_i(key, static_cast<int64_t>(dflt));
  const auto e = static_cast<ElemType>(t);
  LOWBIT_NODE_REQUIRE(e == ElemType::f32 || e == ElemType::f64 || e == ElemType::i8 || e == ElemType::u8 ||
                          e == ElemType::i16 || e == ElemType::u16 || e == ElemType::i32 || e == ElemType::u32 ||
                          e == ElemType::i64 || e == ElemType::u64 || e == ElemType::boolean,
                      ctx, "{}={} is not a supported element type", key, t);
  return e;
}

void eyelike_infer(InferCtx& ctx) {
  const ElemType out = attr_type(ctx, "dtype", ctx.in[0].elem);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, out);
  LOWBIT_NODE_REQUIRE(ctx.shape(0).size() == 2, ctx, "input must be 2-d, got {}", shape_str(ctx.shape(0)));
  ctx.set_out(0, out, ctx.shape(0));
}

void eyelike_run(RunCtx& ctx) {
  Array& y = *ctx.out[0];
  const int64_t rows = y.shape()[0], cols = y.shape()[1], k = ctx.node.attr_i("k", 0);
  dispatch_numeric(y.type(), "EyeLike", [&](auto t) {
    using T = decltype(t);
    T* p = y.data<T>();
    std::fill(p, p + y.numel(), T(0));
    for (int64_t r = 0; r < rows; ++r)
      if (r + k >= 0 && r + k < cols) p[r * cols + r + k] = T(1);
  });
}

void window_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::i32, ElemType::i64});
  const ElemType out = attr_type(ctx, "output_datatype", ElemType::f32);
  if (!ctx.value(0)) return ctx.set_out_unknown(0, out);
  LOWBIT_NODE_REQUIRE(ctx.value(0)->numel() == 1, ctx, "size must be a scalar, got shape {}", shape_str(ctx.value(0)->shape()));
  const int64_t n = ctx.value(0)->get_i64(0);
  LOWBIT_NODE_REQUIRE(n >= 0 && n <= (int64_t{1} << 30), ctx, "size must be in [0, 2^30], got {}", n);
  ctx.set_out(0, out, {n});
}

// w[i] = a0 - a1 cos(2πi/N') + a2 cos(4πi/N'), N' = N (periodic) or N - 1 (symmetric).
void window_run(RunCtx& ctx) {
  const std::string& op = ctx.node.op_type;
  double a0 = 0.5, a1 = 0.5, a2 = 0.0;  // Hann
  if (op == "HammingWindow") a0 = 25.0 / 46.0, a1 = 21.0 / 46.0;
  if (op == "BlackmanWindow") a0 = 0.42, a1 = 0.5, a2 = 0.08;
  Array& y = *ctx.out[0];
  const int64_t n = y.numel();
  const double period = static_cast<double>(ctx.node.attr_i("periodic", 1) ? n : n - 1);
  dispatch_numeric(y.type(), op, [&](auto t) {
    using T = decltype(t);
    for (int64_t i = 0; i < n; ++i) {
      const double x = 2 * std::numbers::pi * static_cast<double>(i) / period;
      y.data<T>()[i] = static_cast<T>(a0 - a1 * std::cos(x) + a2 * std::cos(2 * x));
    }
  });
}

}  // namespace

void add_generator_ops(OpList& ops) {
  ops.push_back(OpDef{"", "EyeLike", 9, {"dtype", "k"}, eyelike_infer, eyelike_run});
  for (const char* w : {"HannWindow", "HammingWindow", "BlackmanWindow"})
    ops.push_back(OpDef{"", w, 17, {"output_datatype", "periodic"}, window_infer, window_run});
}

}  // namespace lowbit::onnx
