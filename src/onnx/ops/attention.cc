// lowbit.Attention: the self-attention core of a transformer encoder layer as one op, written by
// the fuse_attention pass (passes_attention.cc) in place of Transpose -> Split -> Squeeze x3 ->
// Transpose(K) -> MatMul -> Mul(scale) -> Softmax -> MatMul(V) -> Transpose on packed QKV.
//   input:  x [B, T, 3, H, dh] (float32 or float64): the QKV projection reshaped, q|k|v per token
//   attrs:  scale (float; 1 when absent)
//   output: y [B, T, H, dh], y[b, t, h] = sum_j softmax_j(scale * q[b,t,h] . k[b,j,h]) v[b,j,h]
// float32 runs kernels::attention_head (one task per (batch, head)); float64 the reference.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lowbit/core/threads.h"
#include "lowbit/kernels/attention.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

void attention_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  const double scale = ctx.node.attr_f("scale", 1.0);
  LOWBIT_NODE_REQUIRE(std::isfinite(scale), ctx, "scale must be finite, got {}", scale);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() == 5 && x[2] == 3, ctx, "expects x [B, T, 3, H, dh] (packed q, k, v), got {}",
                      shape_str(x));
  ctx.set_out(0, ctx.in[0].elem, {x[0], x[1], x[3], x[4]});
}

void attention_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  Array& y = *ctx.out[0];
  const Shape& s = x.shape();
  const int64_t B = s[0], T = s[1], H = s[3], dh = s[4];
  if (B * T * H * dh == 0) return;
  const int64_t ld = 3 * H * dh, ldy = H * dh;  // token strides of x and y
  const double scale = ctx.node.attr_f("scale", 1.0);
  if (x.type() == ElemType::f64) {
    const double* px = x.data<double>();
    double* py = y.data<double>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const double* q = px + b * T * ld + h * dh;
        kernels::ref::attention_head(T, dh, scale, q, q + H * dh, q + 2 * H * dh, ld, py + b * T * ldy + h * dh, ldy);
      }
    return;
  }
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const float fscale = static_cast<float>(scale);
  const int64_t scratch = kernels::attention_scratch_floats(T, dh);
  // A head is ~4 T^2 dh flops; below a few hundred thousand a second thread costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, (1 << 18) / std::max<int64_t>(1, 4 * T * T * dh));
  parallel_for(B * H, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> buf(static_cast<size_t>(scratch));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / H, h = t % H;
      const float* q = px + b * T * ld + h * dh;
      kernels::attention_head(T, dh, fscale, q, q + H * dh, q + 2 * H * dh, ld, py + b * T * ldy + h * dh, ldy,
                              buf.data());
    }
  });
}

}  // namespace

void add_attention_ops(OpList& ops) {
  OpDef att{"lowbit", "Attention", 1, {"scale"}, attention_infer, attention_run};
  att.flops = [](const InferCtx& ctx) {
    if (!ctx.shape_known(0) || ctx.shape(0).size() != 5) return 0.0;
    const Shape& x = ctx.shape(0);
    return 4.0 * static_cast<double>(x[0] * x[3]) * static_cast<double>(x[1]) * static_cast<double>(x[1]) *
           static_cast<double>(x[4]);
  };
  ops.push_back(att);
}

}  // namespace lowbit::onnx
