// Normalizations found in models from the wild: LRN (AlexNet/GoogLeNet-era local response
// normalization across channels), MeanVarianceNormalization (zero mean, unit variance over
// `axes`) and GroupNormalization-18 (statistics per group of C/num_groups channels, scale and
// bias per group as opset 18 defines them). Validates and calls kernels/norm_extra.h.
#include "lowbit/kernels/norm_extra.h"
#include "ops/op.h"

namespace lowbit::onnx {
namespace {

void same_float_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  LOWBIT_NODE_REQUIRE(ctx.node.op_type != "LRN" || ctx.shape(0).size() >= 2, ctx, "input must be (N, C, ...), got {}",
                      shape_str(ctx.shape(0)));
  ctx.set_out(0, ctx.in[0].elem, ctx.shape(0));
}

template <typename T>
void lrn_typed(const RunCtx& ctx, const Array& x, Array& y) {
  const int64_t size = ctx.node.attr_i("size", 1);
  const double alpha = ctx.node.attr_f("alpha", 1e-4), beta = ctx.node.attr_f("beta", 0.75), bias = ctx.node.attr_f("bias", 1.0);
  const int64_t n = x.shape()[0], c = x.shape()[1], inner = x.numel() / std::max<int64_t>(n * c, 1);
  kernels::lrn(n, c, inner, size, alpha, beta, bias, x.data<T>(), y.data<T>());
}

void lrn_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  LOWBIT_NODE_REQUIRE(ctx.node.attr_i("size", 0) >= 1, infer_ctx_for(ctx), "attribute 'size' must be >= 1");
  if (x.type() == ElemType::f32) lrn_typed<float>(ctx, x, *ctx.out[0]);
  else lrn_typed<double>(ctx, x, *ctx.out[0]);
}

// y = (x - mean) / (sqrt(var) + 1e-9) with mean and variance over `axes` (default N, H, W),
// as the ONNX function body defines it.
template <typename T>
void mvn_typed(const InferCtx& ctx, const Array& x, Array& y) {
  const auto rank = static_cast<int64_t>(x.shape().size());
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.node.attr_ints("axes", {0, 2, 3})) reduced[static_cast<size_t>(normalize_axis(a, rank, ctx))] = true;
  // Group elements by their position on the kept axes.
  const Shape st = contiguous_strides(x.shape());
  std::vector<int64_t> group(static_cast<size_t>(x.numel()));
  int64_t groups = 1;
  Shape kept_st(static_cast<size_t>(rank), 0);
  for (int64_t d = rank; d-- > 0;)
    if (!reduced[static_cast<size_t>(d)]) kept_st[static_cast<size_t>(d)] = groups, groups *= x.shape()[static_cast<size_t>(d)];
  for (int64_t e = 0; e < x.numel(); ++e) {
    int64_t g = 0;
    for (int64_t d = 0; d < rank; ++d) g += (e / st[static_cast<size_t>(d)]) % x.shape()[static_cast<size_t>(d)] * kept_st[static_cast<size_t>(d)];
    group[static_cast<size_t>(e)] = g;
  }
  std::vector<double> stats(static_cast<size_t>(3 * groups));
  kernels::mean_variance_normalize(x.numel(), x.data<T>(), group.data(), groups, stats.data(), y.data<T>());
}

void mvn_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  const InferCtx ic = infer_ctx_for(ctx);
  if (x.type() == ElemType::f32) mvn_typed<float>(ic, x, *ctx.out[0]);
  else mvn_typed<double>(ic, x, *ctx.out[0]);
}

void group_norm_infer(InferCtx& ctx) {
  require_type(ctx, 0, {ElemType::f32, ElemType::f64});
  for (size_t i : {size_t{1}, size_t{2}})
    LOWBIT_NODE_REQUIRE(ctx.in[i].elem == ctx.in[0].elem, ctx, "input {} must have X's type {}, got {}", i,
                        elem_name(ctx.in[0].elem), elem_name(ctx.in[i].elem));
  LOWBIT_NODE_REQUIRE(ctx.node.find("num_groups") != nullptr, ctx, "attribute 'num_groups' is required");
  const int64_t groups = ctx.node.attr_i("num_groups", 1);
  if (!ctx.shape_known(0)) return ctx.set_out_unknown(0, ctx.in[0].elem);
  const Shape& x = ctx.shape(0);
  LOWBIT_NODE_REQUIRE(x.size() >= 2, ctx, "X must be (N, C, ...), got {}", shape_str(x));
  LOWBIT_NODE_REQUIRE(groups >= 1 && x[1] % groups == 0, ctx, "num_groups={} must divide the {} channels", groups, x[1]);
  for (size_t i : {size_t{1}, size_t{2}})
    if (ctx.shape_known(i))
      LOWBIT_NODE_REQUIRE(ctx.shape(i) == Shape{groups}, ctx, "{} must have shape [{}] (one per group at opset 18), got {}",
                          i == 1 ? "scale" : "bias", groups, shape_str(ctx.shape(i)));
  ctx.set_out(0, ctx.in[0].elem, x);
}

// y = scale[g] · (x − mean_g) / sqrt(var_g + epsilon) + bias[g] over each (sample, group).
template <typename T>
void group_norm_typed(const RunCtx& ctx, const Array& x, Array& y) {
  const int64_t N = x.shape()[0], C = x.shape()[1], G = ctx.node.attr_i("num_groups", 1);
  const int64_t per = N * C == 0 ? 0 : x.numel() / N / G;  // elements of one (sample, group)
  const double eps = ctx.node.attr_f("epsilon", 1e-5);
  kernels::group_norm(N * G, G, per, x.data<T>(), ctx.input(1).data<T>(), ctx.input(2).data<T>(), eps, y.data<T>());
}

void group_norm_run(RunCtx& ctx) {
  const Array& x = ctx.input(0);
  if (x.type() == ElemType::f32) group_norm_typed<float>(ctx, x, *ctx.out[0]);
  else group_norm_typed<double>(ctx, x, *ctx.out[0]);
}

}  // namespace

void add_norm_extra_ops(OpList& ops) {
  ops.push_back(OpDef{"", "LRN", 1, {"size", "alpha", "beta", "bias"}, same_float_infer, lrn_run});
  ops.push_back(OpDef{"", "MeanVarianceNormalization", 9, {"axes"}, same_float_infer, mvn_run});
  ops.push_back(OpDef{"", "GroupNormalization", 18, {"epsilon", "num_groups"}, group_norm_infer, group_norm_run});
}

}  // namespace lowbit::onnx
